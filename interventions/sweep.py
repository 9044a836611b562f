"""A sweep: every component of an intervention on every batch, metrics per prompt."""

from __future__ import annotations

from typing import Callable

from audit.metrics import all_metrics
from interventions.engine import EncodedBatch, replay, trace_base


def run_layer_sweep(model, adapter, spec, batches: list[EncodedBatch], layers: list[int],
                    progress: Callable[[int], None] = lambda n: None) -> dict:
    """``{"metrics": {metric: {prompt_id: [value per layer]}}, "base": {prompt_id: {...}}}``."""
    per_metric: dict[str, dict[str, list[float]]] = {}
    base_stats: dict[str, dict] = {}
    for batch in batches:
        trace = trace_base(model, adapter, batch)
        top = trace.logprobs.argmax(-1)
        for row, pid in enumerate(batch.prompt_ids):
            t = int(batch.target_ids[row])
            base_stats[pid] = {"target_nll": -float(trace.logprobs[row, t]), "top1_is_target": int(top[row]) == t}
        progress(1)
        for layer in layers:
            ablated = replay(model, adapter, trace, layer, spec.hooks(adapter, model, layer))
            for name, values in all_metrics(trace.logprobs, ablated, batch.target_ids).items():
                for pid, v in zip(batch.prompt_ids, values):
                    per_metric.setdefault(name, {}).setdefault(pid, []).append(v)
            progress(1)
    return {"metrics": per_metric, "base": base_stats}
