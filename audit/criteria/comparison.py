"""Acceptance criteria over several sweeps' tops (pure): ``tops_differ`` and ``tops_match``.

A sweep whose top is not separated from its runner-up (flat, tied, inside the seed noise) is
uninformative: the comparison is then inconclusive, never decided by an argmax.
"""

from __future__ import annotations

from typing import Literal

from pydantic import Field

from audit.criteria import criterion
from audit.spec import StrictModel
from audit.verdict import Outcome, Verdict


def _position(sweep: dict, relative: bool) -> float:
    top = sweep["top"]
    return top / max(1, sweep["n_layers"] - 1) if relative else top


def _uninformative(sweeps: list[dict]) -> list[str]:
    return [f"{s['claim_id']}: top {s['top']} is not separated from its runner-up"
            + (" (flat sweep)" if s.get("flat") else "") for s in sweeps if not s.get("top_separated")]


@criterion("tops_differ")
class TopsDiffer(StrictModel):
    kind: Literal["tops_differ"]
    relative_depth: bool = Field(False, description="compare top layer / (n_layers - 1)")
    tolerance: float = Field(0.0, ge=0.0, description="tops closer than this count as the same")

    def evaluate_sweeps(self, sweeps: list[dict]) -> Outcome:
        """Uninformative sweeps are set aside (and said so); at least two informative ones decide."""
        bad = _uninformative(sweeps)
        informative = [s for s in sweeps if s.get("top_separated")]
        where = {s["claim_id"]: _position(s, self.relative_depth) for s in informative}
        summary = {"tops": {s["claim_id"]: s["top"] for s in informative},
                   "uninformative": [s["claim_id"] for s in sweeps if not s.get("top_separated")]}
        if len(informative) < 2:
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
    expected: dict[str, int | str] = Field(description="claim id -> expected top component")

    def evaluate_sweeps(self, sweeps: list[dict]) -> Outcome:
        summary = {"tops": {s["claim_id"]: s["top"] for s in sweeps}, "expected": self.expected}
        missing = sorted(set(self.expected) - {s["claim_id"] for s in sweeps})
        if missing:
            return Outcome(Verdict.ERRORED, [f"no sweep for {missing}"], summary)
        wrong = [f"{s['claim_id']}: top {s['top']}, expected {self.expected[s['claim_id']]}"
                 for s in sweeps if s.get("top_separated") and s["top"] != self.expected.get(s["claim_id"])]
        if wrong:
            return Outcome(Verdict.REFUTED, wrong, summary)
        if bad := _uninformative(sweeps):
            return Outcome(Verdict.INCONCLUSIVE, bad, summary)
        return Outcome(Verdict.SUPPORTED, [f"every top as expected: {summary['tops']}"], summary)
