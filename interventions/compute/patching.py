"""Ops of ``patching``: one batch of counterfactual pairs, each component patched in turn."""

from __future__ import annotations

from audit.unit_ops import unit_op


@unit_op("patching.batch")
def patch_batch(ctx, spec, comps, clean, corrupt, keys: list[str]) -> dict:
    """``{key: {"clean": LD, "corrupt": LD, "patched": [LD per component]}}`` for the pairs of the
    ``clean`` batch and its ``corrupt`` batch (same prompt order and lengths, so same padding and
    aligned positions). LD: the logit difference clean answer - corrupt answer."""
    import torch

    from interventions.ablation import capture_hooks
    from interventions.engine import full_forward, replay, trace_base

    model, ablation = ctx.loaded.model, spec.as_ablation()
    source, target = (clean, corrupt) if spec.direction == "denoise" else (corrupt, clean)
    store: dict = {}
    # one pass over the source run gives both its activations and its logit difference
    source_lp = full_forward(model, source, capture_hooks(ctx.adapter, model, comps, store))
    rows = torch.arange(len(clean.prompt_ids))
    ld = lambda lp: (lp.cpu()[rows, clean.target_ids] - lp.cpu()[rows, corrupt.target_ids]).tolist()  # noqa: E731
    trace = trace_base(model, ctx.adapter, target)
    source_ld, target_ld = ld(source_lp), ld(trace.logprobs)
    clean_ld, corrupt_ld = (source_ld, target_ld) if spec.direction == "denoise" else (target_ld, source_ld)
    patched = []
    for comp in comps:
        hooks = ablation.hooks(ctx.adapter, model, comp, target.attention_mask, store[comp.label])
        patched.append(ld(replay(model, ctx.adapter, trace, comp.layer, hooks)))
    return {key: {"clean": clean_ld[row], "corrupt": corrupt_ld[row], "patched": [p[row] for p in patched]}
            for row, key in enumerate(keys)}
