"""Ops of ``layer_ablation``: one batch of prompts through the layer sweep."""

from __future__ import annotations

from audit.unit_ops import unit_op


@unit_op("layer_ablation.batch")
def sweep_batch(ctx, spec, batch, layers: list[int], reuse_prefix: bool, keys: list[str]) -> dict:
    """``{key: {"metrics": {metric: [per layer]}, "base": {...}}}`` for the batch's prompts
    (``keys`` aligned with ``batch.prompt_ids``)."""
    from interventions.sweep import sweep_batches

    (out,) = sweep_batches(ctx.loaded.model, ctx.adapter, spec, [batch], layers, reuse_prefix=reuse_prefix)
    return {key: out[pid] for key, pid in zip(keys, batch.prompt_ids)}


@unit_op("layer_ablation.random_vector")
def random_vector(ctx, spec, batch, layer: int, seed: int, n: int, reuse_prefix: bool, keys: list[str]) -> dict:
    """``{key: {"metrics": {metric: [per draw]}}}``: the claimed layer's ablation replaced by ``n``
    same-norm perturbations in the directions ``controls.random_vector.random_directions(seed,
    layer, n, hidden)`` (the random-vector null of a layer sweep; ``keys`` aligned with
    ``batch.prompt_ids``)."""
    from controls.random_vector import random_directions
    from interventions.sweep import null_batch

    config = getattr(ctx.loaded.config, "text_config", ctx.loaded.config)
    directions = random_directions(seed, layer, n, int(config.hidden_size))
    out = null_batch(ctx.loaded.model, ctx.adapter, spec, batch, layer, directions, reuse_prefix=reuse_prefix)
    return {key: out[pid] for key, pid in zip(keys, batch.prompt_ids)}


@unit_op("layer_ablation.repaired")
def repaired(ctx, spec, batch, layer: int, candidates: dict, reuse_prefix: bool, keys: list[str]) -> dict:
    """``{key: [NLL increase of each candidate token]}``: the claimed layer ablated, scored on other
    prompts' answers (``candidates``: prompt id -> first tokens; the shuffled-label control of a
    layer sweep, controls/repaired_answers.py)."""
    from audit.metrics import nll_increase_at
    from interventions.sweep import base_trace, rerun

    model = ctx.loaded.model
    trace = base_trace(model, ctx.adapter, spec, batch, reuse_prefix)
    ablated = rerun(model, batch, trace, layer, spec.hooks(ctx.adapter, model, layer), reuse_prefix, ctx.adapter)
    values = nll_increase_at(trace.logprobs, ablated, [candidates[pid] for pid in batch.prompt_ids])
    return dict(zip(keys, values))


@unit_op("layer_ablation.dtype_deviation")
def dtype_deviation(ctx, batches: list) -> list[float]:
    """KL(float32 || run dtype) of the base next-token distribution per prompt of ``batches``."""
    from audit.metrics import kl_divergence
    from audit.models import load_model
    from interventions.engine import trace_base

    reference = ctx.memo.get("float32 reference")
    if reference is None:
        reference = ctx.memo["float32 reference"] = load_model(
            ctx.options.model or ctx.lc.claim.model, "float32", ctx.options.allow_download, ctx.loaded.device)
    kls = []
    for batch in batches:
        ref = trace_base(reference.model, ctx.adapter, batch).logprobs
        low = trace_base(ctx.loaded.model, ctx.adapter, batch).logprobs
        kls.extend(float(v) for v in kl_divergence(ref, low))
    return kls
