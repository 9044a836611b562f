"""Planted truths of quantization's random_vector control (controls/weight_noise.py): the null's rows
have the error's row norms, draws are seeded, weights are restored, an error concentrated on the
directions the model reads hurts more than same-norm noise, random error is null-like, and zero
error is degenerate."""

import copy

import pytest
import torch

from audit.evidence.quantization_controls import noise_record
from controls.weight_noise import decoder_linears, error_rows, noise_rows, noised, null_kl
from interventions.architectures import adapter_for
from interventions.generation import kl, score
from tests.conftest import byte_tokenizer, tiny_model

TEXTS = ["12+7=", "copy: abc ->", "the cat sat on", "3*4=", "hello wor", "red green bl", "9-2=", "x y z ->"]
DRAWS = list(range(39))  # the smallest p, 1/40, reaches alpha / 2 on each tail


@pytest.fixture(scope="module")
def setup():
    model, tok = tiny_model("llama", n_layers=2, hidden=64, init=0.05)
    pairs = {f"p{i}": (tok(t)["input_ids"], tok(" 1")["input_ids"]) for i, t in enumerate(TEXTS)}
    first = {i: s.first_logprobs for i, s in zip(sorted(pairs), score(model, tok, [pairs[i] for i in sorted(pairs)], 8))}
    return model.eval(), tok, adapter_for(model), pairs, first


def snapshot(model, adapter):
    return {k: m.weight.detach().clone() for k, m in decoder_linears(model, adapter).items()}


def planted_mode(model, adapter, error):
    """A float32 copy whose decoder matrices are W + error(key, W)."""
    other = copy.deepcopy(model)
    with torch.no_grad():
        for k, m in decoder_linears(other, adapter).items():
            m.weight.add_(error(k, m.weight))
    return other


def inputs_direction(model, adapter, tok, pairs) -> dict:
    """Per decoder matrix the top direction of its inputs on the prompts (what the model reads)."""
    mods, seen = decoder_linears(model, adapter), {}
    hooks = [m.register_forward_pre_hook(lambda mod, args, k=k: seen.setdefault(k, []).append(args[0].reshape(-1, args[0].shape[-1])))
             for k, m in mods.items()]
    try:
        score(model, tok, [pairs[i] for i in sorted(pairs)], 8)
    finally:
        for h in hooks:
            h.remove()
    return {k: torch.linalg.svd(torch.cat(xs))[2][0] for k, xs in seen.items()}


def judged(model, adapter, tok, pairs, first, mode):
    """The control's record of a planted mode (one seed: every prompt)."""
    norms = error_rows(model, mode, adapter)
    ids = sorted(pairs)
    own = [sum(kl(first[i], s.first_logprobs) for i, s in zip(ids, score(mode, tok, [pairs[i] for i in ids], 8))) / len(ids)]
    null = null_kl(model, adapter, tok, pairs, first, norms, "planted", DRAWS, 8)
    nulls = [[sum(null[d].values()) / len(ids) for d in DRAWS]]
    total = float(sum(float((r ** 2).sum()) for r in norms.values()) ** 0.5)
    return noise_record("planted", own, nulls, total), norms


def test_noise_rows_have_exactly_the_error_rows_norms(setup):
    model, _, adapter, _, _ = setup
    norms = error_rows(model, planted_mode(model, adapter, lambda k, w: w.to(torch.bfloat16).float() - w), adapter)
    for k, rows in norms.items():
        w = decoder_linears(model, adapter)[k].weight
        expected = (w.to(torch.bfloat16).float() - w).norm(dim=1)
        assert torch.allclose(rows, expected, rtol=1e-5, atol=0)
        n = noise_rows(rows, w.shape, seed=7)
        assert torch.allclose(n.norm(dim=1), rows, rtol=1e-5, atol=1e-12)
    assert sum(float(r.sum()) for r in norms.values()) > 0


def test_the_loaded_bfloat16_model_has_the_cast_error(setup, tmp_path):
    from audit.models import load_model, load_variant
    from tests.conftest import save

    model, tok, adapter, _, _ = setup
    loaded = load_model(str(save(model, tok, tmp_path / "m")))
    norms = error_rows(loaded.model, load_variant(loaded, "bfloat16"), adapter)
    for k, m in decoder_linears(model, adapter).items():
        assert torch.equal(norms[k], (m.weight.to(torch.bfloat16).float() - m.weight).norm(dim=1))


def test_draws_are_seeded_and_weights_are_restored_bit_for_bit(setup):
    model, _, adapter, _, _ = setup
    before = snapshot(model, adapter)
    norms = {k: torch.full((w.shape[0],), 0.01) for k, w in before.items()}
    with noised(model, adapter, norms, "x", 0):
        a = snapshot(model, adapter)
    with noised(model, adapter, norms, "x", 0):
        b = snapshot(model, adapter)
    with noised(model, adapter, norms, "x", 1):
        c = snapshot(model, adapter)
    assert all(torch.equal(a[k], b[k]) for k in a) and not any(torch.equal(a[k], c[k]) for k in a)
    assert all(torch.allclose((a[k] - before[k]).norm(dim=1), norms[k], rtol=1e-4) for k in a)
    with pytest.raises(RuntimeError, match="inside"):
        with noised(model, adapter, norms, "x", 2):
            raise RuntimeError("inside")
    after = snapshot(model, adapter)
    assert all(torch.equal(after[k], before[k]) for k in before)


def test_an_error_on_the_read_directions_hurts_more_than_same_norm_noise(setup):
    model, tok, adapter, pairs, first = setup
    read = inputs_direction(model, adapter, tok, pairs)
    mode = planted_mode(model, adapter, lambda k, w: 0.02 * w.norm(dim=1, keepdim=True) * read[k][None, :])
    record, _ = judged(model, adapter, tok, pairs, first, mode)
    assert record["status"] == "more" and record["p_more"] == pytest.approx(1 / 40), record["reason"]
    assert record["observed"] > record["null_max"] > 0


def test_a_random_error_is_like_same_norm_noise(setup):
    model, tok, adapter, pairs, first = setup
    gen = torch.Generator().manual_seed(123)
    mode = planted_mode(model, adapter, lambda k, w: 0.02 * w.norm(dim=1, keepdim=True) * torch.nn.functional.normalize(
        torch.randn(w.shape, generator=gen), dim=1))
    record, _ = judged(model, adapter, tok, pairs, first, mode)
    assert record["status"] == "within" and record["p_more"] > 0.025 and record["p_less"] > 0.025, record["reason"]
    assert record["null_min"] < record["observed"] < record["null_max"]


def test_zero_error_is_degenerate_with_a_null_of_kl_zero(setup):
    model, tok, adapter, pairs, first = setup
    record, norms = judged(model, adapter, tok, pairs, first, copy.deepcopy(model))  # float32 vs float32
    assert all(float(r.abs().max()) == 0 for r in norms.values())
    assert record["null_max"] == record["null_min"] == record["observed"] == 0.0
    assert record["status"] == "inconclusive" and record["degenerate"] and "zero error" in record["reason"]


def test_a_float32_model_is_required_to_carry_the_noise(setup):
    model, _, adapter, _, _ = setup
    half = copy.deepcopy(model).to(torch.bfloat16)
    norms = {k: torch.zeros(m.weight.shape[0]) for k, m in decoder_linears(half, adapter).items()}
    with pytest.raises(ValueError, match="noises float32 weights"):
        with noised(half, adapter, norms, "x", 0):
            pass
