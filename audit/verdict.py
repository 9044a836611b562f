"""Verdicts and exit codes: pure functions, no torch.

Rules (documented in README "Verdicts"):
- *errored*: evidence could not be computed (missing weights, an intervention that never fired,
  a control that did not run). Never a pass.
- *refuted*: there is positive evidence against the claim (e.g. another layer beats the claimed
  one by more than the margin and the seed-to-seed noise).
- *supported*: every acceptance criterion holds.
- *inconclusive*: anything in between (flat sweeps, ties, margins inside the noise, too few
  agreeing seeds or families), always with the reason.
- *pending*: not run, because the model's weights are not on this machine (a Hugging Face id not
  in the local cache, an alias whose weights package is not installed). Never evidence, never a
  pass; whether the gate accepts it is the project's stated policy.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import Enum


class Verdict(str, Enum):
    SUPPORTED = "supported"
    REFUTED = "refuted"
    INCONCLUSIVE = "inconclusive"
    ERRORED = "errored"
    PENDING = "pending"


# Exit codes of `audit run` / `audit check`.
EXIT_OK = 0
EXIT_CONTRADICTS = 1
EXIT_INCONCLUSIVE = 2
EXIT_ERRORED = 3
EXIT_INVALID = 4
EXIT_NOTHING = 5  # no claim file matched (or none of the named files exists)
EXIT_MISMATCH = 6  # the gate: stale or missing evidence, or the published baseline does not match the ledger
EXIT_PENDING = 7  # not run: the model's weights are not on this machine

# When several outcomes meet, the most serious decides the exit code.
SEVERITY = [EXIT_OK, EXIT_PENDING, EXIT_INCONCLUSIVE, EXIT_CONTRADICTS, EXIT_ERRORED, EXIT_MISMATCH, EXIT_INVALID,
            EXIT_NOTHING]

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
    """Exit code of one claim run: 0 matches expect, 1 contradicts, 2 inconclusive (unless the claim
    expects exactly that: its published position is that the evidence cannot decide), 3 errored, 7 pending."""
    if verdict is Verdict.ERRORED:
        return EXIT_ERRORED
    if verdict is Verdict.PENDING:
        return EXIT_PENDING
    if verdict is Verdict.INCONCLUSIVE and expect != Verdict.INCONCLUSIVE.value:
        return EXIT_INCONCLUSIVE
    return EXIT_OK if matches_expect(verdict, expect) else EXIT_CONTRADICTS


def combine_exit_codes(codes: list[int]) -> int:
    """The most serious of several exit codes (nothing > invalid > mismatch > errored > contradicts >
    inconclusive > pending > ok)."""
    return max(codes, key=SEVERITY.index, default=EXIT_OK)
