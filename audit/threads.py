"""How many intra-op threads torch gets: the cores this process may use, minus those other
processes keep busy.

torch's default (one thread per core it sees) oversubscribes a shared machine: on two cores with
a CPU-bound neighbour, two spinning torch threads ran 6-13x slower than one. The policy:

- ``--threads N`` (or ``MI_AUDIT_THREADS=N``) wins;
- else the cores in this process's affinity mask (``os.sched_getaffinity``; containers and
  ``taskset`` restrict it), minus the runnable load of other processes (the 1-minute load
  average, which counts them), at least 1.

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
        try:
            load = os.getloadavg()[0]
        except (AttributeError, OSError):
            load = 0.0
    busy = int(max(0.0, load) + 0.5)  # runnable processes right now, rounded
    n = max(1, min(cores, cores - busy))  # measured before this run starts: the load is other work
    why = f"{cores} core(s) available" + (f", load {load:.1f} from other work" if busy else "")
    return n, why


def apply(requested: int | None = None) -> tuple[int, str]:
    """Set torch's intra-op threads by :func:`choose`; the count and why."""
    import torch

    n, why = choose(requested)
    torch.set_num_threads(n)
    return n, why
