"""``acceptance.kind: hub`` and ``top_component`` — "X is the causal hub / top component":
pure evaluation of a sweep's effect table.

Evidence is ``effects[seed][family][component]`` (mean metric over the prompts a seed sampled).
The pooled sweep averages families, then seeds. Two components are *separated* when the paired
per-seed difference exceeds both a relative margin and ``noise_z`` seed-to-seed standard
deviations. Refuted needs a component that beats the claimed one that way; supported needs the
claimed one on top, separated from the runner-up, above ``min_effect`` and agreed on by enough
seeds and families; everything else is inconclusive, with the reason.
"""

from __future__ import annotations

import math
from typing import Literal

from pydantic import Field, NonNegativeInt

from audit.criteria import criterion
from audit.spec import StrictModel
from audit.stats import argmax, mean, std
from audit.verdict import Outcome, Verdict


class SeparationThresholds(StrictModel):
    min_seed_agreement: Literal["all"] | NonNegativeInt = Field(
        "all", description="seeds whose own top component must be the claimed one")
    min_family_fraction: float = Field(0.5, ge=0.0, le=1.0,
                                       description="fraction of families whose own top component must be the claimed one")
    min_margin_relative: float = Field(0.05, ge=0.0, lt=1.0,
                                       description="top must beat the runner-up by this fraction of its effect")
    noise_z: float = Field(2.0, ge=0.0, description="... and by this many seed-to-seed standard deviations")
    min_effect: float = Field(0.0, ge=0.0, description="minimum pooled effect of the claimed component (metric units)")
    flat_tolerance: float = Field(1e-3, ge=0.0, description="relative range below which a sweep is flat")


@criterion("hub")
class HubAcceptance(SeparationThresholds):
    kind: Literal["hub"]
    layer: NonNegativeInt = Field(description="the claimed hub layer")

    def evaluate(self, effects, layers, families, seeds) -> Outcome:
        return evaluate_top(self, self.layer, list(layers), effects, families, seeds, noun="layer")


@criterion("top_component")
class TopComponentAcceptance(SeparationThresholds):
    kind: Literal["top_component"]
    component: str = Field(description="label of the claimed top component, e.g. L3.H2, L8.mlp, L2@first")

    def evaluate(self, effects, labels, families, seeds) -> Outcome:
        return evaluate_top(self, self.component, list(labels), effects, families, seeds, noun="component")


def evaluate_hub(spec: HubAcceptance, effects, layers, families, seeds) -> Outcome:
    return spec.evaluate(effects, layers, families, seeds)


def per_seed_pooled(effects, width: int) -> list[list[float]]:
    """``[seed][component]``: the family mean of each component's effect."""
    return [[mean(fam[i] for fam in seed_rows) for i in range(width)] for seed_rows in effects]


def separation(per_seed: list[list[float]], a: int, b: int, margin: float, z: float) -> tuple[bool, float, float]:
    """Whether column a beats column b: (separated, mean paired gap, required gap)."""
    diffs = [row[a] - row[b] for row in per_seed]
    gap = mean(diffs)
    required = max(margin * abs(mean(row[a] for row in per_seed)), z * std(diffs))
    return gap > required, gap, required


def evaluate_top(spec: SeparationThresholds, claimed, labels: list, effects, families, seeds, noun: str) -> Outcome:
    """Verdict of "``claimed`` is the top component" from ``effects[seed][family][component]``."""
    if claimed not in labels:
        return Outcome(Verdict.ERRORED, [f"claimed {noun} {claimed} was not in the sweep {labels}"])
    k, width = labels.index(claimed), len(labels)
    per_seed = per_seed_pooled(effects, width)
    pooled = [mean(row[i] for row in per_seed) for i in range(width)]
    seed_tops = [labels[argmax(row)] for row in per_seed]
    family_tops = {f: labels[argmax([mean(effects[s][fi][i] for s in range(len(seeds))) for i in range(width)])]
                   for fi, f in enumerate(families)}
    order = sorted(range(width), key=lambda i: (-pooled[i], i))
    top, runner = order[0], (order[1] if width > 1 else None)
    summary = {
        "labels": labels, "pooled": pooled, "seed_std": [std(row[i] for row in per_seed) for i in range(width)],
        "seed_hubs": seed_tops, "family_hubs": family_tops, "top_layer": labels[top],
        "runner_up_layer": labels[runner] if runner is not None else None, "claimed": claimed,
        "claimed_effect": pooled[k], "seed_agreement": sum(t == claimed for t in seed_tops), "n_seeds": len(seeds),
        "family_agreement": sum(t == claimed for t in family_tops.values()), "n_families": len(families),
    }
    summary["top_separated"] = all(separation(per_seed, top, j, spec.min_margin_relative, spec.noise_z)[0]
                                   for j in range(width) if j != top)
    fmt = "{:.4g}".format

    # Refuted: any component beats the claimed one beyond margin and noise (not just the top one:
    # otherwise a noisy top could hide a clear challenger).
    beaters = []
    for j in order:
        if j != k:
            beats, gap, need = separation(per_seed, j, k, spec.min_margin_relative, spec.noise_z)
            if beats:
                beaters.append((gap, j, need))
    if beaters:
        gap, j, need = max(beaters)
        summary.update(challenger_layer=labels[j], challenger_gap=gap, challenger_required=need)
        return Outcome(Verdict.REFUTED, [
            f"{noun} {labels[j]} has effect {fmt(pooled[j])} vs claimed {noun} {claimed} at {fmt(pooled[k])}: "
            f"gap {fmt(gap)} exceeds the required {fmt(need)} (margin and seed noise)"], summary)

    largest = max(abs(x) for x in pooled)
    if max(pooled) - min(pooled) <= spec.flat_tolerance * largest or largest < 1e-12:
        summary["flat"] = True
        return Outcome(Verdict.INCONCLUSIVE, [
            f"flat sweep: every {noun} has about the same effect ({fmt(min(pooled))} to {fmt(max(pooled))}); "
            f"no {noun} stands out (a degenerate ablation method, e.g. zero_output on a bias-free model, does this)"],
            summary)

    reasons = []
    if top != k:
        reasons.append(f"claimed {noun} {claimed} ({fmt(pooled[k])}) is not on top; {noun} {labels[top]} "
                       f"({fmt(pooled[top])}) is within margin/noise of it")
    elif runner is not None:
        # separated from every other component, not just the pooled runner-up: a noisy runner-up
        # must not hide (or a quiet one reveal) a weak margin elsewhere
        closest = min((separation(per_seed, k, j, spec.min_margin_relative, spec.noise_z) + (j,)
                       for j in range(width) if j != k), key=lambda r: (r[0], r[1] - r[2]))
        sep, gap, need, j = closest
        summary["margin"], summary["margin_required"], summary["closest_layer"] = gap, need, labels[j]
        if not sep:
            reasons.append(f"{noun} {claimed} is not separated from {noun} {labels[j]}: "
                           f"gap {fmt(gap)} <= required {fmt(need)}")
    if pooled[k] < spec.min_effect:
        reasons.append(f"effect {fmt(pooled[k])} is below min_effect {spec.min_effect}")
    need_seeds = len(seeds) if spec.min_seed_agreement == "all" else spec.min_seed_agreement
    if summary["seed_agreement"] < need_seeds:
        reasons.append(f"only {summary['seed_agreement']} of {len(seeds)} seeds have {noun} {claimed} on top "
                       f"(need {need_seeds}); per-seed tops {seed_tops}")
    need_fam = math.ceil(spec.min_family_fraction * len(families) - 1e-9)
    if summary["family_agreement"] < need_fam:
        reasons.append(f"only {summary['family_agreement']} of {len(families)} families have {noun} {claimed} "
                       f"on top (need {need_fam})")
    if reasons:
        return Outcome(Verdict.INCONCLUSIVE, reasons, summary)
    return Outcome(Verdict.SUPPORTED, [
        f"{noun} {claimed} is on top ({fmt(pooled[k])}), separated from runner-up {noun} "
        f"{labels[runner] if runner is not None else '-'}; {summary['seed_agreement']}/{len(seeds)} seeds and "
        f"{summary['family_agreement']}/{len(families)} families agree"], summary)


def is_strong(outcome: Outcome) -> bool:
    """Margins that let confidence reach its cap: unanimous seeds, most families, wide gap."""
    s = outcome.summary
    if "strong" in s:  # criteria other than hub/top_component say so themselves
        return bool(s["strong"])
    if outcome.verdict is Verdict.REFUTED:
        return s.get("challenger_gap", 0) > 2 * s.get("challenger_required", 0)
    return (s.get("seed_agreement") == s.get("n_seeds") and s.get("family_agreement", 0) >= 0.75 * s.get("n_families", 1)
            and s.get("margin", 0) > 2 * s.get("margin_required", 0))
