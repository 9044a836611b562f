"""A sweep: every component of an intervention on every batch, metrics per prompt."""

from __future__ import annotations

from typing import Callable, Iterator

from audit.metrics import all_metrics
from interventions.engine import EncodedBatch, replay, trace_base


def sweep_batches(model, adapter, spec, batches: list[EncodedBatch], layers: list[int],
                  progress: Callable[[int], None] = lambda n: None) -> Iterator[dict[str, dict]]:
    """Per batch, ``{prompt_id: {"metrics": {metric: [value per layer]}, "base": {...}}}``.

    Yielded batch by batch so the caller can persist each finished unit (resume after a kill).
    """
    for batch in batches:
        trace = trace_base(model, adapter, batch)
        top = trace.logprobs.argmax(-1)
        out: dict[str, dict] = {}
        for row, pid in enumerate(batch.prompt_ids):
            t = int(batch.target_ids[row])
            out[pid] = {"metrics": {}, "base": {"target_nll": -float(trace.logprobs[row, t]),
                                                "top1_is_target": int(top[row]) == t}}
        progress(1)
        for layer in layers:
            ablated = replay(model, adapter, trace, layer, spec.hooks(adapter, model, layer))
            for name, values in all_metrics(trace.logprobs, ablated, batch.target_ids).items():
                for pid, v in zip(batch.prompt_ids, values):
                    out[pid]["metrics"].setdefault(name, []).append(v)
            progress(1)
        yield out


def run_layer_sweep(model, adapter, spec, batches: list[EncodedBatch], layers: list[int],
                    progress: Callable[[int], None] = lambda n: None) -> dict:
    """All batches at once: ``{"metrics": {metric: {prompt_id: [per layer]}}, "base": {prompt_id: ...}}``."""
    per_metric: dict[str, dict[str, list[float]]] = {}
    base: dict[str, dict] = {}
    for done in sweep_batches(model, adapter, spec, batches, layers, progress):
        for pid, unit in done.items():
            base[pid] = unit["base"]
            for name, values in unit["metrics"].items():
                per_metric.setdefault(name, {})[pid] = values
    return {"metrics": per_metric, "base": base}
