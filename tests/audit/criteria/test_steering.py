"""Steering criteria (pure) on synthetic per-prompt evidence with planted truths: the pooled null test
(inside the bulk refutes, between bulk and significance is inconclusive, 199 draws reach p <= 0.01,
seeds pooled into one test), prompt-level intervals for effect / collateral / selectivity, the
degeneracy gate, simultaneous layer contrasts and ratios decided on a - k b."""

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from pydantic import ValidationError

from audit.calibration_steering import CELL, N, null_around  # synthetic evidence generators
from audit.calibration_steering import steering_evidence as evidence
from audit.criteria.steering import (BULK, INCONCLUSIVE, PASSED, REFUTED, SteeringAcceptance,
                                     SteeringLayerSensitivity, SteeringRatio, cell_key, empirical_p, judge_control,
                                     pooled_null, quantile)
from audit.evidence_models.judged import SteeringSweep
from audit.verdict import STRENGTH, Verdict

floats = st.floats(min_value=-1e3, max_value=1e3, allow_nan=False, allow_infinity=False)
nulls = st.lists(floats, min_size=1, max_size=64)


def spec(**kw):
    return SteeringAcceptance(kind="steering", layer=12, alpha=0.25, **kw)


# ------------------------------------------------------------------ p-value and quantile

@given(nulls, floats)
def test_p_value_bounds(null, obs):
    p = empirical_p(obs, null)
    assert 1 / (len(null) + 1) <= p <= 1


@given(nulls, floats, floats)
def test_p_value_is_monotone_in_the_observed_value(null, a, b):
    lo, hi = sorted((a, b))
    assert empirical_p(hi, null) <= empirical_p(lo, null)


@given(nulls, st.floats(0, 1), st.floats(0, 1))
def test_quantile_monotone_and_bounded(null, q1, q2):
    lo, hi = sorted((q1, q2))
    assert min(null) <= quantile(null, lo) <= quantile(null, hi) <= max(null)


def test_quantile_matches_linear_interpolation():
    assert quantile([1, 2, 3, 4], 0.5) == 2.5
    assert quantile([0, 10], 0.95) == pytest.approx(9.5)
    assert quantile([7.0], 0.95) == 7.0


def test_pooled_null_averages_draw_i_over_seeds():
    assert pooled_null([[1, 2], [3, 4], [5, 6]]) == [3, 4]
    with pytest.raises(ValueError):
        pooled_null([[1, 2], [3]])


# ------------------------------------------------------------------ the pooled null test

def test_observed_inside_the_bulk_refutes():
    null = null_around(0.0)
    pooled = pooled_null(null)
    obs = quantile(pooled, 0.5)
    res = judge_control("random_vector", [obs] * 3, null, 0.01)
    assert res["status"] == REFUTED and "75th percentile" in res["reason"] and "bulk" in res["reason"]
    one_seed = null[:1]
    at_edge = judge_control("random_vector", [quantile(one_seed[0], BULK)], one_seed, 0.01)
    assert at_edge["status"] == REFUTED  # "at or below" the 75th percentile
    above = judge_control("random_vector", [quantile(one_seed[0], BULK) + 1e-9], one_seed, 0.01)
    assert above["status"] == INCONCLUSIVE


def test_observed_between_bulk_and_significance_is_inconclusive():
    null = null_around(0.0)
    obs = quantile(pooled_null(null), 0.9)
    res = judge_control("random_vector", [obs] * 3, null, 0.01)
    assert res["status"] == INCONCLUSIVE and 0.01 < res["p"] < 0.25 and "not significant" in res["reason"]


def test_199_draws_reach_p_of_0_01_and_pass():
    null = null_around(0.0)
    res = judge_control("random_vector", [1.0] * 3, null, 0.01)
    assert res["status"] == PASSED and res["p"] == pytest.approx(1 / 200) and res["p"] <= 0.01
    assert res["n_draws"] == 199 and res["powered"]


def test_seeds_are_pooled_into_one_test():
    """Each seed alone sits near its null's 97th percentile (p > 0.01 per seed); the seed mean against
    the null of seed means (spread shrinks by sqrt(3)) is significant: one pooled test passes."""
    rng = np.random.default_rng(4)
    null = rng.standard_normal((3, N))
    obs = [float(np.quantile(row, 0.97)) for row in null]
    res = judge_control("random_vector", obs, null.tolist(), 0.01)
    assert all(p > 0.01 for p in res["per_seed_p"])
    assert res["status"] == PASSED, res["reason"]


@given(st.integers(1, 98), floats)
def test_small_null_can_never_decide(n, obs):
    """With N < 99 draws the smallest attainable p is 1/(N+1) > 0.01: never passed, never refuted for it."""
    res = judge_control("random_vector", [obs] * 3, [[0.0] * n] * 3, 0.01)
    assert res["status"] == INCONCLUSIVE and "cannot reach" in res["reason"]


def test_a_null_that_ties_with_the_observed_value_is_inconclusive():
    res = judge_control("shuffled_label", [0.3] * 3, [[0.3] * N] * 3, 0.01)
    assert res["status"] == INCONCLUSIVE and "tie" in res["reason"]


@settings(max_examples=200, deadline=None)
@given(st.integers(0, 2**32 - 1), st.floats(0.0, 10.0), st.sampled_from([99, 199, 400]), floats, floats)
def test_control_status_is_monotone_in_the_observed_effect(seed, spread, n, a, b):
    per_seed_nulls = np.round(spread * np.random.default_rng(seed).standard_normal((3, n)), 1).tolist()  # with ties
    lo, hi = sorted((a, b))
    order = {REFUTED: 0, INCONCLUSIVE: 1, PASSED: 2}
    s_lo = judge_control("x", [lo] * 3, per_seed_nulls, 0.01)["status"]
    s_hi = judge_control("x", [hi] * 3, per_seed_nulls, 0.01)["status"]
    if not (np.ptp(pooled_null(per_seed_nulls)) == 0):  # a tie at the null's only value is inconclusive
        assert order[s_hi] >= order[s_lo]


def test_non_finite_null_is_an_error():
    with pytest.raises(ValueError):
        judge_control("x", [1.0], [[0.0, float("nan")]], 0.01)


# ------------------------------------------------------------------ the steering criterion

def test_clean_steering_is_supported_with_intervals_and_both_controls_passed():
    out = spec().evaluate(SteeringSweep.model_validate(evidence()))
    assert out.verdict is Verdict.SUPPORTED, out.reasons
    s = out.summary
    assert {c["status"] for c in s["controls"].values()} == {PASSED}
    lo, hi = s["effect_ci"]
    assert lo < s["effect"] < hi and lo > 0.9 and hi < 1.1
    assert s["collateral_ci"][0] < 0.02 < s["collateral_ci"][1]
    assert s["selectivity"] == pytest.approx(s["effect"] / s["collateral"])
    assert s["selectivity_linear"]["low"] > 0 and len(s["effect_per_seed"]) == 3
    assert s["inference"]["family_size"] == 3 and "max-T" in s["inference"]["method"]
    assert s["strong"] is True
    assert s["controls"]["random_vector"]["p"] == pytest.approx(1 / 200)


def test_random_vectors_that_do_as_well_refute():
    out = spec().evaluate(SteeringSweep.model_validate(evidence(rv=null_around(1.0, spread=0.05))))
    assert out.verdict is Verdict.REFUTED
    assert out.summary["controls"]["random_vector"]["status"] == REFUTED
    assert any("random_vector" in r and "null explains" in r for r in out.reasons)


def test_shuffled_labels_that_do_as_well_refute():
    out = spec().evaluate(SteeringSweep.model_validate(evidence(sl=[[1.2] * N] * 3)))
    assert out.verdict is Verdict.REFUTED and out.summary["controls"]["shuffled_label"]["status"] == REFUTED


def test_a_null_above_the_bulk_but_not_significant_leaves_the_claim_inconclusive():
    ev = evidence()
    observed = float(np.mean(ev["effect"][CELL]))
    null = np.array(null_around(0.0, spread=0.2, seed=9))
    null += observed - np.quantile(null.mean(0), 0.9)  # observed at the pooled null's 90th percentile
    ev["nulls"]["random_vector"][CELL] = null.tolist()
    out = spec().evaluate(SteeringSweep.model_validate(ev))
    assert out.verdict is Verdict.INCONCLUSIVE
    assert out.summary["controls"]["random_vector"]["status"] == INCONCLUSIVE


def test_default_32_draws_cannot_support():
    ev = evidence(rv=(0.05 * np.random.default_rng(0).standard_normal((3, 32))).tolist())
    out = spec().evaluate(SteeringSweep.model_validate(ev))
    assert out.verdict is Verdict.INCONCLUSIVE and any("cannot reach p <= 0.01" in r for r in out.reasons)


def test_a_control_that_did_not_run_is_errored_never_passed():
    ev = evidence()
    ev["nulls"]["shuffled_label"] = {}
    out = spec().evaluate(SteeringSweep.model_validate(ev))
    assert out.verdict is Verdict.ERRORED and "did not run" in out.reasons[0]
    assert spec().evaluate(SteeringSweep.model_validate(evidence(required=("random_vector",)))).verdict is Verdict.ERRORED


def test_waived_control_is_skipped_with_its_reason():
    ev = evidence(required=("random_vector",), waived={"shuffled_label": "direction loaded from a file, no labels"})
    out = spec().evaluate(SteeringSweep.model_validate(ev))
    assert out.verdict is Verdict.SUPPORTED
    assert out.summary["controls"]["shuffled_label"]["status"] == "waived"
    assert any("no labels" in r for r in out.reasons)


def test_zero_effect_is_degenerate_never_a_finding():
    ev = evidence(effect=0.0, noise=0.0, rv=[[0.0] * N] * 3, sl=[[0.0] * N] * 3)
    out = spec().evaluate(SteeringSweep.model_validate(ev))
    assert out.verdict is Verdict.INCONCLUSIVE and "degenerate" in out.reasons[0]
    assert "unintervened baseline" in out.reasons[0] and out.summary["strong"] is False


def test_constant_effect_is_zero_variance_and_inconclusive():
    out = spec().evaluate(SteeringSweep.model_validate(evidence(effect=0.5, noise=0.0)))
    assert out.verdict is Verdict.INCONCLUSIVE and "zero variance" in out.reasons[0]


def test_effects_within_the_measured_numerical_noise_are_inconclusive():
    ev = evidence(effect=0.0, noise=1e-7, numerical_noise=1e-6, rv=null_around(0.0, spread=1e-7),
                  sl=null_around(0.0, spread=1e-7))
    out = spec().evaluate(SteeringSweep.model_validate(ev))
    assert out.verdict is Verdict.INCONCLUSIVE and "numerical noise" in out.reasons[0]


def test_pure_noise_effect_is_never_supported():
    """Effects centred on 0 with prompt noise: the effect CI straddles min_effect 0 -> never supported."""
    for seed in range(5):
        out = spec(min_effect=0.0).evaluate(SteeringSweep.model_validate(evidence(effect=0.0, noise=0.3, seed=seed,
                                                              rv=null_around(0.0, seed=seed), sl=null_around(0.0))))
        assert out.verdict is not Verdict.SUPPORTED


def test_degenerate_collateral_makes_selectivity_uninformative_never_a_finding():
    out = spec().evaluate(SteeringSweep.model_validate(evidence(effect=0.0117, noise=0.001, collateral=1e-7, cnoise=1e-8)))
    assert out.verdict is not Verdict.SUPPORTED
    assert out.summary["selectivity"] is None and out.summary["selectivity_uninformative"]
    big = spec().evaluate(SteeringSweep.model_validate(evidence(effect=5.0, collateral=1e-6, cnoise=1e-7)))
    assert big.verdict is Verdict.INCONCLUSIVE and any("uninformative" in r for r in big.reasons)


def test_collateral_and_selectivity_refute():
    out = spec().evaluate(SteeringSweep.model_validate(evidence(collateral=0.6, cnoise=0.02)))
    assert out.verdict is Verdict.REFUTED
    assert any("collateral" in r and "exceeds" in r for r in out.reasons)
    assert any("selectivity" in r and "< 0" in r for r in out.reasons)


def test_small_effect_refutes_and_a_noisy_effect_is_inconclusive():
    low = [[-1.0 - 0.01 * i for i in range(N)]] * 3
    small = spec().evaluate(SteeringSweep.model_validate(evidence(effect=0.01, noise=0.005, collateral=0.001, cnoise=1e-4, rv=low, sl=low)))
    assert small.verdict is Verdict.REFUTED and any("below min_effect" in r for r in small.reasons)
    noisy = spec().evaluate(SteeringSweep.model_validate(evidence(effect=0.1, noise=0.5, collateral=0.01, cnoise=0.001, rv=low, sl=low)))
    assert noisy.verdict is Verdict.INCONCLUSIVE and any("contains min_effect" in r for r in noisy.reasons)


def test_decrease_direction_flips_the_sign():
    ev = evidence(effect=-1.0, rv=null_around(0.0, spread=0.05), sl=null_around(0.0, spread=0.05))
    assert spec(direction="decrease").evaluate(SteeringSweep.model_validate(ev)).verdict is Verdict.SUPPORTED
    assert spec().evaluate(SteeringSweep.model_validate(ev)).verdict is Verdict.REFUTED


@settings(max_examples=60, deadline=None)
@given(st.floats(0, 3), st.floats(0, 3))
def test_steering_verdict_is_monotone_in_the_effect(a, b):
    lo, hi = sorted((a, b))
    v_lo = spec().evaluate(SteeringSweep.model_validate(evidence(effect=lo))).verdict
    v_hi = spec().evaluate(SteeringSweep.model_validate(evidence(effect=hi))).verdict
    assert STRENGTH[v_hi] >= STRENGTH[v_lo]


def test_unknown_cell_and_old_evidence_are_errored():
    assert SteeringAcceptance(kind="steering", layer=3, alpha=0.25).evaluate(SteeringSweep.model_validate(evidence())).verdict is \
        Verdict.ERRORED
    ev = evidence()
    del ev["per_prompt"]
    out = spec().evaluate(SteeringSweep.model_validate(ev))
    assert out.verdict is Verdict.ERRORED and "per-prompt" in out.reasons[0]


@pytest.mark.parametrize("key", ["noise_z", "min_seed_agreement", "null_quantile"])
def test_seed_noise_keys_are_rejected_with_their_replacement(key):
    with pytest.raises(ValidationError, match="remove"):
        SteeringAcceptance(kind="steering", layer=12, alpha=0.25, **{key: 2})


def test_defaults_follow_the_headline_recommendation():
    assert spec().max_p == 0.01


# ------------------------------------------------------------------ layer sensitivity and ratios

def sweep(per_layer, noise=0.05, seed=0):
    cells = {cell_key(layer, 0.5): (e, 0.01) for layer, e in enumerate(per_layer)}
    return evidence(cells=cells, noise=noise, seed=seed)


LAYERS = SteeringLayerSensitivity(kind="steering_layer_sensitivity", alpha=0.5)


def test_peaked_layer_profile_is_supported_with_simultaneous_intervals():
    ev = sweep([0.1, 0.2, 1.5, 0.3, 0.1])
    out = LAYERS.evaluate(SteeringSweep.model_validate(ev))
    assert out.verdict is Verdict.SUPPORTED, out.reasons
    s = out.summary
    assert s["best_layer"] == 2 and LAYERS.control_cells(SteeringSweep.model_validate(ev)) == [cell_key(2, 0.5)]
    assert s["inference"]["family_size"] == 5 * 4 + 5  # every ordered pair and every layer: max-T
    assert len(s["layers_shown_below"]) >= s["layers_needed_below"] == 3
    assert s["best_effect_ci"][0] > 1.0


def test_flat_layer_profile_is_refuted():
    out = LAYERS.evaluate(SteeringSweep.model_validate(sweep([1.0, 1.05, 1.1, 1.0, 0.95])))
    assert out.verdict is Verdict.REFUTED, out.reasons


def test_a_profile_whose_peak_is_within_the_noise_is_inconclusive():
    out = LAYERS.evaluate(SteeringSweep.model_validate(sweep([0.2, 0.25, 0.45, 0.2, 0.2], noise=1.0)))
    assert out.verdict is Verdict.INCONCLUSIVE, out.reasons


def test_layer_sensitivity_with_zero_median_reports_no_ratio():
    out = LAYERS.evaluate(SteeringSweep.model_validate(sweep([0.0, 0.0, 1.0, 0.0, 0.0], noise=0.01)))
    assert out.summary["ratio"] is None and "uninformative" in out.summary["ratio_note"]
    assert out.verdict is Verdict.SUPPORTED  # best - 2 x (about 0) is clearly positive


def test_all_layers_zero_is_degenerate():
    out = LAYERS.evaluate(SteeringSweep.model_validate(sweep([0.0] * 5, noise=0.0)))
    assert out.verdict is Verdict.INCONCLUSIVE and "degenerate" in out.reasons[0]


def test_ratio_is_decided_on_a_minus_k_b_with_an_informative_denominator():
    acc = SteeringRatio(kind="steering_ratio", layer=12, alpha=0.25, numerator=["long"], denominator=["short"])

    def ev(long, short, noise=0.05):
        return evidence(cells={CELL: ({"long": long, "short": short}, 0.02)}, families=("long", "short"), noise=noise)

    supported = acc.evaluate(SteeringSweep.model_validate(ev(0.8, 1.0)))
    assert supported.verdict is Verdict.SUPPORTED, supported.reasons
    assert supported.summary["a_minus_k_b"]["low"] > 0 and supported.summary["ratio"] == pytest.approx(
        supported.summary["numerator_effect"] / supported.summary["denominator_effect"])
    assert acc.evaluate(SteeringSweep.model_validate(ev(0.1, 1.0))).verdict is Verdict.REFUTED
    tiny = acc.evaluate(SteeringSweep.model_validate(ev(0.5, 1e-5, noise=1e-6)))
    assert tiny.verdict is Verdict.INCONCLUSIVE and tiny.summary["ratio"] is None
    assert any("uninformative" in r for r in tiny.reasons)


def test_criteria_module_imports_no_torch():
    import subprocess
    import sys

    from tests.conftest import REPO

    code = ("import sys, audit.criteria.steering, audit.cards.steering; "
            "bad = [m for m in ('torch', 'transformers') if m in sys.modules]; sys.exit(1 if bad else 0)")
    assert subprocess.run([sys.executable, "-c", code], cwd=REPO).returncode == 0
