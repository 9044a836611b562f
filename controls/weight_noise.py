"""The random-vector control of a quantization claim: the quantization error against random weight
noise of the same norm.

For each quantized mode and every linear weight matrix W of the decoder layers, the error is
``E = dequantized(quantized W) - W`` in float32 (bfloat16/float16: ``W.to(dtype).float() - W``, read
from the loaded mode; bitsandbytes int8: ``CB * SCB[:, None] / 127``; NF4: ``dequantize_4bit``). The
null model is the float32 model with ``W + N``, each row of N a seeded Gaussian direction rescaled
to that row's ``||E_row||``; its KL to the reference at the answer position, on the same prompts as
the mode's own KL, is one null draw (draw i of matrix k: ``derived_seed("random_vector", "weights",
<label>, i, k)``). Does the quantization's error hurt more, or less, than noise of its size?

Confounds (``CONFOUND``, stated in the report): the null perturbs the decoder's linear weights only,
in float32; the quantized modes also round activations and (bf16/fp16) the embeddings, norms and
unembedding. A mode with zero error has a null equal to the reference (KL 0): degenerate, never a
finding. The weights are noised in place, one draw at a time, and restored bit for bit.
"""

from __future__ import annotations

from contextlib import contextmanager

from controls.random_vector import derived_seed

NAME = "random_vector"
CONFOUND = ("the null perturbs the decoder layers' linear weights only, in float32; the quantized modes also round "
            "activations (bf16/fp16 compute, NF4's bf16 compute dtype), run int8's outlier columns in fp16, and "
            "(bf16/fp16) round the embeddings, norms and unembedding, which the null leaves exact")


def decoder_linears(model, adapter) -> dict:
    """``{"<layer>.<module path>": linear module}`` of every decoder layer (bitsandbytes' linear
    layers are ``nn.Linear`` subclasses)."""
    import torch

    return {f"{i}.{name}": m for i, layer in enumerate(adapter.layers(model))
            for name, m in layer.named_modules() if isinstance(m, torch.nn.Linear)}


def dequantized(module):
    """The float32 ``[out, in]`` weights a linear layer computes with."""
    kind, w = type(module).__name__, module.weight
    if kind == "Linear8bitLt":
        state = getattr(module, "state", None)
        cb = w.CB if getattr(w, "CB", None) is not None else getattr(state, "CB", None)
        scb = w.SCB if getattr(w, "SCB", None) is not None else getattr(state, "SCB", None)
        if cb is None or scb is None:
            raise ValueError("an int8 layer keeps no CB/SCB (bitsandbytes changed?): cannot read its weights")
        return cb.float() * scb.float()[:, None] / 127
    if kind == "Linear4bit":
        import bitsandbytes.functional as F

        return F.dequantize_4bit(w.data, w.quant_state).float()
    return w.detach().float()


def error_rows(reference, quantized, adapter) -> dict:
    """``{matrix: [out] float32}``: the row norms of each decoder matrix's quantization error."""
    import torch

    ref, quant = decoder_linears(reference, adapter), decoder_linears(quantized, adapter)
    if set(ref) != set(quant):
        raise ValueError(f"{NAME}: the quantized model's decoder linears differ from the reference's "
                         f"({sorted(set(ref) ^ set(quant))[:4]})")
    with torch.no_grad():
        return {k: (dequantized(quant[k]) - ref[k].weight.float()).norm(dim=1) for k in sorted(ref)}


def noise_rows(norms, shape, seed: int):
    """``[out, in]`` float32: row i a seeded Gaussian direction of norm ``norms[i]``."""
    import torch

    v = torch.randn(tuple(shape), generator=torch.Generator().manual_seed(seed), dtype=torch.float32)
    return v / v.norm(dim=1, keepdim=True) * norms[:, None]


@contextmanager
def noised(model, adapter, norms: dict, label: str, draw: int):
    """The float32 ``model`` with each decoder matrix plus its same-norm noise; restored on exit."""
    import torch

    mods, saved = decoder_linears(model, adapter), {}
    try:
        with torch.no_grad():
            for k, rows in norms.items():
                w = mods[k].weight
                if w.dtype != torch.float32:
                    raise ValueError(f"{NAME}: the null noises float32 weights; {k} is {w.dtype}")
                saved[k] = w.detach().clone()
                w.add_(noise_rows(rows, w.shape, derived_seed(NAME, "weights", label, draw, k)))
        yield model
    finally:
        with torch.no_grad():
            for k, original in saved.items():
                mods[k].weight.copy_(original)


def two_sided(name: str, observed: list[float], nulls: list[list[float]]) -> tuple[dict, dict, str | None]:
    """Both tails of the pooled test (:func:`audit.criteria.steering.judge_control`, each at half of
    alpha) of ``observed[seed]`` against ``nulls[seed][draw]``: (upper test, lower test, tail) with
    tail "more" (above the null), "less" or "within"; None when too few draws or a tie."""
    from audit.criteria.steering import PASSED, judge_control
    from audit.inference import ALPHA

    upper = judge_control(name, observed, nulls, ALPHA / 2)
    lower = judge_control(name, [-x for x in observed], [[-x for x in row] for row in nulls], ALPHA / 2)
    if not upper["powered"] or upper["null_min"] == upper["null_max"] == upper["observed"]:
        return upper, lower, None
    return upper, lower, "more" if upper["status"] == PASSED else "less" if lower["status"] == PASSED else "within"


def null_kl(model, adapter, tok, pairs: dict, reference_first: dict, norms: dict, label: str, draws: list[int],
            batch_size: int) -> dict:
    """``{draw: {prompt id: KL(reference || noised model)}}`` at the answer position."""
    from audit.inference import rounded
    from interventions.generation import kl, score

    ids, out = sorted(pairs), {}
    for d in draws:
        with noised(model, adapter, norms, label, d):
            scored = score(model, tok, [pairs[i] for i in ids], batch_size)
        out[d] = {i: rounded([kl(reference_first[i], s.first_logprobs)])[0] for i, s in zip(ids, scored)}
    return out
