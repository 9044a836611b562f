"""Acceptance criteria on a per-prompt component table (:class:`audit.inference.PromptTable`), pure:

- ``effect_at_least``: component X's effect is at least ``threshold``: its 95% interval over
  prompts lies above the threshold (supported) or below it (refuted).
- ``rank_top_k``: X ranks within the top ``k``. Supported when X is above at least n - k others
  with simultaneous confidence (so at most k - 1 can be above it); refuted when at least k others
  are above X with simultaneous confidence. A tie at rank k is inconclusive.
- ``exceeds``: every component in ``greater`` beats every one in ``than`` (e.g. first- and
  last-token effects exceed the middle-token effect): every simultaneous interval of
  ``greater - than`` clears the margin; refuted when some ``than`` is above some ``greater``.
"""

from __future__ import annotations

from typing import Literal

import numpy as np
from pydantic import Field, PositiveInt, model_validator

from audit.criteria.base import criterion
from audit.criteria.hub import _REPLACED, sweep_description, vs_others
from audit.spec import Names, ReplacedKeys, disjoint
from audit.inference import (ALPHA, REFUTED, SUPPORTED, PromptTable, decide, degenerate, fmt_ci,
                             pairwise_contrasts, simultaneous_ci, single_ci, strength)
from audit.verdict import Outcome, Verdict


def _missing(names, labels) -> Outcome | None:
    absent = [n for n in names if n not in labels]
    if absent:
        return Outcome(Verdict.ERRORED, [f"component(s) {absent} not in the sweep {labels}"])
    return None


def _degenerate(table: PromptTable, columns: list[int], summary: dict) -> Outcome | None:
    reasons = degenerate(table.values[:, columns])
    if reasons:
        summary.update(degenerate=reasons, strong=False)
        return Outcome(Verdict.INCONCLUSIVE, [f"degenerate evidence: {'; '.join(reasons)}"], summary)
    return None


class _Alpha(ReplacedKeys):
    REPLACED = _REPLACED

    alpha: float = Field(ALPHA, gt=0.0, lt=0.5, description="error level of the (simultaneous) intervals")


class _OneComponent(_Alpha):
    """A criterion about one named component of a sweep."""

    component: str = Field(description="label of the component, e.g. L3.H2, L8.mlp, L2@first")

    def named(self) -> list:
        return [self.component]

    def _column(self, table: PromptTable) -> int | Outcome:
        """The component's column, or the errored outcome saying it was not measured."""
        labels = list(table.labels)
        err = _missing([self.component], labels)
        return err if err is not None else labels.index(self.component)


@criterion("effect_at_least")
class EffectAtLeast(_OneComponent):
    kind: Literal["effect_at_least"]
    threshold: float = Field(description="the effect (metric units) the component's interval must clear")

    def evaluate(self, table: PromptTable) -> Outcome:
        if isinstance(c := self._column(table), Outcome):
            return c
        summary = {"component": self.component, "threshold": self.threshold,
                   "per_seed": {str(s): float(v[c]) for s, v in table.per_seed().items()}}
        if (bad := _degenerate(table, [c], summary)) is not None:
            return bad
        iv = single_ci(table, c, self.alpha)
        r = iv.row(0)
        summary.update(pooled=r["estimate"], interval=[r["low"], r["high"]], inference=iv.describe())
        verdict = decide(r["low"], r["high"], self.threshold, self.threshold)
        summary["strong"] = strength(verdict, r["low"], r["high"], self.threshold, self.threshold)
        text = (f"{self.component} effect {r['estimate']:.4g}, {int(100 * (1 - self.alpha))}% CI "
                f"{fmt_ci(r['low'], r['high'])} over prompts, vs threshold {self.threshold}")
        if verdict == SUPPORTED:
            return Outcome(Verdict.SUPPORTED, [text + ": above it"], summary)
        if verdict == REFUTED:
            return Outcome(Verdict.REFUTED, [text + ": below it"], summary)
        return Outcome(Verdict.INCONCLUSIVE, [text + ": the interval contains the threshold"], summary)


@criterion("rank_top_k")
class RankTopK(_OneComponent):
    kind: Literal["rank_top_k"]
    k: PositiveInt = Field(description="the component must rank within the top k of the sweep")

    def evaluate(self, table: PromptTable) -> Outcome:
        if isinstance(c := self._column(table), Outcome):
            return c
        n = len(table.labels)
        desc = sweep_description(table)
        ranks = {s: 1 + sum(v > row[c] for v in row) for s, row in desc["per_seed"].items()}
        summary = {"component": self.component, "k": self.k, "rank_per_seed": ranks,
                   "pooled_rank": 1 + int(np.sum(np.array(desc["pooled"]) > desc["pooled"][c]))}
        if (bad := _degenerate(table, list(range(n)), summary)) is not None:
            return bad
        if self.k >= n:
            summary["strong"] = False
            return Outcome(Verdict.INCONCLUSIVE, [f"k = {self.k} covers the whole sweep of {n}: nothing to test"],
                           summary)
        others, iv = vs_others(table, c, self.alpha, extra_effect=False)
        rows = iv.rows()
        below = [r for r in rows if r["low"] > 0]   # c is above these
        above = [r for r in rows if r["high"] < 0]  # these are above c
        summary.update(intervals=rows, inference=iv.describe(), separated_below=len(below),
                       separated_above=len(above))
        where = (f"{self.component} is above {len(below)} and below {len(above)} of the other {n - 1} components "
                 f"with simultaneous {int(100 * (1 - self.alpha))}% confidence ({iv.method})")
        if len(below) >= n - self.k:
            decisive = sorted(below, key=lambda r: r["low"], reverse=True)[: n - self.k]
            summary["strong"] = all(strength(SUPPORTED, r["low"], r["high"], 0.0, 0.0) for r in decisive)
            return Outcome(Verdict.SUPPORTED, [where + f": rank <= {self.k}"], summary)
        if len(above) >= self.k:
            decisive = sorted(above, key=lambda r: r["high"])[: self.k]
            summary["strong"] = all(strength(REFUTED, r["low"], r["high"], 0.0, 0.0) for r in decisive)
            return Outcome(Verdict.REFUTED, [where + f": rank > {self.k}"], summary)
        summary["strong"] = False
        return Outcome(Verdict.INCONCLUSIVE, [where + f": membership in the top {self.k} needs separation "
                                              f"from {n - self.k} components below it"], summary)


@criterion("exceeds")
class Exceeds(_Alpha):
    kind: Literal["exceeds"]
    greater: Names = Field(description="component labels that must each beat every one in `than`")
    than: Names = Field(description="component labels that must be beaten")
    min_margin_relative: float = Field(0.0, ge=0.0, lt=1.0, description="each difference must clear this fraction "
                                                                         "of the greater component's effect")

    @model_validator(mode="after")
    def _sides(self):
        disjoint(self, "greater", "than")
        return self

    def named(self) -> list:
        return self.greater + self.than

    def evaluate(self, table: PromptTable) -> Outcome:
        labels = list(table.labels)
        if (err := _missing(self.greater + self.than, labels)) is not None:
            return err
        pooled = table.estimate()
        pairs = [(labels.index(g), labels.index(t)) for g in self.greater for t in self.than]
        summary = {"pooled": {name: float(pooled[labels.index(name)]) for name in self.greater + self.than},
                   "comparisons": len(pairs)}
        if (bad := _degenerate(table, sorted({i for p in pairs for i in p}), summary)) is not None:
            return bad
        iv = simultaneous_ci(table, pairwise_contrasts(len(labels), pairs),
                             [f"{labels[a]} - {labels[b]}" for a, b in pairs], self.alpha)
        rows = iv.rows()
        margins = [self.min_margin_relative * abs(float(pooled[a])) for a, _ in pairs]
        verdicts = [decide(r["low"], r["high"], m, 0.0) for r, m in zip(rows, margins)]
        summary.update(intervals=rows, inference=iv.describe(), margins=margins,
                       separated_wins=verdicts.count(SUPPORTED))
        reasons = [f"{r['contrast']} = {r['estimate']:.4g}, CI {fmt_ci(r['low'], r['high'])} (margin {m:.3g}): {v}"
                   for r, m, v in zip(rows, margins, verdicts)]
        if REFUTED in verdicts:
            summary["strong"] = any(strength(REFUTED, r["low"], r["high"], m, 0.0)
                                    for r, m, v in zip(rows, margins, verdicts) if v == REFUTED)
            return Outcome(Verdict.REFUTED, reasons, summary)
        if all(v == SUPPORTED for v in verdicts):
            summary["strong"] = all(strength(SUPPORTED, r["low"], r["high"], m, 0.0) for r, m in zip(rows, margins))
            return Outcome(Verdict.SUPPORTED, reasons, summary)
        summary["strong"] = False
        return Outcome(Verdict.INCONCLUSIVE, reasons, summary)


def named_components(acceptance) -> list:
    """Every component label an acceptance spec names (for guards such as trivial patching)."""
    return list(getattr(acceptance, "named", lambda: [])())

