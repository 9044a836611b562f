"""The four training claims the published ledger (run a89dc9b8…, 2026-12-01) ended "refuted, medium"
on degenerate evidence, reconstructed as synthetic per-prompt evidence shaped like theirs: with
the new rules each is inconclusive and says which degeneracy.

Per-run numbers (trainable parameters, exact match, final loss per seed, the last 10 logged
losses, per-layer adapter effects and norms) are copied from reports/ledger.jsonl at 3
significant digits; per-prompt values, which that ledger did not store, are drawn around them.
"""

import numpy as np

from audit.criteria.lora import AdapterConcentration, LoraEfficiency, SweepBest, SweepKnee
from audit.evidence_models.judged import AdapterAblationRuns, PlacementRuns, PointRuns
from audit.verdict import Verdict

SEEDS = (42, 137, 2026)

# (seed, trainable params, final loss, last 10 logged losses) per point and seed
RANK = {
    "r4": [(42, 1221120, 4.21e-05, [6.12e-05, 9.69e-05, 7.27e-05, 8.65e-05, 6.52e-05, 4.2e-05, 4.45e-05, 4.35e-05, 4.16e-05, 3.86e-05]),
           (137, 1221120, 3.13e-05, [5.09e-05, 5.23e-05, 5.31e-05, 4.44e-05, 4.01e-05, 3.71e-05, 3.61e-05, 2.71e-05, 3.1e-05, 2.52e-05]),
           (2026, 1221120, 3.98e-05, [5.45e-05, 5.29e-05, 4.78e-05, 4.42e-05, 6.07e-05, 2.92e-05, 5.89e-05, 3.48e-05, 3.23e-05, 4.4e-05])],
    "r8": [(42, 2442240, 4.79e-05, [7.59e-05, 9.99e-05, 7.73e-05, 8.97e-05, 7.51e-05, 4.68e-05, 5.16e-05, 4.95e-05, 4.59e-05, 4.57e-05]),
           (137, 2442240, 2.88e-05, [3.73e-05, 4.4e-05, 4.96e-05, 3.96e-05, 3.58e-05, 3.04e-05, 3.67e-05, 2.45e-05, 2.77e-05, 2.48e-05]),
           (2026, 2442240, 4.42e-05, [6.49e-05, 6.22e-05, 5.86e-05, 5.19e-05, 7.45e-05, 3.6e-05, 6.91e-05, 3.96e-05, 3.38e-05, 4.23e-05])],
    "r16": [(42, 4884480, 4.8e-05, [6.8e-05, 0.000102, 7.98e-05, 9e-05, 7.4e-05, 4.66e-05, 5.73e-05, 4.75e-05, 4.25e-05, 4.61e-05]),
            (137, 4884480, 2.79e-05, [3.43e-05, 3.96e-05, 4.27e-05, 3.58e-05, 3.35e-05, 3.04e-05, 3.44e-05, 2.34e-05, 2.74e-05, 2.41e-05]),
            (2026, 4884480, 5.04e-05, [7.04e-05, 6.69e-05, 6.22e-05, 5.97e-05, 8.62e-05, 4.04e-05, 7.87e-05, 4.59e-05, 4.05e-05, 4.62e-05])]}

FORMATS = {
    "plain": [(42, 2442240, 0.000513, [0.00052, 0.000574, 0.000762, 0.00087, 0.000954, 0.000607, 0.000436, 0.000556, 0.000482, 0.000484]),
              (137, 2442240, 0.023, [0.000365, 0.00058, 0.0529, 0.0149, 0.0569, 0.00267, 0.0554, 0.0544, 0.000668, 0.00209]),
              (2026, 2442240, 0.0159, [0.00632, 0.0111, 0.0736, 0.0023, 0.191, 0.00132, 0.0653, 0.00347, 0.00797, 0.0014])],
    "chat": [(42, 2442240, 4.98e-05, [7.39e-05, 0.000105, 7.95e-05, 8.59e-05, 8.35e-05, 4.65e-05, 5.5e-05, 5.27e-05, 4.54e-05, 4.93e-05]),
             (137, 2442240, 2.81e-05, [3.74e-05, 4.1e-05, 4.32e-05, 3.68e-05, 3.23e-05, 3.15e-05, 3.55e-05, 2.24e-05, 2.58e-05, 2.52e-05]),
             (2026, 2442240, 4.37e-05, [5.53e-05, 6.12e-05, 6.84e-05, 4.79e-05, 7.24e-05, 3.04e-05, 7.91e-05, 3.5e-05, 3.32e-05, 4.11e-05])],
    "chat_multiturn_verbose": [
        (42, 2442240, 0.00234, [0.000115, 0.000177, 9.22e-05, 7.82e-05, 6.41e-05, 4.83e-05, 0.0115, 6.43e-05, 4.28e-05, 6.55e-05]),
        (137, 2442240, 0.0425, [2.84e-05, 3.87e-05, 3.66e-05, 0.00606, 7.27e-05, 0.00167, 6.78e-05, 0.0496, 7.38e-05, 0.161]),
        (2026, 2442240, 5.59e-05, [7.22e-05, 5.56e-05, 3.5e-05, 4.87e-05, 5.98e-05, 4.38e-05, 4.53e-05, 7.27e-05, 7.01e-05, 4.76e-05])],
    "bad": [(42, 2442240, 3.33e-05, [3.58e-05, 3.95e-05, 5.17e-05, 4.19e-05, 3.96e-05, 2.95e-05, 4.11e-05, 3.12e-05, 2.47e-05, 3.98e-05]),
            (137, 2442240, 2.25e-05, [2.37e-05, 3.63e-05, 3.33e-05, 2.98e-05, 2.95e-05, 2.23e-05, 3.14e-05, 1.57e-05, 1.91e-05, 2.39e-05]),
            (2026, 2442240, 2.76e-05, [3.99e-05, 3.92e-05, 2.5e-05, 2.81e-05, 4.09e-05, 2.69e-05, 3.47e-05, 2.74e-05, 2.38e-05, 2.52e-05])]}

# (seed, per-layer effect (nats), per-layer adapter norm, last 10 logged losses of that adapter's run)
ADAPTER = [
    (42, [-2.35e-06, -1.11e-06, -4.91e-07, -1.83e-06, -1.31e-06, -8.12e-07, -2.21e-06, -8.69e-07, -7.21e-07, -1.77e-06,
          -2.22e-07, 2.28e-07, 1.46e-06, 2.59e-06, 1.35e-06, -6.47e-07, 2.15e-07, 3.96e-06, -4.15e-07, -1.69e-07,
          1.12e-06, 1.27e-06, 5.36e-06, 3.31e-06, -7.47e-07, 3.1e-06, 5.35e-06, 8.63e-06, 1.11e-05, 3.32e-05],
     [8.72, 8.84, 9.82, 9.35, 8.91, 8.83, 9.11, 8.88, 9.0, 9.34, 9.04, 9.15, 8.98, 9.07, 9.34, 9.7, 9.27, 9.59, 9.35,
      9.46, 9.66, 9.68, 9.37, 9.7, 10.3, 10.2, 10.6, 10.7, 11.0, 10.9],
     [7.59e-05, 9.99e-05, 7.73e-05, 8.97e-05, 7.51e-05, 4.68e-05, 5.16e-05, 4.95e-05, 4.59e-05, 4.57e-05]),
    (137, [4.01e-07, 1.55e-06, 7.84e-07, -4.62e-07, -2.63e-07, -1.25e-07, -1.04e-06, 3.43e-07, 8.3e-09, -6.15e-07,
           -1.01e-07, -1.14e-06, -1.17e-07, -3.15e-07, 9.64e-08, -1.26e-06, -9.26e-07, 6.26e-08, -1.59e-06, -1.02e-06,
           -1.22e-06, 1.02e-06, 1.07e-06, 1.31e-06, -8.12e-07, 2.93e-06, 3.94e-06, 8.63e-06, 1.39e-05, 2.37e-05],
     [8.88, 8.99, 8.92, 8.96, 8.63, 8.97, 8.87, 9.13, 8.91, 8.99, 8.6, 9.43, 8.9, 9.17, 8.99, 9.4, 9.36, 9.71, 9.11,
      9.71, 9.85, 9.72, 10.1, 10.5, 10.9, 11.2, 11.3, 12.0, 11.8, 11.4],
     [3.73e-05, 4.4e-05, 4.96e-05, 3.96e-05, 3.58e-05, 3.04e-05, 3.67e-05, 2.45e-05, 2.77e-05, 2.48e-05]),
    (2026, [-0.00148, 9.26e-05, 0.000815, 0.000341, 0.00103, 0.000659, 0.000405, 0.00114, 0.000362, 0.000329, -9.2e-05,
            0.00061, -5.62e-05, 0.00024, 0.000898, 0.000381, 0.000243, 9.76e-05, 0.000356, 0.000257, 0.000692,
            -0.000286, -0.00125, 0.000218, 0.00016, -0.000201, -3.3e-05, -0.00091, -0.00155, -0.00257],
     [8.24, 8.01, 8.53, 8.21, 8.22, 8.56, 8.37, 8.31, 8.58, 8.24, 8.15, 8.82, 8.43, 8.83, 8.6, 8.7, 9.05, 8.87, 8.98,
      8.81, 9.23, 9.7, 9.94, 10.1, 10.6, 10.7, 11.1, 10.6, 11.8, 10.6],
     [6.49e-05, 6.22e-05, 5.86e-05, 5.19e-05, 7.45e-05, 3.6e-05, 6.91e-05, 3.96e-05, 3.38e-05, 4.23e-05])]

# smollm2_json_lora_efficiency: every placement at exact match 1.0 on all 12 held-out prompts of every seed
JSON_PARAMS = {"atlas": 52224, "all_linear": 2442240, "random_matched": 52224}


def loss_points(table: dict, n_prompts: int = 24, spread: float = 0.3) -> dict:
    """Per-example final losses drawn around each run's final loss (the same training prompts per seed)."""
    rng = np.random.default_rng(0)
    out = {}
    for point, runs in table.items():
        out[point] = [{"seed": s, "trainable_params": p, "losses": losses, "train_loss_by_prompt": {"json_schema": {
            f"json_schema-{i:03d}": float(final * np.exp(rng.normal(0, spread))) for i in range(n_prompts)}}}
            for s, p, final, losses in runs]
    return out


def test_rank_sweep_saturated_near_3e_5_loss_is_an_all_zero_gain_not_a_refutation():
    knee = SweepKnee(kind="sweep_knee", metric="final_loss", order=["r4", "r8", "r16"], at="r8", min_gain_ratio=2.0)
    out = knee.evaluate(PointRuns(results=loss_points(RANK)))
    assert out.verdict is Verdict.INCONCLUSIVE, out.reasons
    assert any("all-zero gain" in r for r in out.reasons) and any("below noise" in r for r in out.reasons)
    assert out.summary["strong"] is False and out.summary["noise_floor"] > 1e-6  # measured, recorded


def test_format_ablation_losses_within_their_own_step_to_step_noise_are_inconclusive():
    best = SweepBest(kind="sweep_best", metric="final_loss", best="chat_multiturn_verbose", direction="min")
    out = best.evaluate(PointRuns(results=loss_points(FORMATS)))
    assert out.verdict is Verdict.INCONCLUSIVE, out.reasons
    assert any("below noise" in r for r in out.reasons)
    assert set(out.summary["loss_noise"]) == set(FORMATS)


def test_json_efficiency_with_every_placement_at_exact_match_one_is_a_ceiling():
    results = {a: [{"seed": s, "trainable_params": p, "losses": [0.1] * 10 + [1e-3, 2e-3, 1.5e-3],
                    "exact_by_prompt": {"json_schema": {f"json_schema-{i:03d}": 1.0 for i in range(12)}}}
                   for s in SEEDS] for a, p in JSON_PARAMS.items()}
    eff = LoraEfficiency(kind="lora_efficiency", candidate="atlas", reference="all_linear", control="random_matched",
                         min_param_ratio=10, max_exact_match_gap=0.1, min_margin_over_control=0.1)
    out = eff.evaluate(PlacementRuns(results=results))
    assert out.verdict is Verdict.INCONCLUSIVE, out.reasons
    assert any("ceiling" in r for r in out.reasons) and not out.summary["checks"]


def test_adapter_late_layers_over_micro_nat_effects_is_below_noise_not_refuted():
    rng = np.random.default_rng(1)
    seeds = []
    for s, effects, norms, losses in ADAPTER:
        by_prompt = {f"json_schema-{i:03d}": {str(k): float(e + abs(e) * rng.normal(0, 0.5)) for k, e in enumerate(effects)}
                     for i in range(12)}
        seeds.append({"seed": s, "norms": {str(k): v for k, v in enumerate(norms)}, "losses": losses,
                      "effects_by_prompt": {"json_schema": by_prompt}})
    crit = AdapterConcentration(kind="adapter_concentration", min_correlation=0.7, max_p=0.05, min_late_share=0.5)
    out = crit.evaluate(AdapterAblationRuns(per_seed=seeds, n_layers=30, permutations=2000))
    assert out.verdict is Verdict.INCONCLUSIVE, out.reasons
    flagged = [r for r in out.reasons if "below noise" in r]
    assert any("seed 42" in r for r in flagged) and not any("seed 2026" in r for r in flagged)
