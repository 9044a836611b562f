"""A sweep: every component of an intervention on every batch, metrics per prompt."""

from __future__ import annotations

from typing import Callable, Iterator

from audit.metrics import all_metrics
from interventions.engine import BaseTrace, EncodedBatch, full_forward, replay, trace_base, trace_shared


def trace_bytes(n_layers: int, hidden: int, n_tokens: int, bytes_per_value: int) -> int:
    """Memory the recorded layer inputs of ``n_tokens`` (batch x width) take."""
    return n_layers * hidden * n_tokens * bytes_per_value


def sweep_batches(model, adapter, spec, batches: list[EncodedBatch], layers: list[int],
                  progress: Callable[[int], None] = lambda n: None,
                  reuse_prefix: bool = True) -> Iterator[dict[str, dict]]:
    """Per batch, ``{prompt_id: {"metrics": {metric: [value per layer]}, "base": {...}}}``.

    Yielded batch by batch so the caller can persist each finished unit (resume after a kill).
    With ``reuse_prefix=False`` (traces over the memory budget) every ablation recomputes the
    whole forward pass instead of replaying from recorded layer inputs. A spec whose hooks act on
    every token alike (``tokenwise``) also shares the rows' common prefix (a chat template's
    header): run once per ablation as a batch of one, not once per row.
    """
    for batch in batches:
        trace = base_trace(model, adapter, spec, batch, reuse_prefix)
        top = trace.logprobs.argmax(-1)
        out: dict[str, dict] = {}
        for row, pid in enumerate(batch.prompt_ids):
            t = int(batch.target_ids[row])
            out[pid] = {"metrics": {}, "base": {"target_nll": -float(trace.logprobs[row, t]),
                                                "top1_is_target": int(top[row]) == t}}
        progress(1)
        for layer in layers:
            _add_metrics(out, batch, trace, rerun(model, batch, trace, layer, spec.hooks(adapter, model, layer),
                                                  reuse_prefix, adapter))
            progress(1)
        yield out


def base_trace(model, adapter, spec, batch: EncodedBatch, reuse_prefix: bool) -> BaseTrace:
    """The unablated pass of ``batch``: recorded layer inputs (the rows' shared prefix apart when
    ``spec`` is ``tokenwise``), or only the log-probs when nothing is replayed."""
    if not reuse_prefix:
        return BaseTrace(layer_inputs=[], logprobs=full_forward(model, batch, []))
    return (getattr(spec, "tokenwise", False) and trace_shared(model, adapter, batch)) or trace_base(model, adapter, batch)


def rerun(model, batch: EncodedBatch, trace: BaseTrace, start: int, hooks: list, reuse_prefix: bool, adapter):
    """Answer log-probs with ``hooks`` (on layer ``start`` or later): replayed from the trace, or a full pass."""
    return replay(model, adapter, trace, start, hooks) if reuse_prefix else full_forward(model, batch, hooks)


def _add_metrics(out: dict, batch: EncodedBatch, trace: BaseTrace, logprobs) -> None:
    for name, values in all_metrics(trace.logprobs, logprobs, batch.target_ids).items():
        for pid, v in zip(batch.prompt_ids, values):
            out[pid]["metrics"].setdefault(name, []).append(v)


def null_batch(model, adapter, spec, batch: EncodedBatch, layer: int, directions, reuse_prefix: bool = True) -> dict:
    """``{prompt_id: {"metrics": {metric: [value per direction]}}}``: the random-vector null of
    ablating ``layer`` (``spec.null_hooks``, one run per row of ``directions``, [n, hidden])."""
    trace = base_trace(model, adapter, spec, batch, reuse_prefix)
    out: dict[str, dict] = {pid: {"metrics": {}} for pid in batch.prompt_ids}
    for u in directions:
        _add_metrics(out, batch, trace, rerun(model, batch, trace, layer, spec.null_hooks(adapter, model, layer, u),
                                              reuse_prefix, adapter))
    return out
