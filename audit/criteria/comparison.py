"""Acceptance criteria over several sweeps' tops (pure): ``tops_differ`` and ``tops_match``.

A sweep is informative only if its top is separated: the compared claim's criterion reports
``top_separated`` (its pooled top above every other component with 95% simultaneous, max-T
intervals over prompts). A flat, tied or not-separated sweep is set aside and said so: a
comparison is never decided by an argmax. ``strong`` (for the confidence ladder) holds when every
sweep the verdict rests on was itself strong; the confidence cap is the lowest of the compared
claims' caps (set by the evidence builder).
"""

from __future__ import annotations

from typing import Literal

from pydantic import Field

from audit.criteria.base import criterion
from audit.evidence_models.judged import ComparedSweeps
from audit.spec import StrictModel
from audit.verdict import Outcome, Verdict


def _position(sweep: dict, relative: bool) -> float:
    top = sweep["top"]
    return top / max(1, sweep["n_layers"] - 1) if relative else top


def _uninformative(sweeps: list[dict]) -> list[str]:
    return [f"{s['claim_id']}: top {s['top']} is not separated from its runner-up"
            + (" (flat sweep)" if s.get("flat") else "") for s in sweeps if not s.get("top_separated")]


def _summary(sweeps: list[dict], decided_by: list[dict], **extra) -> dict:
    """What the verdict was computed from: each sweep's top, separation and interval; strong iff
    every sweep the verdict rests on is strong."""
    return {"tops": {s["claim_id"]: s["top"] for s in sweeps},
            "top_separated": {s["claim_id"]: bool(s.get("top_separated")) for s in sweeps},
            "closest_interval": {s["claim_id"]: s.get("closest_interval") for s in sweeps
                                 if s.get("closest_interval") is not None},
            "decided_by": [s["claim_id"] for s in decided_by],
            "strong": bool(decided_by) and all(s.get("strong") for s in decided_by), **extra}


@criterion("tops_differ")
class TopsDiffer(StrictModel):
    kind: Literal["tops_differ"]
    relative_depth: bool = Field(False, description="compare top layer / (n_layers - 1)")
    tolerance: float = Field(0.0, ge=0.0, description="tops closer than this count as the same")

    def evaluate(self, evidence: ComparedSweeps) -> Outcome:
        """Uninformative sweeps are set aside (and said so); at least two informative ones decide."""
        sweeps = evidence.sweeps
        bad = _uninformative(sweeps)
        informative = [s for s in sweeps if s.get("top_separated")]
        where = {s["claim_id"]: _position(s, self.relative_depth) for s in informative}
        summary = _summary(sweeps, informative,
                           uninformative=[s["claim_id"] for s in sweeps if not s.get("top_separated")])
        summary["tops"] = {s["claim_id"]: s["top"] for s in informative}
        if len(informative) < 2:
            summary["strong"] = False
            return Outcome(Verdict.INCONCLUSIVE, bad + ["fewer than two informative sweeps to compare"], summary)
        values = list(where.values())
        spread = max(values) - min(values)
        if spread > self.tolerance:
            return Outcome(Verdict.SUPPORTED, [f"tops differ: {summary['tops']} (spread {spread:.3g} > {self.tolerance})"]
                           + bad, summary)
        return Outcome(Verdict.REFUTED, [f"tops agree: {summary['tops']} (spread {spread:.3g} <= {self.tolerance})"]
                       + bad, summary)


@criterion("tops_match")
class TopsMatch(StrictModel):
    kind: Literal["tops_match"]
    expected: dict[str, int | str] = Field(min_length=1, description="claim id -> expected top component")

    def evaluate(self, evidence: ComparedSweeps) -> Outcome:
        sweeps = evidence.sweeps
        summary = _summary(sweeps, [], expected=self.expected)
        missing = sorted(set(self.expected) - {s["claim_id"] for s in sweeps})
        if missing:
            return Outcome(Verdict.ERRORED, [f"no sweep for {missing}"], summary)
        off = [s for s in sweeps if s.get("top_separated") and s["top"] != self.expected.get(s["claim_id"])]
        if off:
            summary = _summary(sweeps, off, expected=self.expected)
            return Outcome(Verdict.REFUTED, [f"{s['claim_id']}: top {s['top']} (separated), expected "
                                             f"{self.expected[s['claim_id']]}" for s in off], summary)
        if bad := _uninformative(sweeps):
            return Outcome(Verdict.INCONCLUSIVE, bad, summary)
        summary = _summary(sweeps, sweeps, expected=self.expected)
        return Outcome(Verdict.SUPPORTED, [f"every top as expected and separated: {summary['tops']}"], summary)
