"""effect_at_least, rank_top_k and exceeds on per-prompt tables: planted truths and nulls."""

import numpy as np

from audit.calibration import SweepDesign, sweep_table
from audit.criteria.effects import EffectAtLeast, Exceeds, RankTopK
from audit.verdict import Verdict

D = SweepDesign(n_arms=6, families=4, pool=20, k=10, seeds=(1, 2, 3))
HEADS = [f"L8.H{h}" for h in range(6)]


def table(mu, seed=0):
    return sweep_table(mu, D, np.random.default_rng(seed), HEADS)


def test_effect_at_least_three_ways():
    t = table([1.0, 0, 0, 0, 0, 0])
    assert EffectAtLeast(kind="effect_at_least", component="L8.H0", threshold=0.3).evaluate(t).verdict is Verdict.SUPPORTED
    assert EffectAtLeast(kind="effect_at_least", component="L8.H0", threshold=2.0).evaluate(t).verdict is Verdict.REFUTED
    edge = EffectAtLeast(kind="effect_at_least", component="L8.H0", threshold=1.0).evaluate(t)
    assert edge.verdict is Verdict.INCONCLUSIVE and "contains the threshold" in edge.reasons[0]
    assert len(edge.summary["interval"]) == 2


def test_effect_exactly_zero_everywhere_is_degenerate_not_refuted():
    t = table([0.0] * 6)
    zero = type(t)(np.zeros_like(t.values), t.labels, t.family, t.unit, t.seed)
    out = EffectAtLeast(kind="effect_at_least", component="L8.H0", threshold=0.5).evaluate(zero)
    assert out.verdict is Verdict.INCONCLUSIVE and "zero variance" in out.reasons[0]


def test_rank_top_k_needs_separation_from_rank_k_plus_one():
    t = table([3.0, 2.0, 0, 0, 0, 0])
    assert RankTopK(kind="rank_top_k", component="L8.H1", k=2).evaluate(t).verdict is Verdict.SUPPORTED
    assert RankTopK(kind="rank_top_k", component="L8.H1", k=1).evaluate(t).verdict is Verdict.REFUTED
    assert RankTopK(kind="rank_top_k", component="L8.H4", k=2).evaluate(t).verdict is Verdict.REFUTED


def test_mutually_exclusive_top_head_claims_are_not_both_supported_on_a_silent_model():
    """No head does anything: "H3 is the top head" and "H5 is the top head" must both be undecided."""
    for seed in range(5):
        t = table([0.0] * 6, seed)
        verdicts = {RankTopK(kind="rank_top_k", component=h, k=1).evaluate(t).verdict for h in ("L8.H3", "L8.H5")}
        assert Verdict.SUPPORTED not in verdicts


def test_tie_at_rank_k_is_inconclusive():
    t = table([2.0, 2.0, 0, 0, 0, 0])
    out = RankTopK(kind="rank_top_k", component="L8.H0", k=1).evaluate(t)
    assert out.verdict is Verdict.INCONCLUSIVE


def test_exceeds_planted_and_reversed():
    t = table([2.0, 0.0, 2.0, 0, 0, 0])
    ok = Exceeds(kind="exceeds", greater=["L8.H0", "L8.H2"], than=["L8.H1"]).evaluate(t)
    assert ok.verdict is Verdict.SUPPORTED and ok.summary["inference"]["family_size"] == 2
    assert Exceeds(kind="exceeds", greater=["L8.H1"], than=["L8.H0"]).evaluate(t).verdict is Verdict.REFUTED
    tie = Exceeds(kind="exceeds", greater=["L8.H0"], than=["L8.H2"]).evaluate(t)
    assert tie.verdict is Verdict.INCONCLUSIVE
