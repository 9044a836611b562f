"""Planted truths of quantization_drift's random_vector control (controls/drift_noise.py): an error on
the directions one layer reads moves the causal surface more than same-norm weight noise; a random
error of the same norms is within the noise; noised sweeps are seeded and leave the weights as they
were; zero error and a null equal to the reference are degenerate; flat sweeps are undefined."""

import copy

import numpy as np
import pytest
import torch

from audit.encoding import batches, encode
from controls.drift_noise import record
from controls.weight_noise import error_rows, noised
from interventions.architectures import adapter_for
from interventions.layer_ablation import LayerAblation
from interventions.sweep import sweep_batches
from tests.conftest import tiny_model
from tests.controls.test_weight_noise import TEXTS, inputs_direction, planted_mode, snapshot

DRAWS = list(range(39))  # the smallest p, 1/40, reaches alpha / 2 on each tail
LAYERS = list(range(6))
LAST = "5."  # the planted error sits on the last layer's matrices: 20% of each row's norm


@pytest.fixture(scope="module")
def setup():
    model, tok = tiny_model("llama", n_layers=6, hidden=64, init=0.05)
    adapter = adapter_for(model)
    encoded = batches(tok, [encode(tok, f"p{i}", t, "1", False) for i, t in enumerate(TEXTS)], 8)
    pairs = {f"p{i}": (tok(t)["input_ids"], tok(" 1")["input_ids"]) for i, t in enumerate(TEXTS)}
    return model, adapter, encoded, inputs_direction(model, adapter, tok, pairs)


def sweep(model, adapter, encoded) -> list[float]:
    """The skip sweep's mean KL per layer over the prompts (one seed)."""
    spec = LayerAblation(kind="layer_ablation", method="skip", layers="all")
    units = {pid: u for b in sweep_batches(model, adapter, spec, encoded, LAYERS) for pid, u in b.items()}
    return list(np.mean([u["metrics"]["kl"] for u in units.values()], axis=0))


def judged(setup, mode) -> dict:
    model, adapter, encoded, _ = setup
    norms = error_rows(model, mode, adapter)
    null = []
    for d in DRAWS:
        with noised(model, adapter, norms, "planted", d):
            null.append([sweep(model, adapter, encoded)])
    total = float(sum(float((r ** 2).sum()) for r in norms.values()) ** 0.5)
    return record("planted", [sweep(model, adapter, encoded)], [sweep(mode, adapter, encoded)], null, [1], total)


def on_last(error):
    return lambda k, w: error(k, w) if k.startswith(LAST) else torch.zeros_like(w)


def test_an_error_on_a_layers_read_directions_disturbs_the_sweep_more_than_same_norm_noise(setup):
    model, adapter, _, read = setup
    before = snapshot(model, adapter)
    mode = planted_mode(model, adapter, on_last(lambda k, w: 0.2 * w.norm(dim=1, keepdim=True) * read[k][None, :]))
    r = judged(setup, mode)
    assert r["status"] == "more" and r["p_more"] == pytest.approx(1 / 40), r["reason"]
    assert r["observed"] < r["null_min"] and r["null_max"] == pytest.approx(1.0)
    assert r["magnitude"]["status"] in ("more", "less", "within") and r["n_layers"] == 6
    after = snapshot(model, adapter)  # 39 noised sweeps later, the float32 weights are exactly as they were
    assert all(torch.equal(after[k], before[k]) for k in before)


def test_a_random_error_of_the_same_norms_is_within_the_noise(setup):
    model, adapter, _, _ = setup
    gen = torch.Generator().manual_seed(123)
    mode = planted_mode(model, adapter, on_last(lambda k, w: 0.2 * w.norm(dim=1, keepdim=True)
                                                * torch.nn.functional.normalize(torch.randn(w.shape, generator=gen), dim=1)))
    r = judged(setup, mode)
    assert r["status"] == "within" and r["p_more"] > 0.025 and r["p_less"] > 0.025, r["reason"]
    assert r["null_min"] < r["median"] <= r["null_max"] and r["null_min"] <= r["observed"] <= r["null_max"]


def test_noised_sweeps_are_seeded_per_draw(setup):
    model, adapter, encoded, _ = setup
    norms = {k: torch.full((w.shape[0],), 0.05) for k, w in snapshot(model, adapter).items() if k.startswith(LAST)}

    def draw(d):
        with noised(model, adapter, norms, "x", d):
            return sweep(model, adapter, encoded)

    assert draw(0) == draw(0) and draw(0) != draw(1)


def test_zero_error_is_degenerate_and_never_a_finding(setup):
    model, adapter, _, _ = setup
    r = judged(setup, copy.deepcopy(model))  # float32 vs float32: the null is the reference itself
    assert r["status"] == "inconclusive" and r["degenerate"] and "zero error" in r["reason"]


REF = [[0.3, 0.1, 0.2, 0.05]]
OTHER = [[[0.3, 0.2, 0.1, 0.0]]]


@pytest.mark.parametrize("reference,effects,null,norm,flag,why", [
    (REF, REF, [REF] * 39, 1.0, "degenerate", "every noised sweep equals the reference's"),
    ([[0.1, 0.1, 0.1, 0.1]], REF, [REF] * 39, 1.0, "undefined", "the reference's sweep in seed 1"),
    (REF, [[0.2] * 4], OTHER * 39, 1.0, "undefined", "planted's sweep in seed 1"),
    (REF, REF, [[[0.2] * 4]] + OTHER * 38, 1.0, "undefined", "1 noised sweep(s) in seed 1"),
    ([[0.3, 0.1]], [[0.3, 0.1]], [[[0.2, 0.1]]] * 39, 1.0, "undefined", "2 swept layer(s)"),
])
def test_degenerate_and_undefined_cases_are_never_a_finding(reference, effects, null, norm, flag, why):
    r = record("planted", reference, effects, null, [1], norm)
    assert r["status"] == "inconclusive" and r[flag] and why in r["reason"], r["reason"]


def test_too_few_draws_or_a_tie_is_inconclusive():
    few = record("m", REF, REF, OTHER * 9, [1], 1.0)  # 1/10 cannot reach 0.025
    assert few["status"] == "inconclusive" and "too few draws (9)" in few["meaning"]
    tie = record("m", REF, [[0.3, 0.1, 0.2, 0.0]], [[[0.31, 0.1, 0.2, 0.0]]] * 39, [1], 1.0)
    assert tie["status"] == "inconclusive" and "tie" in tie["reason"] and "a tie" in tie["meaning"]
