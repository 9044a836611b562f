"""Acceptance criteria on a component effect table ``effects[seed][family][component]`` (pure):

- ``effect_at_least``: component X's pooled effect is at least ``threshold``.
- ``rank_top_k``: component X ranks within the top ``k``.
- ``exceeds``: every component in ``greater`` beats every one in ``than`` (e.g. first- and
  last-token effects exceed the middle-token effect).

Supported and refuted both need the seed-to-seed noise to be on their side (``noise_z`` standard
deviations); otherwise the verdict is inconclusive with the reason.
"""

from __future__ import annotations

from typing import Literal

from pydantic import Field, NonNegativeInt, PositiveInt

from audit.criteria import criterion
from audit.criteria.hub import per_seed_pooled, separation
from audit.spec import StrictModel
from audit.stats import mean, std
from audit.verdict import Outcome, Verdict


def _index(labels, name) -> int | None:
    return labels.index(name) if name in labels else None


def _missing(names, labels) -> Outcome | None:
    absent = [n for n in names if n not in labels]
    if absent:
        return Outcome(Verdict.ERRORED, [f"component(s) {absent} not in the sweep {labels}"])
    return None


@criterion("effect_at_least")
class EffectAtLeast(StrictModel):
    kind: Literal["effect_at_least"]
    component: str
    threshold: float
    noise_z: float = Field(2.0, ge=0.0)

    def evaluate(self, effects, labels, families, seeds) -> Outcome:
        if (err := _missing([self.component], labels)) is not None:
            return err
        per_seed = [row[_index(labels, self.component)] for row in per_seed_pooled(effects, len(labels))]
        m, s = mean(per_seed), std(per_seed)
        summary = {"component": self.component, "pooled": m, "seed_std": s, "per_seed": per_seed,
                   "threshold": self.threshold}
        low, high = m - self.noise_z * s, m + self.noise_z * s
        summary["strong"] = len(seeds) >= 3 and (low >= 2 * self.threshold if low >= self.threshold else high < self.threshold / 2)
        if low >= self.threshold:
            return Outcome(Verdict.SUPPORTED, [f"{self.component} effect {m:.4g} ± {s:.2g} (seeds) ≥ {self.threshold}"], summary)
        if high < self.threshold:
            return Outcome(Verdict.REFUTED, [f"{self.component} effect {m:.4g} ± {s:.2g} (seeds) < {self.threshold}"], summary)
        return Outcome(Verdict.INCONCLUSIVE, [f"{self.component} effect {m:.4g} ± {s:.2g}: threshold {self.threshold} "
                                              f"is within {self.noise_z} seed standard deviations"], summary)


@criterion("rank_top_k")
class RankTopK(StrictModel):
    kind: Literal["rank_top_k"]
    component: str
    k: PositiveInt
    min_seed_agreement: Literal["all"] | NonNegativeInt = "all"

    def evaluate(self, effects, labels, families, seeds) -> Outcome:
        if (err := _missing([self.component], labels)) is not None:
            return err
        c = _index(labels, self.component)
        ranks = [1 + sum(v > row[c] for v in row) for row in per_seed_pooled(effects, len(labels))]
        need = len(seeds) if self.min_seed_agreement == "all" else self.min_seed_agreement
        inside = sum(r <= self.k for r in ranks)
        summary = {"component": self.component, "rank_per_seed": ranks, "k": self.k,
                   "strong": inside in (0, len(seeds)) and len(seeds) >= 3}
        if inside >= need:
            return Outcome(Verdict.SUPPORTED, [f"{self.component} ranks {ranks} per seed: top {self.k} in {inside}/{len(seeds)}"], summary)
        if inside == 0:
            return Outcome(Verdict.REFUTED, [f"{self.component} ranks {ranks} per seed: never in the top {self.k}"], summary)
        return Outcome(Verdict.INCONCLUSIVE, [f"{self.component} in the top {self.k} in only {inside}/{len(seeds)} seeds (need {need})"], summary)


@criterion("exceeds")
class Exceeds(StrictModel):
    kind: Literal["exceeds"]
    greater: list[str] = Field(min_length=1)
    than: list[str] = Field(min_length=1)
    min_margin_relative: float = Field(0.0, ge=0.0, lt=1.0)
    noise_z: float = Field(2.0, ge=0.0)

    def evaluate(self, effects, labels, families, seeds) -> Outcome:
        if (err := _missing(self.greater + self.than, labels)) is not None:
            return err
        per_seed = per_seed_pooled(effects, len(labels))
        pooled = {name: mean(row[_index(labels, name)] for row in per_seed) for name in self.greater + self.than}
        reasons, wins, losses, wide = [], 0, 0, 0
        for g in self.greater:
            for t in self.than:
                a, b = _index(labels, g), _index(labels, t)
                beats, gap, need = separation(per_seed, a, b, self.min_margin_relative, self.noise_z)
                lost, _, _ = separation(per_seed, b, a, self.min_margin_relative, self.noise_z)
                wins += beats
                wide += gap > 2 * need
                losses += lost
                reasons.append(f"{g} ({pooled[g]:.4g}) vs {t} ({pooled[t]:.4g}): gap {gap:.4g}, required {need:.4g}")
        n = len(self.greater) * len(self.than)
        summary = {"pooled": pooled, "comparisons": n, "separated_wins": wins, "strong": wide == n or losses == n}
        if wins == len(self.greater) * len(self.than):
            return Outcome(Verdict.SUPPORTED, reasons, summary)
        if losses:
            return Outcome(Verdict.REFUTED, reasons, summary)
        return Outcome(Verdict.INCONCLUSIVE, reasons, summary)
