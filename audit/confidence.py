"""Confidence ladder: pure functions, no torch.

Confidence can only be as high as the kinds of evidence and controls that actually ran allow
(the cap), and weak margins lower it by one step:

- low: a single intervention kind, no controls.
- medium: a single intervention kind plus at least one control (seed replication over >= 3
  seeds that resample prompts counts as a control).
- high: at least two intervention kinds (e.g. ablation + patching) plus controls including
  seed replication.
- very_high: at least three intervention kinds plus at least two controls, seeds among them.

A waived control caps confidence at low. Inconclusive and errored verdicts carry no confidence.
"""

from __future__ import annotations

from audit.verdict import Verdict

LEVELS = ("none", "low", "medium", "high", "very_high")
MIN_REPLICATION_SEEDS = 3


def evidence_cap(kinds: set[str], controls: set[str], n_seeds: int, waived: bool = False) -> str:
    """The highest confidence the evidence that ran can support."""
    if not kinds:
        return "none"
    effective = set(controls)
    if n_seeds < MIN_REPLICATION_SEEDS:
        effective.discard("seeds")
    if waived or not effective:
        return "low"
    if len(kinds) >= 3 and len(effective) >= 2 and "seeds" in effective:
        return "very_high"
    if len(kinds) >= 2 and "seeds" in effective:
        return "high"
    return "medium"


def confidence(verdict: Verdict, kinds: set[str], controls: set[str], n_seeds: int,
               strong: bool, waived: bool = False) -> str:
    """Confidence of a verdict: the evidence cap, one step lower when the margins are weak."""
    if verdict not in (Verdict.SUPPORTED, Verdict.REFUTED):
        return "none"
    cap = LEVELS.index(evidence_cap(kinds, controls, n_seeds, waived))
    if cap == 0:
        return "none"
    return LEVELS[max(1, cap if strong else cap - 1)]
