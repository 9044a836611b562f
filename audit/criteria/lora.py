"""Training claims (LoRA): pure criteria over per-seed training results.

Results are ``{name: [per seed {exact_match, trainable_params, final_loss, kl_drift, ...}]}``.
Each check passes or fails on every seed, or is uncertain when seeds disagree (see
``audit.criteria.deployment``); any failed check refutes, any uncertain one leaves it inconclusive.
"""

from __future__ import annotations

from typing import Literal, Optional

from pydantic import Field, NonNegativeFloat, PositiveFloat, model_validator

from audit.criteria import criterion
from audit.criteria.deployment import FAIL, PASS, fmt, judge, seeds_status
from audit.spec import StrictModel
from audit.stats import mean, pearson, permutation_p, spearman
from audit.verdict import Outcome


@criterion("lora_efficiency")
class LoraEfficiency(StrictModel):
    """"Placement C reaches the exact match of placement R with >= k x fewer trainable parameters,
    and beats the random placement with as many parameters"."""

    kind: Literal["lora_efficiency"]
    candidate: str
    reference: str
    control: Optional[str] = Field(None, description="a random_matched placement the candidate must beat")
    min_param_ratio: PositiveFloat = Field(description="reference params / candidate params must reach this")
    max_exact_match_gap: NonNegativeFloat = Field(0.0, description="candidate may trail the reference by this much")
    min_margin_over_control: NonNegativeFloat = Field(0.1, description="candidate must beat the control by this much")

    def names(self) -> set[str]:
        return {self.candidate, self.reference} | ({self.control} if self.control else set())

    def evaluate_lora(self, results: dict[str, list[dict]]) -> Outcome:
        c, r = results[self.candidate], results[self.reference]
        ratio = r[0]["trainable_params"] / c[0]["trainable_params"]
        checks = [("parameters", PASS if ratio >= self.min_param_ratio else FAIL,
                   f"{self.reference} {r[0]['trainable_params']:,} / {self.candidate} {c[0]['trainable_params']:,} "
                   f"= {fmt(ratio)}x (need >= {self.min_param_ratio})")]
        gaps = [a["exact_match"] - b["exact_match"] for a, b in zip(r, c)]
        checks.append((f"exact match vs {self.reference}", seeds_status([g <= self.max_exact_match_gap for g in gaps]),
                       f"{self.candidate} {', '.join(fmt(x['exact_match']) for x in c)} vs {self.reference} "
                       f"{', '.join(fmt(x['exact_match']) for x in r)} per seed (may trail by <= {self.max_exact_match_gap})"))
        if self.control:
            k = results[self.control]
            margins = [a["exact_match"] - b["exact_match"] for a, b in zip(c, k)]
            checks.append((f"beats {self.control}", seeds_status([m >= self.min_margin_over_control for m in margins]),
                           f"margin per seed {', '.join(fmt(m) for m in margins)} (need >= "
                           f"{self.min_margin_over_control}; {self.control} has {k[0]['trainable_params']:,} params)"))
        return judge(checks, {"param_ratio": ratio, "candidate_exact_match": mean(x["exact_match"] for x in c),
                              "reference_exact_match": mean(x["exact_match"] for x in r)})


@criterion("adapter_concentration")
class AdapterConcentration(StrictModel):
    """"The adapter's effect follows its weight norm and sits in the late layers": per seed, the
    per-layer adapter-ablation effect correlates with the per-layer adapter norm (Pearson, with a
    permutation p-value) and the last third of the layers carries at least ``min_late_share``."""

    kind: Literal["adapter_concentration"]
    min_correlation: float = Field(0.7, ge=-1.0, le=1.0, description="Pearson r of effect vs norm per seed")
    max_p: float = Field(0.05, gt=0.0, le=1.0, description="permutation p-value of that correlation")
    min_late_share: float = Field(0.5, ge=0.0, le=1.0,
                                  description="share of the summed positive effect in the last third of the layers")

    def evaluate_adapter_ablation(self, seeds: list[dict], n_layers: int, permutations: int) -> Outcome:
        """``seeds``: [{effects: {layer: effect}, norms: {layer: norm}, seed}]."""
        corr, late, stats = [], [], []
        for s in seeds:
            layers = sorted(s["effects"], key=int)
            eff = [s["effects"][k] for k in layers]
            nrm = [s["norms"][k] for k in layers]
            r = pearson(nrm, eff)
            p = permutation_p(nrm, eff, permutations, seed=s["seed"])
            positive = [max(0.0, e) for e in eff]
            share = (sum(e for k, e in zip(layers, positive) if int(k) >= n_layers * 2 / 3) / sum(positive)
                     if sum(positive) > 0 else None)
            stats.append({"seed": s["seed"], "pearson": r, "spearman": spearman(nrm, eff), "p": p, "late_share": share})
            corr.append(r is not None and r >= self.min_correlation and p <= self.max_p)
            late.append(share is not None and share >= self.min_late_share)
        checks = [("norm-effect correlation", seeds_status(corr),
                   "per seed " + ", ".join(f"r={fmt(x['pearson'])} (Spearman {fmt(x['spearman'])}, p={fmt(x['p'])})"
                                           for x in stats) + f" (need r >= {self.min_correlation}, p <= {self.max_p})"),
                  ("late layers", seeds_status(late),
                   "share of the effect in the last third per seed " + ", ".join(fmt(x["late_share"]) for x in stats)
                   + f" (need >= {self.min_late_share})")]
        return judge(checks, {"per_seed": stats})


class _SweepCriterion(StrictModel):
    metric: Literal["final_loss", "kl_drift", "trainable_params"] = "final_loss"

    def values(self, points: dict, label: str) -> list[float]:
        return [s[self.metric] for s in points[label]]


@criterion("sweep_best")
class SweepBest(_SweepCriterion):
    """"Point X has the lowest (or highest) metric of the sweep", beyond a relative margin, per seed."""

    kind: Literal["sweep_best"]
    best: str
    direction: Literal["min", "max"] = "min"
    margin_relative: NonNegativeFloat = Field(0.0, description="X must beat every other point by this fraction")

    def labels(self) -> set[str]:
        return {self.best}

    def evaluate_sweep_points(self, points: dict[str, list[dict]]) -> Outcome:
        sign = 1.0 if self.direction == "min" else -1.0
        mine = self.values(points, self.best)
        checks = []
        for other in points:
            if other == self.best:
                continue
            theirs = self.values(points, other)
            wins = [sign * (t - m) > self.margin_relative * abs(t) for m, t in zip(mine, theirs)]
            checks.append((f"{self.best} vs {other}", seeds_status(wins),
                           f"{self.metric} {', '.join(fmt(m) for m in mine)} vs {', '.join(fmt(t) for t in theirs)} per seed"))
        return judge(checks, {"metric": self.metric, "best": self.best})


@criterion("sweep_knee")
class SweepKnee(_SweepCriterion):
    """"X is the efficiency point": along ``order`` (increasing parameters), the metric gained per
    added trainable parameter up to X is at least ``min_gain_ratio`` times the gain per parameter
    beyond X (diminishing returns after X), per seed."""

    kind: Literal["sweep_knee"]
    order: list[str] = Field(min_length=3)
    at: str
    min_gain_ratio: PositiveFloat = 2.0
    min_gain: NonNegativeFloat = Field(1e-4, description="metric changes smaller than this are no gain (noise)")

    @model_validator(mode="after")
    def _inner(self):
        if self.at not in self.order[1:-1]:
            raise ValueError(f"'{self.at}' must be an inner point of order {self.order}")
        return self

    def labels(self) -> set[str]:
        return set(self.order)

    def evaluate_sweep_points(self, points: dict[str, list[dict]]) -> Outcome:
        i = self.order.index(self.at)
        before, after = self.order[i - 1], self.order[i + 1]
        ratios, holds, gains = [], [], []
        for s in range(len(points[self.at])):
            def per_param(a: str, b: str) -> float | None:
                dp = points[b][s]["trainable_params"] - points[a][s]["trainable_params"]
                gain = points[a][s][self.metric] - points[b][s][self.metric]
                return (gain if abs(gain) >= self.min_gain else 0.0) / dp if dp > 0 else None
            gain_in, gain_out = per_param(before, self.at), per_param(self.at, after)
            ratio = None if gain_in is None or gain_out is None or gain_out <= 0 else gain_in / gain_out
            ratios.append(ratio)
            gains.append(f"{fmt(gain_in)} then {fmt(gain_out)}")
            holds.append(gain_in is not None and gain_in > 0 and (gain_out is not None and gain_out <= 0
                                                                  or ratio is not None and ratio >= self.min_gain_ratio))
        checks = [(f"diminishing returns after {self.at}", seeds_status(holds),
                   f"{self.metric} decrease per added parameter {before}->{self.at} then {self.at}->{after}, per seed: "
                   f"{'; '.join(gains)} (need a positive gain up to {self.at}, at least {self.min_gain_ratio}x the gain "
                   f"after it)")]
        return judge(checks, {"gain_ratios": ratios})

