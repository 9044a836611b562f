"""The Ray executor: evidence units as Ray tasks on model workers (optional extra ``mi-audit[ray]``).

Units: the tasks of any claim's plan (:mod:`audit.units`; the builder runs on the driver and
sends the tasks whose units are missing). Tasks go to a pool of
``workers_per_model`` actors per model (keyed by model, precision mode, device), so weights load
once per worker; each actor declares its resources (``num_cpus``, ``num_gpus``, ``memory``).
Workers only compute and return; the driver writes cache and ledger. A worker that dies mid-unit
is restarted and the unit retried up to ``max_retries`` times (Ray's actor restarts and task
retries); after that the unit's error ends the claim *errored*.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Iterator

from audit.executors import UnitFailed


class ModelWorker:
    """Holds one model (loaded once per worker) and computes evidence units on it."""

    def __init__(self, name: str, dtype: str, device: str, allow_download: bool, threads: int):
        import torch

        from audit.models import load_model
        from interventions.architectures import adapter_for

        torch.set_num_threads(threads)  # as in the driver: identical float reductions, identical evidence
        self.loaded = load_model(name, dtype, allow_download, device)
        self.adapter = adapter_for(self.loaded.config)
        self.units = 0
        self._claim, self.memo = None, {}

    def compute(self, task, lc, options: dict, cache_root: str, cache_enabled: bool, fault: dict | None = None):
        """One task of a claim's plan on this worker's model; returns its value with what the
        driver must write to its cache (units, trained adapter files)."""
        from audit.evidence import RunContext
        from audit.executors import LocalExecutor
        from audit.options import Progress, RunOptions
        from audit.units import compute
        from audit.worker_cache import WorkerCache

        _inject(fault)
        if self._claim != (lc.path, lc.claim.id):  # the memo holds one claim's intermediates
            self._claim, self.memo = (lc.path, lc.claim.id), {}
        cache = WorkerCache(cache_root, cache_enabled)
        opts = RunOptions(**options, evidence_cache=cache, executor=LocalExecutor())
        n_layers = self.adapter.n_layers(self.loaded.config)
        ctx = RunContext(lc, self.loaded, self.adapter, n_layers, opts, Progress(), memo=self.memo)
        try:
            value = compute(ctx, task)
        except BaseException:
            cache.drain()  # nothing half-computed goes back; the scratch directory is removed
            raise
        self.units += 1
        return value, cache.drain()

    def stats(self) -> dict:
        return {"pid": os.getpid(), "units": self.units}


def _inject(fault: dict | None) -> None:
    """Test hook: kill this worker process mid-unit, once (a marker file remembers) or always."""
    if not fault:
        return
    marker = Path(fault["marker"])
    if fault["mode"] == "always" or not marker.exists():
        marker.touch()
        os._exit(1)


class RayExecutor:
    name = "ray"

    def __init__(self, address: str | None = None, num_cpus: float = 1, num_gpus: float = 0,
                 memory_mb: int | None = None, max_retries: int = 2, workers_per_model: int = 1,
                 fault: dict | None = None):
        try:
            import ray
        except ImportError:
            raise UnitFailed("--executor ray needs Ray: pip install 'mi-audit[ray]'") from None
        import torch

        self.ray = ray
        if not ray.is_initialized():
            ray.init(address=address, include_dashboard=False, log_to_driver=False, configure_logging=False)
        self.address = address or "local"
        self.resources = {"num_cpus": num_cpus, "num_gpus": num_gpus,
                          **({"memory": memory_mb * 2**20} if memory_mb else {})}
        self.max_retries, self.fault, self.threads = max_retries, fault, torch.get_num_threads()
        self.workers_per_model = workers_per_model
        self._actor_class = ray.remote(ModelWorker)
        self._pools: dict[tuple, list] = {}
        self._turn = 0

    @staticmethod
    def _key(ctx) -> tuple:
        return (ctx.options.model or ctx.lc.claim.model, ctx.loaded.dtype, ctx.loaded.device,
                ctx.options.allow_download)

    def _pool(self, key: tuple) -> list:
        """The model's workers, started on first use. Pools of other models are kept for later
        claims while the cluster has room; when it has not, the least recently used are stopped
        first (otherwise the new workers would wait forever for CPUs held by idle ones)."""
        if key in self._pools:
            self._pools[key] = self._pools.pop(key)  # most recently used last
            return self._pools[key]
        needed = self.resources["num_cpus"] * self.workers_per_model
        while self._pools and self.ray.available_resources().get("CPU", 0.0) < needed:
            for w in self._pools.pop(next(iter(self._pools))):
                self.ray.kill(w)
            self._wait_for_cpus(needed)
        self._pools[key] = [self._actor_class.options(
            max_restarts=self.max_retries, max_task_retries=self.max_retries, **self.resources,
        ).remote(*key, self.threads) for _ in range(self.workers_per_model)]
        return self._pools[key]

    def _wait_for_cpus(self, needed: float, timeout_s: float = 10.0) -> None:
        """Killed actors release their CPUs a moment later: wait (bounded) until they have."""
        import time

        deadline = time.monotonic() + timeout_s
        while self.ray.available_resources().get("CPU", 0.0) < needed and time.monotonic() < deadline:
            time.sleep(0.05)

    def _next(self, key: tuple):
        pool = self._pool(key)
        self._turn += 1
        return pool[self._turn % len(pool)]

    def _get(self, key: tuple, ref, what: str):
        """The unit's result; a unit that failed after the retries ends the claim errored."""
        try:
            return self.ray.get(ref)
        except self.ray.exceptions.RayError as exc:
            self._pools.pop(key, None)  # dead workers are not reused by later claims
            raise UnitFailed(f"evidence unit ({what}) failed after {self.max_retries} retries on Ray: "
                             f"{type(exc).__name__}: {str(exc).splitlines()[0]}") from None

    def compute(self, ctx, tasks: list) -> Iterator[tuple]:
        """Every task sent at once to the model's workers; ``(task, value)`` as each finishes."""
        if not tasks:
            return
        o, key = ctx.options, self._key(ctx)
        options = {"model": o.model, "dtype": o.dtype, "device": o.device, "allow_download": o.allow_download,
                   "batch_size": o.batch_size, "trace_budget_mb": o.trace_budget_mb}
        root, enabled = str(o.evidence_cache.root), o.evidence_cache.enabled
        pending = {self._next(key).compute.remote(t, ctx.lc, options, root, enabled, self.fault): t for t in tasks}
        try:
            while pending:
                (ref,), _ = self.ray.wait(list(pending), num_returns=1)
                task = pending.pop(ref)
                value, returned = self._get(key, ref, task.label or task.op)
                o.evidence_cache.absorb(returned)
                yield task, value
        finally:
            for ref in pending:
                self.ray.cancel(ref)

    def worker_stats(self) -> list[dict]:
        return [self.ray.get(w.stats.remote()) for pool in self._pools.values() for w in pool]

    def describe(self) -> dict:
        return {"executor": "ray", "address": self.address, "resources": self.resources,
                "workers_per_model": self.workers_per_model, "max_retries": self.max_retries}

    def close(self) -> None:
        for pool in self._pools.values():
            for w in pool:
                self.ray.kill(w)
        self._pools.clear()
