"""The confidence ladder: capped by the evidence that ran, monotone in it."""

from hypothesis import given
from hypothesis import strategies as st

from audit.confidence import LEVELS, confidence, evidence_cap
from audit.verdict import Verdict

KINDS = ["ablation", "patching", "steering", "training"]
CONTROLS = ["seeds", "random_vector", "shuffled_label"]


def test_single_ablation_without_controls_is_low():
    assert evidence_cap({"ablation"}, set(), 1) == "low"


def test_seed_replication_needs_three_seeds():
    assert evidence_cap({"ablation"}, {"seeds"}, 2) == "low"
    assert evidence_cap({"ablation"}, {"seeds"}, 3) == "medium"


def test_high_needs_two_kinds_and_seeds():
    assert evidence_cap({"ablation", "patching"}, {"seeds"}, 3) == "high"
    assert evidence_cap({"ablation", "patching"}, {"random_vector"}, 3) == "medium"


def test_waiver_caps_at_low():
    assert evidence_cap({"ablation", "patching", "steering"}, set(CONTROLS), 5, waived=True) == "low"


def test_inconclusive_and_errored_have_no_confidence():
    for v in (Verdict.INCONCLUSIVE, Verdict.ERRORED):
        assert confidence(v, {"ablation"}, {"seeds"}, 3, strong=True) == "none"


def test_weak_margin_lowers_one_step_but_not_below_low():
    assert confidence(Verdict.SUPPORTED, {"ablation"}, {"seeds"}, 3, strong=False) == "low"
    assert confidence(Verdict.SUPPORTED, {"ablation"}, set(), 1, strong=False) == "low"


subsets = lambda xs: st.sets(st.sampled_from(xs))  # noqa: E731


@given(subsets(KINDS), subsets(CONTROLS), st.integers(1, 6), st.sampled_from(KINDS), st.sampled_from(CONTROLS),
       st.booleans())
def test_more_evidence_never_lowers_confidence(kinds, controls, n, kind, control, strong):
    base = confidence(Verdict.SUPPORTED, kinds, controls, n, strong)
    more = confidence(Verdict.SUPPORTED, kinds | {kind}, controls | {control}, n + 1, strong)
    assert LEVELS.index(more) >= LEVELS.index(base)
