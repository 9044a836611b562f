"""Training criteria on synthetic per-prompt evidence with planted truths: true claims supported,
wrong ones refuted, and ceilings, floors, ties, undefined correlations and noise-level
differences inconclusive (pure)."""

import numpy as np
import pytest
from pydantic import ValidationError

from audit.calibration_training import PARAMS, RANKS, adapter_seeds, em_results, loss_results  # synthetic evidence
from audit.criteria.lora import AdapterConcentration, LoraEfficiency, SweepBest, SweepKnee, loss_noise
from audit.evidence_models.judged import AdapterAblationRuns, PlacementRuns, PointRuns
from audit.verdict import Verdict


EFF = LoraEfficiency(kind="lora_efficiency", candidate="a", reference="all", control="rnd", min_param_ratio=10,
                     max_exact_match_gap=0.2, min_margin_over_control=0.3)


def test_efficiency_supported_when_the_candidate_matches_the_reference_and_beats_the_control():
    out = EFF.evaluate(PlacementRuns(results=em_results({"a": 0.8, "all": 0.85, "rnd": 0.2}, PARAMS)))
    assert out.verdict is Verdict.SUPPORTED, out.reasons
    checks = {c["check"]: c for c in out.summary["checks"]}
    gap = checks["exact match a - all"]
    assert gap["low"] > -0.2 and set(gap["per_seed"]) == {"1", "2", "3"}  # per-seed values beside the pooled CI
    assert "seeds" in gap["method"] and "max-T over 2" in gap["method"]
    assert isinstance(out.summary["strong"], bool)


def test_efficiency_refuted_when_the_reference_is_clearly_better_or_the_control_as_good():
    behind = EFF.evaluate(PlacementRuns(results=em_results({"a": 0.2, "all": 0.9, "rnd": 0.0}, PARAMS)))
    assert behind.verdict is Verdict.REFUTED and behind.reasons[0].startswith("exact match a - all")
    same = EFF.evaluate(PlacementRuns(results=em_results({"a": 0.8, "all": 0.8, "rnd": 0.8}, PARAMS)))
    assert same.verdict is Verdict.REFUTED  # identical on all 120 prompts: the exact bound excludes a 0.3 margin
    check = [c for c in same.summary["checks"] if c["check"] == "exact match a - rnd"][0]
    assert "Clopper-Pearson" in check["method"] and check["high"] < 0.3
    small = EFF.evaluate(PlacementRuns(results=em_results({"a": 0.8, "all": 0.85, "rnd": 0.2}, {**PARAMS, "all": 500})))
    assert small.verdict is Verdict.REFUTED and small.reasons[0].startswith("parameters")


def test_efficiency_is_inconclusive_at_the_ceiling_the_floor_the_baseline_and_with_too_few_prompts():
    ceiling = EFF.evaluate(PlacementRuns(results=em_results({"a": 1.1, "all": 1.1, "rnd": 1.1}, PARAMS)))
    assert ceiling.verdict is Verdict.INCONCLUSIVE and any("ceiling" in r for r in ceiling.reasons)
    floor = EFF.evaluate(PlacementRuns(results=em_results({"a": 0.0, "all": 0.0, "rnd": 0.0}, PARAMS)))
    assert floor.verdict is Verdict.INCONCLUSIVE and any("floor" in r for r in floor.reasons)
    res = em_results({"a": 0.5, "all": 0.5, "rnd": 0.5}, PARAMS)
    base = [{"seed": r["seed"], "exact_by_prompt": r["exact_by_prompt"]} for r in res["a"]]
    untrained = EFF.evaluate(PlacementRuns(results=res, baseline=base))
    assert untrained.verdict is Verdict.INCONCLUSIVE and any("baseline" in r for r in untrained.reasons)
    # the two compared at the ceiling, the control not: that comparison cannot discriminate
    top = EFF.evaluate(PlacementRuns(results=em_results({"a": 1.1, "all": 1.1, "rnd": 0.1}, PARAMS)))
    assert top.verdict is Verdict.INCONCLUSIVE and "ceiling" in top.reasons[0]
    few = EFF.evaluate(PlacementRuns(results=em_results({"a": 0.7, "all": 0.8, "rnd": 0.3}, PARAMS, n=5, seeds=(1, 2))))
    assert few.verdict is Verdict.INCONCLUSIVE  # not significant is not a refutation


def test_sweep_best_finds_the_planted_lowest_point_and_refutes_a_wrong_one():
    pts = loss_results({"low": 0.5, "mid": 1.0, "high": 1.5})
    assert SweepBest(kind="sweep_best", best="low").evaluate(PointRuns(results=pts)).verdict is Verdict.SUPPORTED
    wrong = SweepBest(kind="sweep_best", best="mid").evaluate(PointRuns(results=pts))
    assert wrong.verdict is Verdict.REFUTED and "mid vs low" in wrong.reasons[0]
    assert SweepBest(kind="sweep_best", best="high", direction="max").evaluate(PointRuns(results=pts)).verdict is Verdict.SUPPORTED
    margin = SweepBest(kind="sweep_best", best="low", margin_relative=0.6).evaluate(PointRuns(results=pts))
    assert margin.verdict is Verdict.REFUTED  # 0.5 does not beat 1.0 by 60% of it
    kl = SweepBest(kind="sweep_best", best="low", metric="kl_drift").evaluate(PointRuns(results=pts))
    assert kl.verdict is Verdict.SUPPORTED
    params = loss_results({"small": 1.0, "big": 1.0}, params={"small": 10, "big": 1000})
    exact = SweepBest(kind="sweep_best", best="small", metric="trainable_params").evaluate(PointRuns(results=params))
    assert exact.verdict is Verdict.SUPPORTED and exact.summary["checks"][0]["method"] == "exact"


def test_sweep_best_is_inconclusive_for_ties_noise_level_differences_and_unmeasurable_noise():
    tie = SweepBest(kind="sweep_best", best="a").evaluate(PointRuns(results=loss_results({"a": 1.0, "b": 1.0})))
    assert tie.verdict is Verdict.INCONCLUSIVE
    # 0.03 apart, every prompt agreeing, but the loss moves 0.1 from one step to the next
    noisy = loss_results({"a": 0.50, "b": 0.53}, sd=0.001, loss_sd=0.1)
    out = SweepBest(kind="sweep_best", best="a").evaluate(PointRuns(results=noisy))
    assert out.verdict is Verdict.INCONCLUSIVE and any("below noise" in r for r in out.reasons)
    assert out.summary["noise_floor"] > 0.03
    short = SweepBest(kind="sweep_best", best="a").evaluate(PointRuns(results=loss_results({"a": 0.5, "b": 1.0}, logged=2)))
    assert short.verdict is Verdict.INCONCLUSIVE and any("not measurable" in r for r in short.reasons)


KNEE = SweepKnee(kind="sweep_knee", order=["r4", "r8", "r16"], at="r8", min_gain_ratio=2)


def test_sweep_knee_supports_a_planted_knee_and_refutes_more_gain_after_it():
    knee = KNEE.evaluate(PointRuns(results=loss_results({"r4": 2.0, "r8": 1.0, "r16": 0.9}, params=RANKS)))
    assert knee.verdict is Verdict.SUPPORTED, knee.reasons
    assert knee.summary["gain_ratio"] > 2
    later = KNEE.evaluate(PointRuns(results=loss_results({"r4": 2.0, "r8": 1.5, "r16": 0.0}, params=RANKS)))
    assert later.verdict is Verdict.REFUTED  # more loss per parameter after r8


def test_sweep_knee_all_zero_gain_and_the_removed_min_gain_knob():
    flat = KNEE.evaluate(PointRuns(results=loss_results({"r4": 1e-3, "r8": 1e-3, "r16": 1e-3}, sd=1e-5, params=RANKS)))
    assert flat.verdict is Verdict.INCONCLUSIVE and any("all-zero gain" in r for r in flat.reasons)
    with pytest.raises(ValidationError, match="min_gain was removed"):
        SweepKnee(kind="sweep_knee", order=["r4", "r8", "r16"], at="r8", min_gain=1e-4)
    with pytest.raises(ValidationError, match="inner point"):
        SweepKnee(kind="sweep_knee", order=["r4", "r8", "r16"], at="r4")


def test_loss_noise_is_the_step_to_step_spread_not_the_trend():
    assert loss_noise(list(np.linspace(1.0, 0.1, 40))) < 1e-12  # a clean descent has no noise
    assert abs(loss_noise([1.0, 0.0] * 10) - np.std(np.diff([1.0, 0.0] * 5), ddof=1) / np.sqrt(2)) < 1e-12
    assert loss_noise([1.0, 0.5]) is None


CONC = AdapterConcentration(kind="adapter_concentration", min_correlation=0.7, max_p=0.05, min_late_share=0.5)


def test_adapter_concentration_supported_for_a_planted_norm_effect_law_and_refuted_for_its_opposite():
    true = CONC.evaluate(AdapterAblationRuns(per_seed=adapter_seeds(lambda n: 0.1 * n ** 2), n_layers=12, permutations=199))
    assert true.verdict is Verdict.SUPPORTED, true.reasons
    corr = true.summary["checks"][0]
    assert corr["p"] <= 0.01 and "one-sided" in corr["method"] and len(corr["per_seed"]) == 3
    assert true.summary["permutation_p"] == corr["p"]  # one pooled test, not one per seed
    wrong = CONC.evaluate(AdapterAblationRuns(per_seed=adapter_seeds(lambda n: 1.0 - 0.1 * n), n_layers=12, permutations=199))
    assert wrong.verdict is Verdict.REFUTED and wrong.reasons[0].startswith("norm-effect correlation")


def test_adapter_concentration_inconclusive_for_noise_level_effects_and_undefined_correlations():
    tiny = CONC.evaluate(AdapterAblationRuns(per_seed=adapter_seeds(lambda n: 1e-7 * n, prompt_sd=1e-8, loss_sd=1e-5), n_layers=12, permutations=199))
    assert tiny.verdict is Verdict.INCONCLUSIVE and all("below noise" in r for r in tiny.reasons)
    flat = CONC.evaluate(AdapterAblationRuns(per_seed=adapter_seeds(lambda n: np.linspace(0, 1, len(n)), constant_norms=True), n_layers=12, permutations=199))
    assert flat.verdict is Verdict.INCONCLUSIVE
    assert any("undefined correlation" in r for r in flat.reasons)


def test_adapter_ablation_needs_at_least_199_permutations():
    from interventions.lora import LoraAdapterAblation

    task = {"family": "x"}
    assert LoraAdapterAblation(kind="lora_adapter_ablation", task=task).permutations >= 199
    with pytest.raises(ValidationError):
        LoraAdapterAblation(kind="lora_adapter_ablation", task=task, permutations=50)


def test_row_correlations_of_a_single_layer_are_undefined_not_an_error():
    import numpy as np

    from audit.criteria.deployment import _spearman_rows
    from audit.criteria.lora import _pearson

    assert np.isnan(_pearson(np.array([1.0]), np.array([[2.0], [3.0]]))).all()
    assert np.isnan(_spearman_rows(np.array([[1.0]]), np.array([[2.0]]))).all()
    r = _pearson(np.array([1.0, 2.0, 3.0]), np.array([[1.0, 2.0, 3.0], [3.0, 2.0, 1.0], [1.0, 1.0, 1.0]]))
    assert np.allclose(r[:2], [1.0, -1.0]) and np.isnan(r[2])


def test_sweep_best_within_a_tolerance_is_non_inferiority():
    """Planted: X's loss 1.05 against 1.0 is within 10% (supported) and not "best" outright
    (refuted); 1.3 against 1.0 is beyond 10% (refuted); a tolerance the loss's own
    noise swamps is inconclusive; margin and tolerance together are refused."""
    pts = loss_results({"x": 1.05, "ref": 1.0})
    within = SweepBest(kind="sweep_best", best="x", within_relative=0.1).evaluate(PointRuns(results=pts))
    assert within.verdict is Verdict.SUPPORTED, within.reasons
    assert "not above ref by more than 0.1 of it" in within.reasons[0]
    far = SweepBest(kind="sweep_best", best="x", within_relative=0.1).evaluate(
        PointRuns(results=loss_results({"x": 1.3, "ref": 1.0})))
    assert far.verdict is Verdict.REFUTED
    assert SweepBest(kind="sweep_best", best="x").evaluate(PointRuns(results=pts)).verdict is Verdict.REFUTED
    high = SweepBest(kind="sweep_best", best="x", direction="max", within_relative=0.1)
    assert high.evaluate(PointRuns(results=loss_results({"x": 0.95, "ref": 1.0}))).verdict is Verdict.SUPPORTED
    noisy = loss_results({"x": 1.0, "ref": 1.05}, sd=0.001, loss_sd=0.3)
    out = SweepBest(kind="sweep_best", best="x", within_relative=0.1).evaluate(PointRuns(results=noisy))
    assert out.verdict is Verdict.INCONCLUSIVE and any("below noise" in r for r in out.reasons)
    with pytest.raises(ValidationError, match="exclude each other"):
        SweepBest(kind="sweep_best", best="x", within_relative=0.1, margin_relative=0.1)
