"""The processes executor: evidence units on a pool of single-threaded worker processes on this
machine (``--executor processes --workers N``).

Why: torch's intra-op threads meet at a barrier after every kernel, so when another process
takes one of two cores the whole team waits for the preempted thread (6-13x slower here); the
thread policy (:mod:`audit.threads`) then falls back to one thread, i.e. one core. Independent
single-threaded workers need no barrier: the scheduler shares the cores fairly between them and
the other work, and alone they scale better than two intra-op threads on a small model's GEMMs.
Each worker loads the weights once (memory: one model per worker) and computes whole tasks
(:mod:`audit.units`) exactly as a Ray worker does (:class:`audit.ray_executor.ModelWorker`, one
thread); the driver alone writes the cache and the ledger. One thread per worker also makes the
evidence independent of the worker count (the same float reductions as ``--threads 1``).

Timing tasks (ops named ``*.timing``: tokens/s of deployment variants) run after every other
task, alone, so no other unit competes with the clock.
"""

from __future__ import annotations

import multiprocessing
from concurrent.futures import FIRST_COMPLETED, ProcessPoolExecutor, wait
from concurrent.futures.process import BrokenProcessPool
from typing import Iterator

from audit.executors import UnitFailed

_WORKER = None  # the worker process's ModelWorker


def _start(name: str, dtype: str, device: str, allow_download: bool) -> None:
    global _WORKER
    import os

    os.environ["OMP_NUM_THREADS"] = "1"
    from audit.quiet import quiet_libraries
    from audit.ray_executor import ModelWorker

    quiet_libraries()
    _WORKER = ModelWorker(name, dtype, device, allow_download, threads=1)


def _compute(task, lc, options: dict, cache_root: str, cache_enabled: bool, fault: dict | None):
    return _WORKER.compute(task, lc, options, cache_root, cache_enabled, fault)


def rounds(tasks: list) -> list[list]:
    """The order tasks are sent in: every untimed task at once, then each timing task (an op
    named ``*.timing``, measuring wall-clock speed) alone."""
    untimed = [t for t in tasks if not t.op.endswith(".timing")]
    return ([untimed] if untimed else []) + [[t] for t in tasks if t.op.endswith(".timing")]


class ProcessExecutor:
    name = "processes"

    def __init__(self, workers: int | None = None, fault: dict | None = None):
        from audit.threads import available_cores

        if workers is not None and workers < 1:
            raise UnitFailed(f"--workers {workers}: expected at least 1 worker process")
        self.workers = workers or available_cores()
        self.fault = fault  # test hook: a worker process dies mid-unit (audit.ray_executor._inject)
        self._pools: dict[tuple, ProcessPoolExecutor] = {}

    def _pool(self, key: tuple) -> ProcessPoolExecutor:
        """The model's pool, started on first use (one model's pool at a time: memory)."""
        if key not in self._pools:
            self.close()
            self._pools[key] = ProcessPoolExecutor(self.workers, mp_context=multiprocessing.get_context("spawn"),
                                                   initializer=_start, initargs=key)
        return self._pools[key]

    def compute(self, ctx, tasks: list) -> Iterator[tuple]:
        """The untimed tasks spread over the workers, then each timing task alone; ``(task,
        value)`` as each finishes."""
        if not tasks:
            return
        o = ctx.options
        key = (o.model or ctx.lc.claim.model, ctx.loaded.dtype, ctx.loaded.device, o.allow_download)
        options = {"model": o.model, "dtype": o.dtype, "device": o.device, "allow_download": o.allow_download,
                   "batch_size": o.batch_size, "trace_budget_mb": o.trace_budget_mb}
        args = (ctx.lc, options, str(o.evidence_cache.root), o.evidence_cache.enabled, self.fault)
        pool = self._pool(key)
        for batch in rounds(tasks):
            pending = {pool.submit(_compute, t, *args): t for t in batch}
            try:
                while pending:
                    done, _ = wait(pending, return_when=FIRST_COMPLETED)
                    for future in done:
                        task = pending.pop(future)
                        value, returned = self._result(key, future, task)
                        o.evidence_cache.absorb(returned)
                        yield task, value
            finally:
                for future in pending:
                    future.cancel()

    def _result(self, key: tuple, future, task):
        try:
            return future.result()
        except BrokenProcessPool as exc:
            self._pools.pop(key).shutdown(wait=False, cancel_futures=True)
            raise UnitFailed(f"evidence unit ({task.label or task.op}): a worker process died "
                             f"({exc or 'killed'}); nothing of it was cached, finished units are: run again to resume") from None

    def describe(self) -> dict:
        return {"executor": "processes", "workers": self.workers, "threads_per_worker": 1}

    def close(self) -> None:
        for pool in self._pools.values():
            pool.shutdown(wait=True, cancel_futures=True)
        self._pools.clear()
