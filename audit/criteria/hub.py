"""``acceptance.kind: hub`` — "layer k is the causal hub": pure evaluation of a layer sweep.

Evidence is an effect table ``effects[seed][family][layer]`` (mean metric over the prompts a
seed sampled). The pooled sweep averages families, then seeds. Two layers are *separated* when
the paired per-seed difference exceeds both a relative margin and ``noise_z`` seed-to-seed
standard deviations. Refuted needs a layer that beats the claimed one that way; supported needs
the claimed layer on top, separated from the runner-up, above ``min_effect`` and agreed on by
enough seeds and families; everything else is inconclusive, with the reason.
"""

from __future__ import annotations

import math
from typing import Literal

from pydantic import Field, NonNegativeInt

from audit.criteria import criterion
from audit.spec import StrictModel
from audit.stats import argmax as _argmax, mean as _mean, std as _std
from audit.verdict import Outcome, Verdict


@criterion("hub")
class HubAcceptance(StrictModel):
    kind: Literal["hub"]
    layer: NonNegativeInt = Field(description="the claimed hub layer")
    min_seed_agreement: Literal["all"] | NonNegativeInt = Field(
        "all", description="seeds whose own top layer must be the claimed one")
    min_family_fraction: float = Field(0.5, ge=0.0, le=1.0,
                                       description="fraction of families whose own top layer must be the claimed one")
    min_margin_relative: float = Field(0.05, ge=0.0, lt=1.0,
                                       description="top must beat the runner-up by this fraction of its effect")
    noise_z: float = Field(2.0, ge=0.0, description="... and by this many seed-to-seed standard deviations")
    min_effect: float = Field(0.0, ge=0.0, description="minimum pooled effect of the hub (metric units)")
    flat_tolerance: float = Field(1e-3, ge=0.0, description="relative range below which a sweep is flat")

    def evaluate(self, effects, layers, families, seeds) -> Outcome:
        return evaluate_hub(self, effects, layers, families, seeds)


def separation(per_seed: list[list[float]], a: int, b: int, margin: float, z: float) -> tuple[bool, float, float]:
    """Whether column a beats column b: (separated, mean paired gap, required gap)."""
    diffs = [row[a] - row[b] for row in per_seed]
    gap = _mean(diffs)
    pooled_a = _mean([row[a] for row in per_seed])
    required = max(margin * abs(pooled_a), z * _std(diffs))
    return gap > required, gap, required


def evaluate_hub(spec: HubAcceptance, effects, layers, families, seeds) -> Outcome:
    """Verdict of a hub claim from an effect table ``effects[seed][family][layer_index]``."""
    if spec.layer not in layers:
        return Outcome(Verdict.ERRORED, [f"claimed layer {spec.layer} was not in the sweep {layers}"])
    k = layers.index(spec.layer)
    per_seed = [[_mean([fam[i] for fam in seed_rows]) for i in range(len(layers))] for seed_rows in effects]
    pooled = [_mean([row[i] for row in per_seed]) for i in range(len(layers))]
    seed_std = [_std([row[i] for row in per_seed]) for i in range(len(layers))]
    seed_hubs = [layers[_argmax(row)] for row in per_seed]
    family_hubs = {f: layers[_argmax([_mean([effects[s][fi][i] for s in range(len(seeds))]) for i in range(len(layers))])]
                   for fi, f in enumerate(families)}
    top = _argmax(pooled)
    order = sorted(range(len(layers)), key=lambda i: (-pooled[i], i))
    runner = order[1] if len(order) > 1 else None
    summary = {
        "layers": layers, "pooled": pooled, "seed_std": seed_std, "seed_hubs": seed_hubs,
        "family_hubs": family_hubs, "top_layer": layers[top],
        "runner_up_layer": layers[runner] if runner is not None else None,
        "claimed_layer": spec.layer, "claimed_effect": pooled[k],
        "seed_agreement": sum(h == spec.layer for h in seed_hubs), "n_seeds": len(seeds),
        "family_agreement": sum(h == spec.layer for h in family_hubs.values()), "n_families": len(families),
    }
    fmt = "{:.4g}".format

    # Refuted: some layer beats the claimed one beyond margin and noise (any layer, not just the top:
    # otherwise a noisy top layer could hide a clear challenger).
    beaters = []
    for j in order:
        if j == k:
            continue
        beats, gap, need = separation(per_seed, j, k, spec.min_margin_relative, spec.noise_z)
        if beats:
            beaters.append((gap, j, need))
    if beaters:
        gap, j, need = max(beaters)
        summary["challenger_layer"], summary["challenger_gap"], summary["challenger_required"] = layers[j], gap, need
        return Outcome(Verdict.REFUTED, [
            f"layer {layers[j]} has effect {fmt(pooled[j])} vs claimed layer {spec.layer} "
            f"at {fmt(pooled[k])}: gap {fmt(gap)} exceeds the required {fmt(need)} (margin and seed noise)"], summary)

    spread = max(pooled) - min(pooled)
    if spread <= spec.flat_tolerance * max(abs(x) for x in pooled) or max(abs(x) for x in pooled) < 1e-12:
        summary["flat"] = True
        return Outcome(Verdict.INCONCLUSIVE, [
            f"flat sweep: every layer has about the same effect ({fmt(min(pooled))} to {fmt(max(pooled))}); "
            "no layer stands out (a degenerate ablation method, e.g. zero_output on a bias-free model, does this)"],
            summary)

    reasons = []
    if top != k:
        reasons.append(f"claimed layer {spec.layer} ({fmt(pooled[k])}) is not the top layer; layer {layers[top]} "
                       f"({fmt(pooled[top])}) is within margin/noise of it")
    elif runner is not None:
        sep, gap, need = separation(per_seed, k, runner, spec.min_margin_relative, spec.noise_z)
        summary["margin"], summary["margin_required"] = gap, need
        if not sep:
            reasons.append(f"layer {spec.layer} is not separated from runner-up layer {layers[runner]}: "
                           f"gap {fmt(gap)} <= required {fmt(need)}")
    if pooled[k] < spec.min_effect:
        reasons.append(f"hub effect {fmt(pooled[k])} is below min_effect {spec.min_effect}")
    need_seeds = len(seeds) if spec.min_seed_agreement == "all" else spec.min_seed_agreement
    if summary["seed_agreement"] < need_seeds:
        reasons.append(f"only {summary['seed_agreement']} of {len(seeds)} seeds have layer {spec.layer} on top "
                       f"(need {need_seeds}); per-seed hubs {seed_hubs}")
    need_fam = math.ceil(spec.min_family_fraction * len(families) - 1e-9)
    if summary["family_agreement"] < need_fam:
        reasons.append(f"only {summary['family_agreement']} of {len(families)} families have layer {spec.layer} "
                       f"on top (need {need_fam})")
    if reasons:
        return Outcome(Verdict.INCONCLUSIVE, reasons, summary)
    return Outcome(Verdict.SUPPORTED, [
        f"layer {spec.layer} is the top layer ({fmt(pooled[k])}), separated from runner-up layer "
        f"{layers[runner] if runner is not None else '-'}; {summary['seed_agreement']}/{len(seeds)} seeds and "
        f"{summary['family_agreement']}/{len(families)} families agree"], summary)


def is_strong(outcome: Outcome) -> bool:
    """Margins that let confidence reach its cap: unanimous seeds, most families, wide gap."""
    s = outcome.summary
    if outcome.verdict is Verdict.REFUTED:
        return s.get("challenger_gap", 0) > 2 * s.get("challenger_required", 0)
    return (s.get("seed_agreement") == s.get("n_seeds") and s.get("family_agreement", 0) >= 0.75 * s.get("n_families", 1)
            and s.get("margin", 0) > 2 * s.get("margin_required", 0))
