"""The join of interventions and criteria is a type: a criterion judges the evidence type its
evaluate(evidence) annotation names, an intervention declares the type its builder hands over, and
the acceptance kinds that apply are derived from the two (no method names)."""

import pytest

import interventions  # noqa: F401  (registers)
from audit.criteria import CRITERIA
from audit.criteria.base import applies, criteria_for, criterion, judged_type
from audit.evidence_models.judged import PointRuns, SteeringSweep
from audit.inference import PromptTable
from audit.spec import StrictModel
from audit.verdict import Outcome
from interventions.registry import INTERVENTIONS, intervention


def test_every_criterion_has_one_evaluate_naming_its_evidence_type():
    for kind, spec in CRITERIA.items():
        assert isinstance(judged_type(spec), type), kind
        assert not [m for m in dir(spec) if m.startswith("evaluate_")], kind


def test_applicable_kinds_follow_from_the_types():
    assert set(criteria_for(PromptTable)) == {"hub", "top_component", "effect_at_least", "rank_top_k", "exceeds"}
    assert set(criteria_for(SteeringSweep)) == {"steering", "steering_layer_sensitivity", "steering_ratio"}
    assert set(criteria_for(PointRuns)) == {"sweep_best", "sweep_knee"}
    for kind, spec in INTERVENTIONS.items():  # every intervention is judged by at least one kind
        assert criteria_for(spec.evidence_type), kind
    assert not applies(CRITERIA.get("hub"), SteeringSweep)


def test_a_subclass_of_the_judged_type_is_judged_too():
    class Richer(PointRuns):
        note: str = ""

    assert set(criteria_for(Richer)) == set(criteria_for(PointRuns))


def test_registration_refuses_an_unannotated_criterion_or_an_undeclared_intervention():
    class Untyped(StrictModel):
        def evaluate(self, evidence) -> Outcome: ...

    class TwoArgs(StrictModel):
        def evaluate(self, table: PromptTable, n_layers: int) -> Outcome: ...

    for spec in (Untyped, TwoArgs):
        with pytest.raises(TypeError):
            criterion("never_registered")(spec)
    with pytest.raises(TypeError, match="evidence_type"):
        intervention("never_registered")(type("Undeclared", (StrictModel,), {}))
    assert "never_registered" not in CRITERIA and "never_registered" not in INTERVENTIONS
