"""Deployment criteria (layer skipping, quantization, causal drift): pure, property-tested."""

from hypothesis import given, settings
from hypothesis import strategies as st

from audit.criteria.deployment import (FAIL, PASS, UNCERTAIN, CausalDrift, QuantPractical, SkipNotFree,
                                       at_least_status, compute_ratio, drift, implausible, seeds_status,
                                       speed_status)
from audit.verdict import STRENGTH, Verdict

unit = st.floats(0.0, 1.0)
ratio = st.floats(0.2, 3.0)


def test_drift_is_perfect_for_identical_vectors_and_drops_for_a_perturbed_copy():
    effects = [0.1, 0.5, 3.0, 0.7, 0.2]
    same = drift(effects, list(effects))
    assert same["spearman"] == 1.0 and same["same_top"] and same["magnitude_ratio"] == 1.0
    perturbed = drift(effects, [0.7, 0.5, 3.0, 0.1, 0.2])
    assert perturbed["spearman"] < 1.0 and perturbed["same_top"]
    moved = drift(effects, [3.0, 0.5, 0.1, 0.7, 0.2])
    assert not moved["same_top"] and moved["top"] == 0 and moved["top_reference"] == 2
    assert drift([0.0] * 3, [1.0, 2.0, 3.0])["magnitude_ratio"] is None  # degenerate: no finding
    assert drift(effects, [2 * x for x in effects])["magnitude_ratio"] == 2.0


def test_statuses():
    assert seeds_status([True, True]) == PASS and seeds_status([False]) == FAIL
    assert seeds_status([True, False]) == UNCERTAIN and seeds_status([]) == FAIL
    assert at_least_status([1.2, 1.3], 1.1) == PASS and at_least_status([1.0, 1.2], 1.1) == UNCERTAIN


SKIP = SkipNotFree(kind="skip_not_free")


N_LAYERS = 100  # with 80 skipped (compute ratio 5) every generated speedup below is plausible


def config(overlap, agreement, speedups, n_seeds=2, n_skipped=80):
    return {"name": "c", "n_skipped": n_skipped, "speedups": speedups,
            "seeds": [{"top5_overlap": overlap, "greedy_agreement": agreement}] * n_seeds}


def skip_verdict(*configs, n_layers=N_LAYERS):
    return SKIP.evaluate_skip(list(configs), n_layers).verdict


def test_skip_verdicts():
    assert skip_verdict(config(0.0, 0.0, [1.5, 1.6])) is Verdict.SUPPORTED
    assert skip_verdict(config(1.0, 1.0, [1.5, 1.6])) is Verdict.REFUTED
    assert skip_verdict(config(1.0, 1.0, [1.0, 1.01])) is Verdict.SUPPORTED  # faithful, not faster
    assert skip_verdict(config(1.0, 1.0, [1.0, 1.2])) is Verdict.INCONCLUSIVE  # timing noise
    split = {"name": "c", "n_skipped": 80, "seeds": [{"top5_overlap": 1.0, "greedy_agreement": 1.0},
                                                     {"top5_overlap": 0.2, "greedy_agreement": 0.0}], "speedups": [1.5]}
    assert skip_verdict(split) is Verdict.INCONCLUSIVE
    assert skip_verdict() is Verdict.INCONCLUSIVE


def test_a_speedup_beyond_the_compute_ratio_is_implausible_timing_not_a_free_speedup():
    # the shipped SmolLM2 run: 3.1-3.5x from removing 3 of 30 layers (compute ratio 1.11x)
    assert compute_ratio(30, 3) == 30 / 27 and compute_ratio(30, 15) == 2.0
    assert implausible([1.3, 1.38], compute_ratio(30, 3), 1.25) is None  # within 1.25 x 1.11
    why = implausible([3.1, 3.5], compute_ratio(30, 3), 1.25)
    assert why.startswith("implausible timing (3.5x exceeds compute ratio 1.11x") and why.endswith("noisy machine")
    assert speed_status([3.1, 3.5], 1.05, why) == UNCERTAIN and speed_status([3.1, 3.5], 1.05, None) == PASS
    noisy = SKIP.evaluate_skip([config(1.0, 1.0, [3.1, 3.5], n_skipped=3)], 30)
    assert noisy.verdict is Verdict.INCONCLUSIVE and "implausible timing" in noisy.reasons[0]
    assert noisy.summary["implausible_timing"] == {"c": why}
    # the same timings are plausible when 20 of 30 layers are gone (compute ratio 3x)
    assert skip_verdict(config(1.0, 1.0, [3.1, 3.5], n_skipped=20), n_layers=30) is Verdict.REFUTED
    # broken outputs are not free whatever the clock says; the note stays in the detail
    broken = SKIP.evaluate_skip([config(0.0, 0.0, [3.1, 3.5], n_skipped=3)], 30)
    assert broken.verdict is Verdict.SUPPORTED and "implausible timing" in broken.reasons[0]
    assert SkipNotFree(kind="skip_not_free", timing_tolerance=4.0).evaluate_skip(
        [config(1.0, 1.0, [3.1, 3.5], n_skipped=3)], 30).verdict is Verdict.REFUTED


@settings(max_examples=200, deadline=None)
@given(st.integers(2, 40), st.data(), st.lists(ratio, min_size=0, max_size=4), st.floats(1.0, 3.0), unit, unit)
def test_a_speedup_above_the_compute_bound_never_passes(n_layers, data, speeds, over, overlap, agreement):
    n_skipped = data.draw(st.integers(1, n_layers - 1))
    bound = SKIP.timing_tolerance * compute_ratio(n_layers, n_skipped)
    speeds = speeds + [bound * over + 1e-6]
    why = implausible(speeds, compute_ratio(n_layers, n_skipped), SKIP.timing_tolerance)
    assert why is not None and speed_status(speeds, SKIP.min_speedup, why) != PASS
    out = SKIP.evaluate_skip([config(overlap, agreement, speeds, n_skipped=n_skipped)], n_layers)
    assert out.verdict is not Verdict.REFUTED  # never "a free speedup" on implausible timing


@settings(max_examples=200, deadline=None)
@given(unit, unit, st.lists(ratio, min_size=1, max_size=4), unit, st.floats(0.0, 1.0))
def test_skip_claim_never_gains_when_skipping_looks_better(overlap, agreement, speeds, bump, speed_bump):
    """The claim is negative: better-preserved outputs or more speed never move it towards supported."""
    before = skip_verdict(config(overlap, agreement, speeds))
    after = skip_verdict(config(min(1.0, overlap + bump), min(1.0, agreement + bump), [s + speed_bump for s in speeds]))
    assert STRENGTH[after] <= STRENGTH[before]


QUANT = QuantPractical(kind="quant_practical", candidate="nf4", baseline="bfloat16", min_speed_ratio=0.85,
                       beats=["int8"], max_memory_ratio=0.75, max_exact_match_drop=0.05, max_kl=0.1)


def modes(speed, vs_int8, mem, em, kl):
    seeds = lambda e, k: [{"exact_match": e, "kl": k}] * 2  # noqa: E731
    return {"float32": {"memory_mb": 500.0, "seeds": seeds(0.5, 0.0), "speed_ratios": {}},
            "bfloat16": {"memory_mb": 250.0, "seeds": seeds(0.5, 0.001), "speed_ratios": {}},
            "int8": {"memory_mb": 200.0, "seeds": seeds(0.5, 0.01), "speed_ratios": {}},
            "nf4": {"memory_mb": mem, "seeds": seeds(em, kl), "speed_ratios": {"bfloat16": speed, "int8": vs_int8}}}


def test_quant_verdicts_name_the_failing_check():
    good = QUANT.evaluate_quant(modes([0.9, 0.95], [1.8, 1.9], 150.0, 0.5, 0.02), "float32")
    assert good.verdict is Verdict.SUPPORTED
    slow = QUANT.evaluate_quant(modes([0.4, 0.5], [1.8, 1.9], 150.0, 0.5, 0.02), "float32")
    assert slow.verdict is Verdict.REFUTED and slow.reasons[0].startswith("speed vs bfloat16")
    noisy = QUANT.evaluate_quant(modes([0.8, 0.9], [1.8, 1.9], 150.0, 0.5, 0.02), "float32")
    assert noisy.verdict is Verdict.INCONCLUSIVE
    drifted = QUANT.evaluate_quant(modes([0.9, 0.95], [1.8, 1.9], 150.0, 0.3, 0.5), "float32")
    assert drifted.verdict is Verdict.REFUTED and len(drifted.reasons) == 2


@settings(max_examples=200, deadline=None)
@given(st.lists(ratio, min_size=1, max_size=3), st.lists(ratio, min_size=1, max_size=3), st.floats(50, 400),
       unit, st.floats(0, 1), st.floats(0, 1), st.floats(0, 100), unit)
def test_quant_claim_never_loses_when_the_candidate_gets_better(speed, vs, mem, em, kl, up, mem_down, em_up):
    before = QUANT.evaluate_quant(modes(speed, vs, mem, em, kl), "float32").verdict
    after = QUANT.evaluate_quant(modes([s + up for s in speed], [v + up for v in vs], max(1.0, mem - mem_down),
                                       min(1.0, em + em_up), max(0.0, kl - up)), "float32").verdict
    assert STRENGTH[after] >= STRENGTH[before]


DRIFT = CausalDrift(kind="causal_drift", min_spearman=0.9, magnitude_ratio=(0.8, 1.25))


LABELS = [0, 1, 2, 3]


def test_drift_verdicts():
    ref = [0.1, 0.2, 3.0, 0.4]
    assert DRIFT.evaluate_drift([ref] * 2, {"nf4": [ref] * 2}, LABELS).verdict is Verdict.SUPPORTED
    amplified = DRIFT.evaluate_drift([ref] * 2, {"nf4": [[2 * x for x in ref]] * 2}, LABELS)
    assert amplified.verdict is Verdict.REFUTED and "nf4 effect magnitude" in amplified.reasons[0]
    moved = DRIFT.evaluate_drift([ref] * 2, {"nf4": [ref, [3.0, 0.2, 0.1, 0.4]]}, LABELS)
    assert moved.verdict is Verdict.INCONCLUSIVE


def test_a_top_layer_that_moves_within_a_near_tie_is_uncertain_not_refuted():
    ref = [0.1, 2.9, 3.0, 0.4, 0.5, 0.6, 0.7, 0.8, 0.9, 1.0]
    swapped = [0.1, 3.0, 2.9, 0.4, 0.5, 0.6, 0.7, 0.8, 0.9, 1.0]
    labels = list(range(10))
    tie = DRIFT.evaluate_drift([ref] * 2, {"int8": [swapped] * 2}, labels)
    assert tie.verdict is Verdict.INCONCLUSIVE and "near-tie" in tie.reasons[-1]
    clear = DRIFT.evaluate_drift([ref] * 2, {"int8": [[0.1, 6.0, 1.0, 0.4, 0.5, 0.6, 0.7, 0.8, 0.9, 1.1]] * 2}, labels)
    assert any(r.startswith("int8 top layer: top layer per seed L1 (reference L2)") for r in clear.reasons)
    assert clear.verdict is Verdict.REFUTED
    d = drift(ref, swapped, 0.1)
    assert d["top_tied"] and not drift(ref, swapped, 0.0)["top_tied"]


@settings(max_examples=200, deadline=None)
@given(st.lists(st.floats(0.01, 5), min_size=3, max_size=12, unique=True), st.floats(1.3, 5))
def test_a_mode_equal_to_the_reference_survives_and_a_scaled_one_is_refuted(ref, factor):
    assert DRIFT.evaluate_drift([ref] * 2, {"nf4": [list(ref)] * 2}, list(range(len(ref)))).verdict is Verdict.SUPPORTED
    scaled = DRIFT.evaluate_drift([ref] * 2, {"nf4": [[factor * x for x in ref]] * 2}, list(range(len(ref))))
    assert scaled.verdict is Verdict.REFUTED and scaled.summary["drifts"]["nf4"][0]["spearman"] == 1.0


def test_magnitude_bounds_must_be_ordered():
    import pytest
    from pydantic import ValidationError

    with pytest.raises(ValidationError, match="low <= high"):
        CausalDrift(kind="causal_drift", magnitude_ratio=(2.0, 1.0))

