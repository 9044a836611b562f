"""The ops of the quantization kinds' random-vector control (controls/weight_noise.py): draws of
same-norm random weight noise on the float32 model, and per draw the KL to the reference per prompt
(``quantization``) or the claim's layer sweep re-run on the noised model (``quantization_drift``)."""

from __future__ import annotations

from audit.unit_ops import unit_op
from interventions.compute.deployment import _held


def _memo(ctx, key, make):
    if key not in ctx.memo:
        ctx.memo[key] = make()
    return ctx.memo[key]


def mode_error_rows(ctx, mode: str) -> tuple[dict, float]:
    """``mode``'s error row norms against the float32 model (controls.weight_noise.error_rows, once
    per process) and their total norm ||E||."""
    from controls.weight_noise import error_rows

    norms = _memo(ctx, ("quantization.error_rows", mode),
                  lambda: error_rows(_held(ctx, "float32"), _held(ctx, mode), ctx.adapter))
    return norms, float(sum(float((r ** 2).sum()) for r in norms.values()) ** 0.5)


@unit_op("quantization.weight_noise")
def weight_noise(ctx, mode: str, pairs: dict, draws: list[int], label: str, keys: list[str]) -> dict:
    """``{key: {"kl": {pid: KL}, "error_norm": ||E||}}`` for each draw of ``mode``'s null (the
    reference is float32: the model the noise is added to)."""
    from controls.weight_noise import null_kl
    from interventions.generation import score

    model, tok, bs = _held(ctx, "float32"), ctx.loaded.tokenizer, ctx.options.batch_size
    norms, total = mode_error_rows(ctx, mode)
    ids = sorted(pairs)
    first = _memo(ctx, ("quantization.reference_first", tuple(ids)), lambda: {
        i: s.first_logprobs for i, s in zip(ids, score(model, tok, [pairs[i] for i in ids], bs))})
    per_draw = null_kl(model, ctx.adapter, tok, pairs, first, norms, label, draws, bs)
    return {key: {"kl": per_draw[d], "error_norm": total} for key, d in zip(keys, draws)}


@unit_op("quantization_drift.weight_noise")
def drift_weight_noise(ctx, mode: str, spec, batches: list, layers: list[int], reuse_prefix: bool, draws: list[int],
                       label: str, keys: list[str]) -> dict:
    """``{key: {"metrics": {pid: {metric: [per layer]}}, "error_norm": ||E||}}``: per draw of ``mode``'s
    null, the layer sweep ``spec`` (interventions/sweep.py) on the noised float32 model."""
    from audit.inference import rounded
    from controls.weight_noise import noised
    from interventions.sweep import sweep_batches

    model = _held(ctx, "float32")
    norms, total = mode_error_rows(ctx, mode)
    out = {}
    for key, d in zip(keys, draws):
        with noised(model, ctx.adapter, norms, label, d):
            units = [u for b in sweep_batches(model, ctx.adapter, spec, batches, layers, reuse_prefix=reuse_prefix)
                     for u in b.items()]
        out[key] = {"metrics": {pid: {m: rounded(v) for m, v in u["metrics"].items()} for pid, u in units},
                    "error_norm": total}
    return out
