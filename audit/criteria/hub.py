"""``acceptance.kind: hub`` and ``top_component`` — "X is the causal hub / top component":
pure evaluation of a sweep's per-prompt effect table (:class:`audit.inference.PromptTable`).

The claimed component k is compared with every other component j on the paired per-prompt
differences ``x_k - x_j``, stratified by family and pooled across seeds, with max-T simultaneous
95% intervals over all the comparisons (family-wise over the sweep) plus k's own effect.

- errored: k is not in the sweep.
- inconclusive first if the evidence is degenerate (non-finite, zero variance, a flat sweep).
- refuted: some j is above k with the whole interval of ``x_k - x_j`` below 0, or k's effect
  interval lies wholly below ``min_effect`` (positive evidence against the claim).
- supported: every interval of ``x_k - x_j`` lies above the margin (``min_margin_relative`` of
  k's effect), k's effect interval above ``min_effect``, and enough seeds and families have k on
  top (descriptive agreement the claim itself asks for).
- inconclusive otherwise, with the closest interval — ties and "not significant" are not findings.
"""

from __future__ import annotations

import math
from typing import Literal

import numpy as np
from pydantic import Field, NonNegativeInt

from audit.criteria.base import criterion
from audit.inference import (ALPHA, REFUTED, SUPPORTED, PromptTable, degenerate, fmt_ci, pairwise_contrasts,
                             simultaneous_ci, strength)
from audit.spec import ReplacedKeys
from audit.stats import mean
from audit.verdict import Outcome, Verdict

_REPLACED = {"noise_z": "noise_z (seed-to-seed SDs) was replaced by prompt-level intervals: use `alpha` "
                        "(family-wise level of the simultaneous intervals, default 0.05)",
             "min_seed_agreement": "this criterion is decided on pooled prompt-level intervals; per-seed results "
                                   "are reported beside them, not required (remove the key)"}


class SeparationThresholds(ReplacedKeys):
    REPLACED = _REPLACED

    min_seed_agreement: Literal["all"] | NonNegativeInt = Field(
        "all", description="seeds whose own top component must be the claimed one")
    min_family_fraction: float = Field(0.5, ge=0.0, le=1.0,
                                       description="fraction of families whose own top component must be the claimed one")
    min_margin_relative: float = Field(0.05, ge=0.0, lt=1.0,
                                       description="the interval of top minus each other must clear this fraction "
                                                   "of the top's effect")
    alpha: float = Field(ALPHA, gt=0.0, lt=0.5, description="family-wise error level of the simultaneous intervals")
    min_effect: float = Field(0.0, ge=0.0, description="minimum effect of the claimed component (metric units)")
    flat_tolerance: float = Field(1e-3, ge=0.0, description="relative range below which a sweep is flat")

    def claim_problems(self, lc) -> list[tuple[tuple, str, str]]:
        """The seeds that must agree cannot outnumber the seeds the claim runs."""
        n = len(lc.claim.controls.seeds)
        if self.min_seed_agreement == "all" or self.min_seed_agreement <= n:
            return []
        return [(("acceptance", "min_seed_agreement"), f"min_seed_agreement {self.min_seed_agreement} is more than "
                 f"the {n} seed(s) in controls.seeds", f"use `all`, or at most {n}")]


@criterion("hub")
class HubAcceptance(SeparationThresholds):
    kind: Literal["hub"]
    layer: NonNegativeInt = Field(description="the claimed hub layer")

    def evaluate(self, table: PromptTable) -> Outcome:
        return judge_top(self, self.layer, table, noun="layer")

    def named(self) -> list:
        return [self.layer]


@criterion("top_component")
class TopComponentAcceptance(SeparationThresholds):
    kind: Literal["top_component"]
    component: str = Field(description="label of the claimed top component, e.g. L3.H2, L8.mlp, L2@first")

    def evaluate(self, table: PromptTable) -> Outcome:
        return judge_top(self, self.component, table, noun="component")

    def named(self) -> list:
        return [self.component]


def per_seed_pooled(effects, width: int) -> list[list[float]]:
    """``[seed][component]``: the family mean of each component's effect (descriptive only)."""
    return [[mean(fam[i] for fam in seed_rows) for i in range(width)] for seed_rows in effects]


def vs_others(table: PromptTable, k: int, alpha: float, extra_effect: bool = True):
    """Simultaneous intervals of ``x_k - x_j`` for every j != k (and of ``x_k`` itself)."""
    width = len(table.labels)
    others = [j for j in range(width) if j != k]
    c = pairwise_contrasts(width, [(k, j) for j in others])
    names = [f"{table.labels[k]} - {table.labels[j]}" for j in others]
    if extra_effect:
        own = np.zeros((1, width))
        own[0, k] = 1.0
        c, names = np.vstack([c, own]), names + [str(table.labels[k])]
    return others, simultaneous_ci(table, c, names, alpha)


def sweep_description(table: PromptTable) -> dict:
    """Pooled, per-seed and per-family estimates with their tops (JSON-ready)."""
    labels = list(table.labels)
    pooled = table.estimate()
    per_seed = {str(s): [float(x) for x in v] for s, v in table.per_seed().items()}
    per_family = table.per_family()
    return {"labels": labels, "pooled": [float(x) for x in pooled], "per_seed": per_seed,
            "seed_hubs": [labels[int(np.argmax(v))] for v in per_seed.values()],
            "family_hubs": {f: labels[int(np.argmax(v))] for f, v in per_family.items()},
            "n_seeds": len(per_seed), "n_families": len(per_family), "n_rows": len(table.unit),
            "n_units": len(set(table.unit))}


def top_separated(table: PromptTable, alpha: float, margin_relative: float = 0.0) -> bool:
    """Whether the pooled top is above every other component with simultaneous confidence."""
    top = int(np.argmax(table.estimate()))
    if len(table.labels) < 2:
        return False
    _, iv = vs_others(table, top, alpha, extra_effect=False)
    margin = margin_relative * abs(float(table.estimate()[top]))
    return bool(np.all(iv.defined) and np.all(iv.low > margin))


def judge_top(spec: SeparationThresholds, claimed, table: PromptTable, noun: str) -> Outcome:
    """Verdict of "``claimed`` is the top component" from per-prompt paired values."""
    labels = list(table.labels)
    if claimed not in labels:
        return Outcome(Verdict.ERRORED, [f"claimed {noun} {claimed} was not in the sweep {labels}"])
    k = labels.index(claimed)
    summary = sweep_description(table) | {"claimed": claimed}
    pooled = np.array(summary["pooled"])
    order = sorted(range(len(labels)), key=lambda i: (-pooled[i], i))
    summary.update(top_layer=labels[order[0]], runner_up_layer=labels[order[1]] if len(labels) > 1 else None,
                   claimed_effect=float(pooled[k]),
                   seed_agreement=sum(t == claimed for t in summary["seed_hubs"]),
                   family_agreement=sum(t == claimed for t in summary["family_hubs"].values()))
    fmt = "{:.4g}".format
    largest = float(np.max(np.abs(pooled)))
    flat = degenerate(table.values, equivalence=spec.flat_tolerance * largest)
    if flat or largest < 1e-12:
        summary.update(flat=True, top_separated=False, degenerate=flat or ["every effect is 0"], strong=False)
        return Outcome(Verdict.INCONCLUSIVE, [
            f"flat sweep, degenerate evidence ({'; '.join(summary['degenerate'])}): no {noun} can stand out (a degenerate ablation "
            f"method, e.g. zero_output on a bias-free model, does this)"], summary)
    if len(labels) < 2:
        summary.update(top_separated=False, strong=False)
        return Outcome(Verdict.INCONCLUSIVE, [f"a sweep of one {noun} has no runner-up to compare with"], summary)

    others, iv = vs_others(table, k, spec.alpha)
    margin = spec.min_margin_relative * abs(float(pooled[k]))
    diffs = iv.rows()[:-1]
    own = iv.row(len(others))
    summary.update(intervals=iv.rows(), inference=iv.describe(), margin_required=margin,
                   top_separated=top_separated(table, spec.alpha, spec.min_margin_relative),
                   leave_one_family_out=_leave_one_out(table))
    if not np.all(iv.defined):
        bad = [r["contrast"] for r in iv.rows() if not r["defined"]]
        summary["strong"] = False
        return Outcome(Verdict.INCONCLUSIVE, [f"undefined statistics: zero bootstrap spread for {bad[:4]}"], summary)

    beaters = [(r["high"], j, r) for j, r in zip(others, diffs) if r["high"] < 0]
    if beaters or own["high"] < spec.min_effect:
        reasons = []
        if beaters:
            high, j, r = min(beaters, key=lambda b: b[0])
            summary.update(challenger_layer=labels[j], challenger_interval=[r["low"], r["high"]])
            reasons.append(f"{noun} {labels[j]} ({fmt(pooled[j])}) beats claimed {noun} {claimed} ({fmt(pooled[k])}): "
                           f"{claimed} - {labels[j]} = {fmt(r['estimate'])}, {int(100 * (1 - spec.alpha))}% "
                           f"simultaneous CI {fmt_ci(r['low'], r['high'])} lies below 0 ({iv.method}, "
                           f"{len(iv.names)} comparisons)")
            summary["strong"] = strength(REFUTED, r["low"], r["high"], 0.0, 0.0)
        if own["high"] < spec.min_effect:
            reasons.append(f"{noun} {claimed}'s effect {fmt(own['estimate'])}, CI {fmt_ci(own['low'], own['high'])}, "
                           f"lies below min_effect {spec.min_effect}")
            summary["strong"] = summary.get("strong", False) or strength(
                REFUTED, own["low"], own["high"], spec.min_effect, spec.min_effect)
        return Outcome(Verdict.REFUTED, reasons, summary)

    closest_j, closest = min(zip(others, diffs), key=lambda t: t[1]["low"])
    summary.update(margin=closest["estimate"], closest_layer=labels[closest_j],
                   closest_interval=[closest["low"], closest["high"]])
    reasons = []
    if closest["low"] <= margin:
        reasons.append(f"{noun} {claimed} is not separated from {noun} {labels[closest_j]}: {claimed} - "
                       f"{labels[closest_j]} = {fmt(closest['estimate'])}, CI {fmt_ci(closest['low'], closest['high'])} "
                       f"does not clear the margin {fmt(margin)}")
        if pooled[k] < pooled[order[0]]:
            reasons[-1] += f" ({noun} {labels[order[0]]} has the highest point estimate, {fmt(pooled[order[0]])})"
    if own["low"] < spec.min_effect:
        reasons.append(f"{noun} {claimed}'s effect CI {fmt_ci(own['low'], own['high'])} does not clear "
                       f"min_effect {spec.min_effect}")
    n_seeds = summary["n_seeds"]
    need_seeds = n_seeds if spec.min_seed_agreement == "all" else spec.min_seed_agreement
    if summary["seed_agreement"] < need_seeds:
        reasons.append(f"only {summary['seed_agreement']} of {n_seeds} seeds have {noun} {claimed} on top "
                       f"(need {need_seeds}); per-seed tops {summary['seed_hubs']}")
    need_fam = math.ceil(spec.min_family_fraction * summary["n_families"] - 1e-9)
    if summary["family_agreement"] < need_fam:
        reasons.append(f"only {summary['family_agreement']} of {summary['n_families']} families have {noun} "
                       f"{claimed} on top (need {need_fam})")
    if reasons:
        summary["strong"] = False
        return Outcome(Verdict.INCONCLUSIVE, reasons, summary)
    summary["strong"] = all(strength(SUPPORTED, r["low"], r["high"], margin, 0.0) for r in diffs)
    return Outcome(Verdict.SUPPORTED, [
        f"{noun} {claimed} is on top ({fmt(pooled[k])}); every {claimed} - other interval clears the margin "
        f"{fmt(margin)} (closest {labels[closest_j]}: {fmt(closest['estimate'])}, CI "
        f"{fmt_ci(closest['low'], closest['high'])}; {iv.method}, {len(iv.names)} comparisons); "
        f"{summary['seed_agreement']}/{n_seeds} seeds and {summary['family_agreement']}/{summary['n_families']} "
        f"families agree"], summary)


def _leave_one_out(table: PromptTable) -> dict:
    """The pooled top with each family left out (robustness, shown in the report)."""
    if len(table.families) < 2:
        return {}
    return {f: table.labels[int(np.argmax(table.without_family(f).estimate()))] for f in table.families}


def is_strong(outcome: Outcome) -> bool:
    """The criterion's own verdict strength (the universal CI rule, audit.inference.strength)."""
    return bool(outcome.summary.get("strong", False))
