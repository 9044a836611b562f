"""Training criteria (LoRA efficiency, sweeps) and the permutation test: pure."""

from audit.verdict import Verdict


def test_lora_criteria_verdicts():
    from audit.criteria.lora import LoraEfficiency, SweepBest, SweepKnee

    def run(params, em):
        return [{"trainable_params": params, "exact_match": e} for e in em]

    eff = LoraEfficiency(kind="lora_efficiency", candidate="a", reference="all", control="rnd", min_param_ratio=10,
                         max_exact_match_gap=0.1, min_margin_over_control=0.1)
    good = {"a": run(100, [0.9, 1.0]), "all": run(5000, [1.0, 1.0]), "rnd": run(100, [0.2, 0.3])}
    assert eff.evaluate_lora(good).verdict is Verdict.SUPPORTED
    assert eff.evaluate_lora({**good, "rnd": run(100, [1.0, 1.0])}).verdict is Verdict.REFUTED
    assert eff.evaluate_lora({**good, "rnd": run(100, [1.0, 0.2])}).verdict is Verdict.INCONCLUSIVE
    assert eff.evaluate_lora({**good, "all": run(500, [1.0, 1.0])}).reasons[0].startswith("parameters")

    def pts(losses):
        return {k: [{"final_loss": v, "trainable_params": p}] for (k, p), v in zip([("r4", 4), ("r8", 8), ("r16", 16)], losses)}

    knee = SweepKnee(kind="sweep_knee", order=["r4", "r8", "r16"], at="r8", min_gain_ratio=2)
    assert knee.evaluate_sweep_points(pts([2.0, 1.0, 0.9])).verdict is Verdict.SUPPORTED
    assert knee.evaluate_sweep_points(pts([2.0, 1.5, 0.0])).verdict is Verdict.REFUTED  # more per parameter after r8
    assert knee.evaluate_sweep_points(pts([0.0, 0.0, 0.0])).verdict is Verdict.REFUTED  # saturated: no knee at r8
    assert knee.evaluate_sweep_points(pts([3e-12, 1e-12, 5e-13])).verdict is Verdict.REFUTED  # float noise is no gain
    best = SweepBest(kind="sweep_best", best="r16")
    assert best.evaluate_sweep_points(pts([2.0, 1.0, 0.9])).verdict is Verdict.SUPPORTED
    assert best.evaluate_sweep_points(pts([2.0, 0.5, 0.9])).verdict is Verdict.REFUTED


def test_permutation_p_is_small_for_a_real_correlation_and_large_for_noise():
    from audit.stats import permutation_p

    xs = list(range(12))
    assert permutation_p(xs, [2 * x + 1 for x in xs], 500, seed=1) < 0.01
    assert permutation_p(xs, [5, 1, 9, 3, 7, 0, 11, 2, 8, 4, 10, 6], 500, seed=1) > 0.05
    assert permutation_p(xs, [1.0] * 12, 10) == 1.0
