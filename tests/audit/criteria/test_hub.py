"""The hub criterion on per-prompt tables: planted truths, nulls, degeneracy, monotonicity."""

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from audit.calibration import SweepDesign, sweep_table
from audit.criteria.hub import HubAcceptance, TopComponentAcceptance, is_strong
from audit.inference import PromptTable
from audit.verdict import STRENGTH, Verdict

SMALL = SweepDesign(n_arms=6, families=4, pool=12, k=6, seeds=(1, 2, 3))


def spec(layer=2, **kw):
    return HubAcceptance(kind="hub", layer=layer, **kw)


def planted(mu, seed=0, design=SMALL):
    return sweep_table(mu, design, np.random.default_rng(seed))


def test_planted_hub_is_supported_and_a_wrong_layer_refuted():
    t = planted([1.0, 1.0, 4.0, 1.0, 1.0, 1.0])
    out = spec(2).evaluate(t)
    assert out.verdict is Verdict.SUPPORTED, out.reasons
    assert out.summary["top_separated"] and is_strong(out)
    assert len(out.summary["intervals"]) == 6  # 5 pairwise + the hub's own effect
    wrong = spec(1).evaluate(t)
    assert wrong.verdict is Verdict.REFUTED
    assert "layer 2" in wrong.reasons[0] and "CI" in wrong.reasons[0]


def test_all_equal_layers_are_inconclusive_not_refuted():
    verdicts = [spec(3).evaluate(planted([2.0] * 6, seed)).verdict for seed in range(8)]
    assert Verdict.SUPPORTED not in verdicts
    assert verdicts.count(Verdict.INCONCLUSIVE) >= 7


def test_tie_at_the_top_is_inconclusive():
    out = spec(2).evaluate(planted([1.0, 1.0, 4.0, 4.0, 1.0, 1.0]))
    assert out.verdict is Verdict.INCONCLUSIVE
    assert "not separated" in out.reasons[0]


def test_flat_and_zero_sweeps_are_degenerate():
    rows = np.full((8, 4), 0.6)
    t = PromptTable(rows, (0, 1, 2, 3), tuple("aabbaabb"), tuple(f"p{i}" for i in range(8)), (1,) * 8)
    out = spec(0).evaluate(t)
    assert out.verdict is Verdict.INCONCLUSIVE and out.summary["flat"]
    assert "flat sweep" in out.reasons[0]
    zero = PromptTable(np.zeros((8, 4)), t.labels, t.family, t.unit, t.seed)
    assert spec(0).evaluate(zero).verdict is Verdict.INCONCLUSIVE


def test_undefined_statistics_are_inconclusive():
    """Every prompt has the same effects (no spread between prompts): no interval is defined."""
    rows = np.tile([1.0, 3.0, 1.0], (8, 1))
    t = PromptTable(rows, (0, 1, 2), tuple("aabbaabb"), tuple(f"p{i}" for i in range(8)), (1,) * 8)
    out = spec(1).evaluate(t)
    assert out.verdict is Verdict.INCONCLUSIVE and "undefined" in out.reasons[0]


def test_one_seed_still_has_prompt_level_noise():
    """With one seed the old rule had SD 0 and ignored noise; prompts are the replication now."""
    design = SweepDesign(n_arms=6, families=4, pool=12, k=6, seeds=(1,))
    noisy = planted([1.0, 1.0, 1.3, 1.0, 1.0, 1.0], 3, design)   # +0.3 SD: not decidable from 24 prompts
    assert spec(2, min_seed_agreement=0, min_family_fraction=0).evaluate(noisy).verdict is Verdict.INCONCLUSIVE


def test_margin_is_required_of_the_interval():
    t = planted([1.0, 1.0, 4.0, 3.0, 1.0, 1.0], design=SweepDesign(n_arms=6, families=4, pool=40, k=30))
    assert spec(2, min_margin_relative=0.0, min_family_fraction=0).evaluate(t).verdict is Verdict.SUPPORTED
    assert spec(2, min_margin_relative=0.4, min_family_fraction=0).evaluate(t).verdict is Verdict.INCONCLUSIVE


def test_min_effect_above_the_interval_refutes():
    t = planted([0.1, 0.1, 1.0, 0.1, 0.1, 0.1])
    out = spec(2, min_effect=5.0).evaluate(t)
    assert out.verdict is Verdict.REFUTED and "min_effect" in out.reasons[0]


def test_claimed_layer_missing_is_errored():
    assert spec(9).evaluate(planted([1.0] * 6)).verdict is Verdict.ERRORED


def test_family_agreement_is_required_for_support():
    t = planted([1.0, 1.0, 4.0, 1.0, 1.0, 1.0])
    assert spec(2, min_family_fraction=1.0).evaluate(t).verdict is Verdict.SUPPORTED
    out = TopComponentAcceptance(kind="top_component", component="L2", min_family_fraction=1.0).evaluate(
        sweep_table([1.0, 1.0, 4.0, 1.0], SMALL, np.random.default_rng(0), ["L0", "L1", "L2", "L3"]))
    assert out.verdict is Verdict.SUPPORTED


def test_noise_z_names_its_replacement():
    with pytest.raises(ValueError, match="alpha"):
        HubAcceptance(kind="hub", layer=1, noise_z=2.0)


def test_same_table_gives_identical_intervals():
    t = planted([1.0, 1.0, 2.0, 1.0, 1.0, 1.0], 4)
    assert spec(2).evaluate(t).summary["intervals"] == spec(2).evaluate(planted([1.0, 1.0, 2.0, 1.0, 1.0, 1.0], 4)).summary["intervals"]


@settings(max_examples=15, deadline=None)
@given(boost=st.floats(0.0, 3.0), seed=st.integers(0, 50))
def test_more_evidence_for_the_hub_never_weakens_the_verdict(boost, seed):
    """Adding a constant to the claimed layer's effect on every prompt never moves the verdict left."""
    base = planted([1.0, 1.2, 1.5, 1.1, 1.0, 1.0], seed)
    boosted = PromptTable(base.values + np.eye(6)[2] * boost, base.labels, base.family, base.unit, base.seed)
    assert STRENGTH[spec(2, min_family_fraction=0).evaluate(boosted).verdict] >= \
        STRENGTH[spec(2, min_family_fraction=0).evaluate(base).verdict]
