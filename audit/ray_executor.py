"""The Ray executor: sweep units as Ray tasks on one actor per model (optional extra ``mi-audit[ray]``).

Each batch of missing prompt units becomes one task on the actor that holds the model (keyed by
model, precision mode and device), with declared resources (``num_cpus``, ``num_gpus``,
``memory``). Workers only compute and return; the driver writes cache and ledger. A worker that
dies mid-unit is restarted and the unit retried up to ``max_retries`` times (Ray's actor
restarts and task retries); after that the unit's error ends the claim *errored*.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Iterator

from audit.executors import UnitFailed


class ModelWorker:
    """Holds one model (loaded once per worker) and computes sweep units on it."""

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
                 memory_mb: int | None = None, max_retries: int = 2, fault: dict | None = None):
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
        self._actor_class = ray.remote(ModelWorker)
        self._workers: dict[tuple, object] = {}

    def _worker(self, key: tuple):
        if key not in self._workers:
            self._workers[key] = self._actor_class.options(
                max_restarts=self.max_retries, max_task_retries=self.max_retries, **self.resources,
            ).remote(*key, self.threads)
        return self._workers[key]

    def layer_sweep(self, ctx, spec, batches: list, layers: list[int], reuse_prefix: bool) -> Iterator[dict]:
        if not batches:
            return
        key = (ctx.options.model or ctx.lc.claim.model, ctx.loaded.dtype, ctx.loaded.device,
               ctx.options.allow_download)
        worker = self._worker(key)
        spec_json = spec.model_dump(mode="json")
        pending = {worker.layer_sweep.remote(spec_json, b, layers, reuse_prefix, self.fault): i
                   for i, b in enumerate(batches)}
        try:
            while pending:
                (ref,), _ = self.ray.wait(list(pending), num_returns=1)
                i = pending.pop(ref)
                try:
                    out = self.ray.get(ref)
                except self.ray.exceptions.RayError as exc:
                    self._workers.pop(key, None)  # a dead worker is not reused by later claims
                    ids = batches[i].prompt_ids
                    raise UnitFailed(f"evidence unit (batch of {len(ids)} prompts: {', '.join(ids[:3])}"
                                     f"{', ...' if len(ids) > 3 else ''}) failed after {self.max_retries} "
                                     f"retries on Ray: {type(exc).__name__}: {str(exc).splitlines()[0]}") from None
                ctx.progress.advance(len(layers) + 1)
                yield out
        finally:
            for ref in pending:
                self.ray.cancel(ref)

    def worker_stats(self) -> list[dict]:
        return [self.ray.get(w.stats.remote()) for w in self._workers.values()]

    def describe(self) -> dict:
        return {"executor": "ray", "address": self.address, "resources": self.resources,
                "max_retries": self.max_retries}

    def close(self) -> None:
        for w in self._workers.values():
            self.ray.kill(w)
        self._workers.clear()
