"""The registry of evidence builders and what they exchange with the runner.

A builder (one module per intervention ``kind``) receives a :class:`RunContext` and returns an :class:`EvidenceResult`; the runner
turns it into a ledger record. Adding an intervention = a spec in ``interventions/`` plus a
builder here (and optionally a report card in ``audit/cards/``).
"""

from __future__ import annotations

from dataclasses import dataclass, field

from audit.registry import Registry
from audit.verdict import Outcome

BUILDERS: Registry = Registry("evidence builder (intervention kind)")


def evidence_for(kind: str):
    """Decorator registering the evidence builder of an intervention kind. A builder runs on the
    driver: it plans tasks, runs them with :func:`audit.units.run_tasks` (wherever the executor
    computes them) and assembles their values into evidence."""
    return BUILDERS.register(kind)


@dataclass
class RunContext:
    """What a builder may use: the claim, the loaded model and adapter, options and progress."""

    lc: object
    loaded: object
    adapter: object
    n_layers: int
    options: object
    progress: object
    memo: dict = field(default_factory=dict)  # an op's intermediates reused within the claim, by content key


@dataclass
class EvidenceResult:
    """Outcome plus the evidence record, and what ran (for the confidence cap).

    ``kinds``: the independent evidence kinds that ran (building an object — training an
    adapter, quantizing — is not a kind of its own). ``strong``: fallback when the criterion's
    ``outcome.summary`` carries no ``"strong"`` (the runner prefers the summary's). ``cap``: an
    extra ceiling on confidence (a comparison passes the lowest cap of the claims it compares;
    a steering claim that prompting beats caps at low), ``cap_reason`` saying why.
    """

    outcome: Outcome
    evidence: dict
    kinds: set[str] = field(default_factory=set)
    controls_run: set[str] = field(default_factory=set)
    strong: bool = False
    waived: bool = False
    cap: str | None = None
    cap_reason: str | None = None  # why ``cap`` (default: a comparison's inputs)


def checks_decided(outcome: Outcome) -> bool:
    """Strong evidence for check-list criteria: no check was left uncertain."""
    return not any(c["status"] == "uncertain" for c in outcome.summary.get("checks", []))
