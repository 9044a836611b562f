"""The confidence ladder: capped by the evidence that ran, monotone in it; exploratory claims and
comparisons of them are capped."""

from hypothesis import given
from hypothesis import strategies as st

from audit.confidence import LEVELS, claim_cap, confidence, evidence_cap, lowest, record_cap
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
        assert confidence(v, {"ablation"}, {"seeds"}, 3, strong=True, stage="confirmatory") == "none"


def test_weak_margin_lowers_one_step_but_not_below_low():
    assert confidence(Verdict.SUPPORTED, {"ablation"}, {"seeds"}, 3, strong=False, stage="confirmatory") == "low"
    assert confidence(Verdict.SUPPORTED, {"ablation"}, set(), 1, strong=False, stage="confirmatory") == "low"


subsets = lambda xs: st.sets(st.sampled_from(xs))  # noqa: E731


@given(subsets(KINDS), subsets(CONTROLS), st.integers(1, 6), st.sampled_from(KINDS), st.sampled_from(CONTROLS),
       st.booleans())
def test_more_evidence_never_lowers_confidence(kinds, controls, n, kind, control, strong):
    base = confidence(Verdict.SUPPORTED, kinds, controls, n, strong, stage="confirmatory")
    more = confidence(Verdict.SUPPORTED, kinds | {kind}, controls | {control}, n + 1, strong, stage="confirmatory")
    assert LEVELS.index(more) >= LEVELS.index(base)


def test_worked_examples_of_the_readme_ladder():
    ok = Verdict.SUPPORTED
    assert confidence(ok, {"ablation"}, {"seeds"}, 1, True, stage="confirmatory") == "low"
    assert confidence(ok, {"ablation"}, {"seeds"}, 3, True, stage="confirmatory") == "medium"
    assert confidence(ok, {"ablation"}, {"seeds"}, 3, False, stage="confirmatory") == "low"
    assert confidence(ok, {"ablation", "patching"}, {"seeds"}, 3, True, stage="confirmatory") == "high"
    assert confidence(ok, {"ablation", "patching", "steering"}, {"seeds", "random_vector"}, 3, True,
                      stage="confirmatory") == "very_high"


@given(subsets(KINDS), subsets(CONTROLS), st.integers(1, 6), st.booleans(), st.booleans(),
       st.sampled_from([Verdict.SUPPORTED, Verdict.REFUTED]))
def test_exploratory_claims_are_capped_at_low(kinds, controls, n, strong, waived, verdict):
    got = confidence(verdict, kinds | {"ablation"}, controls, n, strong, waived, stage="exploratory")
    assert got == "low"
    cap, notes = claim_cap({"ablation", "patching", "steering"}, set(CONTROLS), 5, stage="exploratory")
    assert cap == "low" and any("exploratory" in n for n in notes)


def test_stage_is_required_and_checked():
    import pytest

    with pytest.raises(TypeError):
        confidence(Verdict.SUPPORTED, {"ablation"}, {"seeds"}, 3, True)  # no silent default
    with pytest.raises(ValueError):
        claim_cap({"ablation"}, {"seeds"}, 3, stage="pilot")


def test_comparison_inherits_the_lowest_cap_of_its_inputs():
    inputs = [claim_cap({"ablation", "patching"}, {"seeds"}, 3, stage="confirmatory")[0],   # high
              claim_cap({"ablation"}, {"seeds"}, 3, stage="confirmatory")[0]]                # medium
    assert inputs == ["high", "medium"] and lowest(*inputs) == "medium"
    cap, notes = claim_cap({"ablation", "patching"}, {"seeds"}, 3, stage="confirmatory", ceiling=lowest(*inputs))
    assert cap == "medium" and any("derived" in n for n in notes)
    # one exploratory input drags the comparison to low, even a strong one
    low = claim_cap({"ablation"}, {"seeds"}, 3, stage="exploratory")[0]
    assert confidence(Verdict.SUPPORTED, {"ablation", "patching"}, {"seeds"}, 3, True, stage="confirmatory",
                      ceiling=lowest("high", low)) == "low"
    # a ceiling never raises the cap
    assert claim_cap({"ablation"}, set(), 1, stage="confirmatory", ceiling="very_high")[0] == "low"


def test_record_cap_uses_the_stored_cap_else_recomputes():
    assert record_cap({"confidence_cap": "high"}) == "high"
    old = {"evidence_kinds": ["ablation"], "controls_run": ["seeds"], "claim": {"controls": {"seeds": [1, 2, 3]}}}
    assert record_cap(old) == "low"  # no stage stored: exploratory
    assert record_cap({**old, "claim": {"stage": "confirmatory", "controls": {"seeds": [1, 2, 3]}}}) == "medium"
