"""Confidence ladder: pure functions, no torch.

Confidence can only be as high as the kinds of evidence and controls that actually ran allow
(the cap), and a verdict that is not *strong* lowers it by one step:

- low: a single intervention kind, no controls.
- medium: a single intervention kind plus at least one control (seed replication over >= 3
  seeds that resample prompts counts as a control).
- high: at least two independent intervention kinds (e.g. ablation + patching) plus controls
  including seed replication.
- very_high: at least three independent intervention kinds plus at least two controls, seeds
  among them.

Further ceilings, each applied as a minimum:

- a waived control caps at low;
- an exploratory claim (what it names was chosen by looking at data like this) caps at low;
- a derived claim (a comparison of other claims) passes the lowest cap of its inputs as an extra
  ceiling (``EvidenceResult.cap``): a comparison is never surer than what it compares;
- a steering claim whose prompting baseline is shown to beat it caps at low (the same ceiling,
  with its reason: controls/prompting_baseline.py).

*Strong* is the one rule of :func:`audit.inference.strength` (the decisive CI bound clears its
threshold by at least the CI's half-width); criteria report it as ``summary["strong"]``. Which
evidence kinds are independent is the builders' call (they list only those); this module only
applies the ladder. Inconclusive and errored verdicts carry no confidence.
"""

from __future__ import annotations

from audit.verdict import Verdict

LEVELS = ("none", "low", "medium", "high", "very_high")
MIN_REPLICATION_SEEDS = 3
STAGES = ("exploratory", "confirmatory")


def lowest(*levels: str | None) -> str:
    """The lowest of some levels (``None`` entries are ignored; no level at all: very_high)."""
    given = [lv for lv in levels if lv is not None]
    return min(given, key=LEVELS.index) if given else LEVELS[-1]


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


def claim_cap(kinds: set[str], controls: set[str], n_seeds: int, waived: bool = False, *,
              stage: str, ceiling: str | None = None, ceiling_reason: str | None = None) -> tuple[str, list[str]]:
    """The cap of a claim and why it is not higher: the evidence cap, then the exploratory
    ceiling (low) and any ceiling passed by the builder (a comparison's inputs, or why:
    ``ceiling_reason``)."""
    if stage not in STAGES:
        raise ValueError(f"unknown stage '{stage}'; one of {', '.join(STAGES)}")
    cap = evidence_cap(kinds, controls, n_seeds, waived)
    notes = [f"evidence cap {cap}: {len(kinds)} evidence kind(s) ({', '.join(sorted(kinds)) or 'none'}), "
             f"controls {', '.join(sorted(controls)) or 'none'}, {n_seeds} seed(s)" + (", a waived control" if waived
                                                                                      else "")]
    if stage == "exploratory" and LEVELS.index(cap) > LEVELS.index("low"):
        cap = "low"
        notes.append("exploratory claim: capped at low (what it names was chosen by looking at the data)")
    if ceiling is not None and LEVELS.index(ceiling) < LEVELS.index(cap):
        cap = ceiling
        notes.append(f"{ceiling_reason}: capped at {ceiling}" if ceiling_reason else
                     f"derived claim: capped at {ceiling}, the lowest cap of its inputs")
    return cap, notes


def step(verdict: Verdict, cap: str, strong: bool) -> str:
    """Confidence of a verdict under a cap: the cap, one step lower when the verdict is not strong."""
    if verdict not in (Verdict.SUPPORTED, Verdict.REFUTED):
        return "none"
    i = LEVELS.index(cap)
    if i == 0:
        return "none"
    return LEVELS[max(1, i if strong else i - 1)]


def confidence(verdict: Verdict, kinds: set[str], controls: set[str], n_seeds: int,
               strong: bool, waived: bool = False, *, stage: str, ceiling: str | None = None) -> str:
    """Confidence of a verdict: the claim's cap, one step lower when the verdict is not strong."""
    cap, _ = claim_cap(kinds, controls, n_seeds, waived, stage=stage, ceiling=ceiling)
    return step(verdict, cap, strong)


def record_cap(rec: dict) -> str:
    """The cap of a ledger record: the one it stored, else recomputed from what it says ran
    (records written before caps were stored)."""
    if rec.get("confidence_cap") in LEVELS:
        return rec["confidence_cap"]
    claim = rec.get("claim") or {}
    controls = claim.get("controls") or {}
    cap, _ = claim_cap(set(rec.get("evidence_kinds") or []), set(rec.get("controls_run") or []),
                       len(controls.get("seeds") or []), bool(controls.get("waive")),
                       stage=claim.get("stage", "exploratory"))
    return cap
