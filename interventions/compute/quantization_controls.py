"""The op of the quantization claim's random-vector control (controls/weight_noise.py): draws of
same-norm random weight noise on the float32 model, KL to the reference per prompt."""

from __future__ import annotations

from audit.unit_ops import unit_op
from interventions.compute.deployment import _held


def _memo(ctx, key, make):
    if key not in ctx.memo:
        ctx.memo[key] = make()
    return ctx.memo[key]


@unit_op("quantization.weight_noise")
def weight_noise(ctx, mode: str, pairs: dict, draws: list[int], label: str, keys: list[str]) -> dict:
    """``{key: {"kl": {pid: KL}, "error_norm": ||E||}}`` for each draw of ``mode``'s null (the
    reference is float32: the model the noise is added to)."""
    from controls.weight_noise import error_rows, null_kl
    from interventions.generation import score

    model, tok, bs = _held(ctx, "float32"), ctx.loaded.tokenizer, ctx.options.batch_size
    norms = _memo(ctx, ("quantization.error_rows", mode), lambda: error_rows(model, _held(ctx, mode), ctx.adapter))
    ids = sorted(pairs)
    first = _memo(ctx, ("quantization.reference_first", tuple(ids)), lambda: {
        i: s.first_logprobs for i, s in zip(ids, score(model, tok, [pairs[i] for i in ids], bs))})
    total = float(sum(float((r ** 2).sum()) for r in norms.values()) ** 0.5)
    per_draw = null_kl(model, ctx.adapter, tok, pairs, first, norms, label, draws, bs)
    return {key: {"kl": per_draw[d], "error_norm": total} for key, d in zip(keys, draws)}
