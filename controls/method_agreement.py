"""The method-agreement control: an ablation claim's verdict re-judged under other ablation
methods (zero / mean / resample). Miller et al. (2024) show a circuit's faithfulness can depend on
how components are removed; a claim that holds under one method only is method-dependent.

The claim keeps its verdict only when every method gives the same one; otherwise it is
inconclusive, never refuted (one method's refutation against another's support is no positive
evidence against the claim), and the per-method matrix goes into the evidence and the report.
Pure: outcomes in, outcome out.
"""

from __future__ import annotations

from audit.verdict import Outcome, Verdict

NAME = "method_agreement"


def matrix_row(method: str, outcome: Outcome) -> dict:
    """One method's line of the matrix: its verdict, first reason and pooled estimates."""
    s = outcome.summary or {}
    return {"method": method, "verdict": outcome.verdict.value, "reason": (outcome.reasons or [""])[0],
            "pooled": s.get("pooled"), "strong": bool(s.get("strong", False))}


def combine(primary: str, outcomes: dict[str, Outcome]) -> tuple[Outcome, list[dict]]:
    """The claim's outcome given each method's (``primary``: the claim's own method) and the matrix."""
    matrix = [matrix_row(m, o) for m, o in outcomes.items()]
    own = outcomes[primary]
    verdicts = {o.verdict for o in outcomes.values()}
    if len(verdicts) == 1:
        note = f"method agreement: {', '.join(outcomes)} all give {own.verdict.value}"
        return Outcome(own.verdict, [*own.reasons, note], {**own.summary, NAME: matrix}), matrix
    split = ", ".join(f"{m} {o.verdict.value}" for m, o in outcomes.items())
    summary = {**own.summary, NAME: matrix, "strong": False}
    return Outcome(Verdict.INCONCLUSIVE, [f"method-dependent: {split}; the claim holds under some ablation methods "
                                          f"and not others", *own.reasons], summary), matrix
