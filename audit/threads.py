"""How many intra-op threads torch gets: the cores this process may use, minus those other
processes keep busy.

torch's default (one thread per core it sees) oversubscribes a shared machine: on two cores with
a CPU-bound neighbour, two spinning torch threads ran 6-13x slower than one. The policy:

- ``--threads N`` (or ``MI_AUDIT_THREADS=N``) wins;
- else the cores in this process's affinity mask (``os.sched_getaffinity``; containers and
  ``taskset`` restrict it), minus the cores other work keeps busy right now (those cores' CPU
  use over a short window, by psutil, sampled before this run computes anything; the 1-minute
  load average where that cannot be read), at least 1.

Numbers can differ across thread counts by float summation order (~1e-6 relative), far inside
every criterion's margins; the count used is recorded in each record's provenance
(``machine.torch_threads``). For bit-identical reruns fix it: ``--threads N``.
"""

from __future__ import annotations

import os

ENV = "MI_AUDIT_THREADS"


def available_cores() -> int:
    try:
        return max(1, len(os.sched_getaffinity(0)))
    except (AttributeError, OSError):  # not Linux
        return max(1, os.cpu_count() or 1)


def other_load(window_s: float = 0.3) -> float:
    """How many of this process's cores other work keeps busy now: the summed CPU use of the cores
    in the affinity mask over ``window_s`` (psutil; taken before this run computes, so it is other
    work), or the 1-minute load average where per-core use cannot be read."""
    try:
        import psutil

        per_core = psutil.cpu_percent(interval=window_s, percpu=True)
        mine = os.sched_getaffinity(0) if hasattr(os, "sched_getaffinity") else range(len(per_core))
        return sum(per_core[i] for i in mine if i < len(per_core)) / 100.0
    except (ImportError, OSError, AttributeError):
        try:
            return os.getloadavg()[0]
        except (AttributeError, OSError):
            return 0.0


def choose(requested: int | None = None, *, cores: int | None = None, load: float | None = None) -> tuple[int, str]:
    """(threads, why): the count to use and a phrase saying how it was chosen."""
    if requested is None and os.environ.get(ENV):
        raw = os.environ[ENV]
        if not raw.isdigit() or int(raw) < 1:
            raise ValueError(f"{ENV}={raw!r}: expected a positive whole number of threads")
        requested = int(raw)
    cores = available_cores() if cores is None else cores
    if requested is not None:
        return requested, f"requested ({requested} of {cores} cores)"
    if load is None:
        load = other_load()
    busy = int(max(0.0, load) + 0.5)  # busy cores right now, rounded
    n = max(1, min(cores, cores - busy))  # measured before this run starts: the load is other work
    why = f"{cores} core(s) available" + (f", load {load:.1f} from other work" if busy else "")
    return n, why


def apply(requested: int | None = None) -> tuple[int, str]:
    """Set torch's intra-op threads by :func:`choose`; the count and why."""
    import torch

    n, why = choose(requested)
    torch.set_num_threads(n)
    return n, why
