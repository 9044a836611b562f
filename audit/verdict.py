"""Verdicts and exit codes: pure functions, no torch.

Rules (documented in README "Verdicts"):
- *errored*: evidence could not be computed (missing weights, an intervention that never fired,
  a control that did not run). Never a pass.
- *refuted*: there is positive evidence against the claim (e.g. another layer beats the claimed
  one by more than the margin and the seed-to-seed noise).
- *supported*: every acceptance criterion holds.
- *inconclusive*: anything in between (flat sweeps, ties, margins inside the noise, too few
  agreeing seeds or families), always with the reason.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import Enum


class Verdict(str, Enum):
    SUPPORTED = "supported"
    REFUTED = "refuted"
    INCONCLUSIVE = "inconclusive"
    ERRORED = "errored"


# Exit codes of `audit run` / `audit check`.
EXIT_OK = 0
EXIT_CONTRADICTS = 1
EXIT_INCONCLUSIVE = 2
EXIT_ERRORED = 3
EXIT_INVALID = 4

# When several claims run, the most serious outcome decides the exit code.
_SEVERITY = [EXIT_OK, EXIT_INCONCLUSIVE, EXIT_CONTRADICTS, EXIT_ERRORED, EXIT_INVALID]

# Ordering used for monotonicity: more evidence for the claim never moves a verdict left.
STRENGTH = {Verdict.REFUTED: 0, Verdict.INCONCLUSIVE: 1, Verdict.SUPPORTED: 2}


@dataclass(frozen=True)
class Outcome:
    """What a criterion concluded from the evidence, with every reason stated."""

    verdict: Verdict
    reasons: list[str] = field(default_factory=list)
    summary: dict = field(default_factory=dict)


def matches_expect(verdict: Verdict, expect: str) -> bool:
    return verdict.value == expect


def exit_code(verdict: Verdict, expect: str) -> int:
    """Exit code of one claim run: 0 matches expect, 1 contradicts, 2 inconclusive, 3 errored."""
    if verdict is Verdict.ERRORED:
        return EXIT_ERRORED
    if verdict is Verdict.INCONCLUSIVE:
        return EXIT_INCONCLUSIVE
    return EXIT_OK if matches_expect(verdict, expect) else EXIT_CONTRADICTS


def combine_exit_codes(codes: list[int]) -> int:
    """The most serious of several exit codes (invalid > errored > contradicts > inconclusive > ok)."""
    return max(codes, key=_SEVERITY.index, default=EXIT_OK)
