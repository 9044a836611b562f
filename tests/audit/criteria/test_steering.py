"""Steering criteria (pure): null comparisons, controls, degenerate ratios; hypothesis for the p-value
and quantile logic (monotonicity, small-N edge cases)."""


import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from audit.criteria.steering import (INCONCLUSIVE, PASSED, REFUTED, SteeringAcceptance, SteeringLayerSensitivity,
                                     SteeringRatio, cell_key, empirical_p, judge_control, null_comparison, pooled_null,
                                     quantile)
from audit.verdict import STRENGTH, Verdict

floats = st.floats(min_value=-1e3, max_value=1e3, allow_nan=False, allow_infinity=False)
nulls = st.lists(floats, min_size=1, max_size=64)
SEEDS = [1, 2, 3]
CELL = cell_key(12, 0.25)


# ------------------------------------------------------------------ empirical p-value and quantile

@given(nulls, floats)
def test_p_value_bounds(null, obs):
    p = empirical_p(obs, null)
    assert 1 / (len(null) + 1) <= p <= 1


@given(nulls, floats, floats)
def test_p_value_is_monotone_in_the_observed_value(null, a, b):
    lo, hi = sorted((a, b))
    assert empirical_p(hi, null) <= empirical_p(lo, null)


@given(nulls)
def test_p_value_extremes(null):
    assert empirical_p(max(null) + 1, null) == pytest.approx(1 / (len(null) + 1))
    assert empirical_p(min(null), null) == 1.0  # ties count against the observed value


@given(nulls, st.floats(0, 1), st.floats(0, 1))
def test_quantile_monotone_and_bounded(null, q1, q2):
    lo, hi = sorted((q1, q2))
    assert min(null) <= quantile(null, lo) <= quantile(null, hi) <= max(null)


@given(nulls)
def test_quantile_endpoints(null):
    assert quantile(null, 0.0) == min(null) and quantile(null, 1.0) == max(null)


def test_quantile_matches_linear_interpolation():
    assert quantile([1, 2, 3, 4], 0.5) == 2.5
    assert quantile([0, 10], 0.95) == pytest.approx(9.5)
    assert quantile([7.0], 0.95) == 7.0


@given(nulls, floats)
def test_beating_the_null_means_above_its_quantile_and_small_p(null, obs):
    c = null_comparison(obs, null, 0.95, 0.05)
    if c["beats"]:
        assert obs > c["quantile"] and c["p"] <= 0.05 and c["powered"]


@given(st.integers(1, 18), floats)
def test_small_null_can_never_pass(n, obs):
    """With N < 19 draws the smallest attainable p is 1/(N+1) > 0.05: never passed, never refuted for it."""
    null = [0.0] * n
    res = judge_control("random_vector", [obs] * 3, [null] * 3, 0.95, 0.05, 3)
    assert res["status"] == INCONCLUSIVE and "cannot reach" in res["reason"]


@settings(max_examples=200)
@given(st.lists(st.lists(floats, min_size=20, max_size=20), min_size=3, max_size=3), floats, floats)
def test_control_status_is_monotone_in_the_observed_effect(per_seed_nulls, a, b):
    lo, hi = sorted((a, b))
    strength = {REFUTED: 0, INCONCLUSIVE: 1, PASSED: 2}
    s_lo = judge_control("x", [lo] * 3, per_seed_nulls, 0.95, 0.05, 3)["status"]
    s_hi = judge_control("x", [hi] * 3, per_seed_nulls, 0.95, 0.05, 3)["status"]
    assert strength[s_hi] >= strength[s_lo]


def test_pooled_null_averages_draw_i_over_seeds():
    assert pooled_null([[1, 2], [3, 4], [5, 6]]) == [3, 4]
    with pytest.raises(ValueError):
        pooled_null([[1, 2], [3]])


def test_non_finite_null_is_an_error():
    with pytest.raises(ValueError):
        null_comparison(1.0, [0.0, float("nan")], 0.95, 0.05)


# ------------------------------------------------------------------ the steering criterion

def evidence(effect=(1.0, 1.1, 0.9), collateral=(0.02, 0.03, 0.025), rv=None, sl=None, waived=None,
             required=("random_vector", "shuffled_label")):
    rv = rv if rv is not None else [[0.01 * i - 0.1 for i in range(32)]] * 3
    sl = sl if sl is not None else [[0.005 * i for i in range(32)]] * 3
    nulls = {}
    if "random_vector" in required:
        nulls["random_vector"] = {CELL: rv}
    if "shuffled_label" in required:
        nulls["shuffled_label"] = {CELL: sl}
    return {"layers": [12], "alphas": [0.25], "seeds": SEEDS, "effect": {CELL: list(effect)},
            "effect_by_family": {CELL: {"a": list(effect), "b": [e * 0.8 for e in effect]}},
            "collateral": {CELL: list(collateral)}, "nulls": nulls, "required_controls": list(required),
            "waived": waived or {}}


def spec(**kw):
    return SteeringAcceptance(kind="steering", layer=12, alpha=0.25, **kw)


def test_clean_steering_is_supported_with_both_controls_passed():
    out = spec().evaluate_steering(evidence())
    assert out.verdict is Verdict.SUPPORTED, out.reasons
    assert {c["status"] for c in out.summary["controls"].values()} == {PASSED}
    assert out.summary["selectivity"] == pytest.approx(1.0 / 0.025)


def test_random_vectors_that_do_as_well_refute():
    rv = [[1.0 + 0.01 * (i - 16) for i in range(32)]] * 3  # the observed effect sits in the middle of the null
    out = spec().evaluate_steering(evidence(rv=rv))
    assert out.verdict is Verdict.REFUTED
    assert out.summary["controls"]["random_vector"]["status"] == REFUTED
    assert any("random_vector" in r and "null explains" in r for r in out.reasons)


def test_shuffled_labels_that_do_as_well_refute():
    sl = [[1.2] * 32] * 3
    out = spec().evaluate_steering(evidence(sl=sl))
    assert out.verdict is Verdict.REFUTED and out.summary["controls"]["shuffled_label"]["status"] == REFUTED


def test_a_control_that_did_not_run_is_errored_never_passed():
    ev = evidence()
    ev["nulls"]["shuffled_label"] = {}
    out = spec().evaluate_steering(ev)
    assert out.verdict is Verdict.ERRORED and "did not run" in out.reasons[0]
    ev = evidence(required=("random_vector",))  # neither configured nor waived
    assert spec().evaluate_steering(ev).verdict is Verdict.ERRORED


def test_waived_control_is_skipped_with_its_reason():
    ev = evidence(required=("random_vector",), waived={"shuffled_label": "direction loaded from a file, no labels"})
    out = spec().evaluate_steering(ev)
    assert out.verdict is Verdict.SUPPORTED
    assert out.summary["controls"]["shuffled_label"]["status"] == "waived"
    assert any("no labels" in r for r in out.reasons)


def test_degenerate_collateral_makes_selectivity_uninformative_never_a_finding():
    out = spec().evaluate_steering(evidence(effect=(0.0117,) * 3, collateral=(1e-7,) * 3))
    assert out.verdict is not Verdict.SUPPORTED
    assert out.summary["selectivity"] is None and out.summary["selectivity_uninformative"]
    big = spec().evaluate_steering(evidence(effect=(5.0, 5.1, 4.9), collateral=(1e-6,) * 3))
    assert big.verdict is Verdict.INCONCLUSIVE and any("uninformative" in r for r in big.reasons)


def test_collateral_and_selectivity_refute():
    out = spec().evaluate_steering(evidence(collateral=(0.6, 0.62, 0.58)))
    assert out.verdict is Verdict.REFUTED
    assert any("collateral" in r for r in out.reasons) and any("selectivity" in r for r in out.reasons)


def test_small_effect_refutes_and_noisy_effect_is_inconclusive():
    rv = [[-1.0] * 32] * 3
    sl = [[-1.0] * 32] * 3
    assert spec().evaluate_steering(evidence(effect=(0.01, 0.012, 0.011), collateral=(0.001, 0.001, 0.001),
                                             rv=rv, sl=sl)).verdict is Verdict.REFUTED
    noisy = spec().evaluate_steering(evidence(effect=(0.0, 0.2, 0.1), collateral=(0.01,) * 3, rv=rv, sl=sl))
    assert noisy.verdict is Verdict.INCONCLUSIVE


def test_decrease_direction_flips_the_sign():
    rv = [[-0.01 * i for i in range(32)]] * 3
    sl = [[-0.005 * i for i in range(32)]] * 3
    out = spec(direction="decrease").evaluate_steering(evidence(effect=(-1.0, -1.1, -0.9), rv=rv, sl=sl))
    assert out.verdict is Verdict.SUPPORTED


@settings(max_examples=100)
@given(st.floats(0, 3), st.floats(0, 3))
def test_steering_verdict_is_monotone_in_the_effect(a, b):
    lo, hi = sorted((a, b))
    v_lo = spec().evaluate_steering(evidence(effect=(lo,) * 3)).verdict
    v_hi = spec().evaluate_steering(evidence(effect=(hi,) * 3)).verdict
    assert STRENGTH[v_hi] >= STRENGTH[v_lo]


def test_unknown_cell_is_errored():
    out = SteeringAcceptance(kind="steering", layer=3, alpha=0.25).evaluate_steering(evidence())
    assert out.verdict is Verdict.ERRORED


# ------------------------------------------------------------------ layer sensitivity and ratios

def sweep_evidence(per_layer, noise=0.01):
    layers = list(range(len(per_layer)))
    ev = {"layers": layers, "alphas": [0.5], "seeds": SEEDS, "waived": {},
          "required_controls": ["random_vector", "shuffled_label"], "nulls": {"random_vector": {}, "shuffled_label": {}},
          "effect": {}, "collateral": {}, "effect_by_family": {}}
    for layer, e in zip(layers, per_layer):
        c = cell_key(layer, 0.5)
        ev["effect"][c] = [e + noise * s for s in range(3)]
        ev["collateral"][c] = [0.01] * 3
        for name in ev["nulls"]:
            ev["nulls"][name][c] = [[0.001 * i for i in range(32)]] * 3
    return ev


def test_layer_sensitivity():
    acc = SteeringLayerSensitivity(kind="steering_layer_sensitivity", alpha=0.5)
    peaked = acc.evaluate_steering(sweep_evidence([0.1, 0.2, 1.5, 0.3, 0.1]))
    assert peaked.verdict is Verdict.SUPPORTED and peaked.summary["best_layer"] == 2
    assert acc.control_cells(sweep_evidence([0.1, 0.2, 1.5, 0.3, 0.1])) == [cell_key(2, 0.5)]
    flat = acc.evaluate_steering(sweep_evidence([1.0, 1.05, 1.1, 1.0, 0.95]))
    assert flat.verdict is Verdict.REFUTED


def test_layer_sensitivity_with_zero_median_reports_no_ratio():
    acc = SteeringLayerSensitivity(kind="steering_layer_sensitivity", alpha=0.5)
    out = acc.evaluate_steering(sweep_evidence([0.0, 0.0, 1.0, 0.0, 0.0], noise=0.0))
    assert out.summary["ratio"] is None and "uninformative" in out.summary["ratio_note"]


def test_ratio_needs_an_informative_denominator():
    ev = evidence(effect=(1.0, 1.1, 0.9))
    ev["effect_by_family"][CELL] = {"long": [0.6, 0.65, 0.55], "short": [1.0, 1.1, 0.9]}
    acc = SteeringRatio(kind="steering_ratio", layer=12, alpha=0.25, numerator=["long"], denominator=["short"])
    assert acc.evaluate_steering(ev).verdict is Verdict.SUPPORTED
    ev["effect_by_family"][CELL] = {"long": [0.1, 0.12, 0.11], "short": [1.0, 1.1, 0.9]}
    assert acc.evaluate_steering(ev).verdict is Verdict.REFUTED
    ev["effect_by_family"][CELL] = {"long": [0.5, 0.5, 0.5], "short": [1e-5, 2e-5, 1e-5]}
    out = acc.evaluate_steering(ev)
    assert out.verdict is Verdict.INCONCLUSIVE and out.summary["ratio"] is None


def test_criteria_module_is_pure():
    import subprocess
    import sys

    from tests.conftest import REPO

    code = ("import sys, audit.criteria.steering; "
            "bad = [m for m in ('torch', 'transformers', 'numpy') if m in sys.modules]; sys.exit(1 if bad else 0)")
    assert subprocess.run([sys.executable, "-c", code], cwd=REPO).returncode == 0
