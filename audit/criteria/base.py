"""The registry of acceptance criteria (one module per YAML ``acceptance.kind`` registers here) and
the join with the interventions: a criterion judges the evidence type its ``evaluate`` names.

Every criterion is ``evaluate(self, evidence: <type>) -> Outcome``; an intervention spec declares
``evidence_type`` (what its builder assembles: :mod:`audit.evidence_models.judged`, or a
:class:`audit.inference.PromptTable` for the sweeps). An acceptance kind applies to an
intervention iff the intervention's evidence type is (a subclass of) the type the criterion
judges — derived from the annotations, never from method names.
"""

from __future__ import annotations

import inspect
from typing import get_type_hints

from audit.registry import Registry

CRITERIA: Registry = Registry("acceptance kind")


def judged_type(spec: type) -> type:
    """The evidence type a criterion judges: the annotation of ``evaluate``'s one parameter."""
    evaluate = getattr(spec, "evaluate", None)
    params = list(inspect.signature(evaluate).parameters)[1:] if callable(evaluate) else []
    if len(params) != 1:
        raise TypeError(f"{spec.__name__}: a criterion has one method evaluate(self, evidence) -> Outcome")
    judged = get_type_hints(evaluate).get(params[0])
    if not isinstance(judged, type):
        raise TypeError(f"{spec.__name__}.evaluate: annotate '{params[0]}' with the evidence type it judges")
    return judged


def criterion(kind: str):
    """Class decorator registering an acceptance spec under its YAML ``kind`` (it must judge one
    annotated evidence type)."""
    def register(spec: type) -> type:
        judged_type(spec)
        return CRITERIA.register(kind)(spec)
    return register


def applies(spec: type, evidence_type: type) -> bool:
    """Whether a criterion can judge evidence of ``evidence_type``."""
    return issubclass(evidence_type, judged_type(spec))


def judge(claim, evidence: dict):
    """The claim's criterion on its evidence: the view of the builder's evidence dict that the
    intervention's ``evidence_type`` declares (``Type.of(evidence, claim)``; a sweep's
    :class:`~audit.inference.PromptTable` is built by its builder and judged directly)."""
    return claim.acceptance.evaluate(claim.intervention.evidence_type.of(evidence, claim))


def criteria_for(evidence_type: type) -> list[str]:
    """The acceptance kinds that can judge evidence of ``evidence_type``."""
    return [kind for kind, spec in CRITERIA.items() if applies(spec, evidence_type)]
