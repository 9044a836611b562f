"""The Ray executor: evidence units as Ray tasks on model workers (optional extra ``mi-audit[ray]``).

Units: each batch of missing prompt units of a layer sweep (the unit-aware builders), and every
other claim's evidence as one unit (its builder run whole on a worker). Units go to a pool of
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

    def layer_sweep(self, spec_json: dict, batch, layers: list[int], reuse_prefix: bool, fault: dict | None = None):
        from interventions import INTERVENTIONS
        from interventions.sweep import sweep_batches

        _inject(fault)
        spec = INTERVENTIONS.get(spec_json["kind"]).model_validate(spec_json)
        (out,) = sweep_batches(self.loaded.model, self.adapter, spec, [batch], layers, reuse_prefix=reuse_prefix)
        self.units += len(out)
        return out

    def evidence(self, lc, options: dict, cache_root: str, cache_enabled: bool, fault: dict | None = None):
        """One claim's evidence, built here; returns it with what the driver must write to its cache."""
        from audit.evidence import RunContext
        from audit.executors import LocalExecutor
        from audit.options import Progress, RunOptions
        from audit.worker_cache import WorkerCache

        _inject(fault)
        cache = WorkerCache(cache_root, cache_enabled)
        opts = RunOptions(**options, evidence_cache=cache, executor=LocalExecutor())
        n_layers = self.adapter.n_layers(self.loaded.config)
        try:
            result = LocalExecutor().evidence(RunContext(lc, self.loaded, self.adapter, n_layers, opts, Progress()))
        except BaseException:
            cache.drain()  # nothing half-computed goes back; the scratch directory is removed
            raise
        self.units += 1
        return result, cache.drain()

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
        if key not in self._pools:
            self._pools[key] = [self._actor_class.options(
                max_restarts=self.max_retries, max_task_retries=self.max_retries, **self.resources,
            ).remote(*key, self.threads) for _ in range(self.workers_per_model)]
        return self._pools[key]

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

    def evidence(self, ctx):
        """Unit-aware builders run here and send their units out; any other claim is one unit."""
        from audit.evidence import UNIT_AWARE
        from audit.executors import LocalExecutor

        kind = ctx.lc.claim.intervention.kind
        if kind in UNIT_AWARE:
            return LocalExecutor().evidence(ctx)
        o, key = ctx.options, self._key(ctx)
        options = {"model": o.model, "dtype": o.dtype, "device": o.device, "allow_download": o.allow_download,
                   "batch_size": o.batch_size, "trace_budget_mb": o.trace_budget_mb,
                   "run_dependency": o.run_dependency}  # pickled by reference: the driver's run_claim
        ctx.progress.start(1, f"{ctx.lc.claim.id}: {kind} evidence on a Ray worker")
        ref = self._next(key).evidence.remote(ctx.lc, options, str(o.evidence_cache.root), o.evidence_cache.enabled,
                                              self.fault)
        result, returned = self._get(key, ref, f"claim {ctx.lc.claim.id}: {kind}")
        o.evidence_cache.absorb(returned)
        ctx.progress.advance(1)
        return result

    def layer_sweep(self, ctx, spec, batches: list, layers: list[int], reuse_prefix: bool) -> Iterator[dict]:
        if not batches:
            return
        key = self._key(ctx)
        spec_json = spec.model_dump(mode="json")
        pending = {self._next(key).layer_sweep.remote(spec_json, b, layers, reuse_prefix, self.fault): i
                   for i, b in enumerate(batches)}
        try:
            while pending:
                (ref,), _ = self.ray.wait(list(pending), num_returns=1)
                ids = batches[pending.pop(ref)].prompt_ids
                out = self._get(key, ref, f"batch of {len(ids)} prompts: {', '.join(ids[:3])}"
                                          f"{', ...' if len(ids) > 3 else ''}")
                ctx.progress.advance(len(layers) + 1)
                yield out
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
