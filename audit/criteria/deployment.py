"""Deployment claims — layer skipping and quantization: pure criteria over measured checks.

Each claim is a list of *checks*; a check is ``pass``, ``fail`` or ``uncertain``:
- a quality check holds per seed; all seeds agree -> pass / fail, seeds disagree -> uncertain;
- a speed check compares a threshold with the ratio of every timed repeat; all repeats on one
  side -> pass / fail, repeats straddling it -> uncertain (timing noise decides nothing); a layer
  skip's repeat faster than its compute ratio allows (:func:`implausible`) -> uncertain.
Any failed check refutes the claim, any uncertain one makes it inconclusive, else supported.
"""

from __future__ import annotations

from typing import Literal

from pydantic import Field, NonNegativeFloat, PositiveFloat, model_validator

from audit.criteria import criterion
from audit.spec import StrictModel
from audit.stats import argmax, mean, spearman
from audit.verdict import Outcome, Verdict

PASS, FAIL, UNCERTAIN = "pass", "fail", "uncertain"


def seeds_status(holds: list[bool]) -> str:
    """pass when every seed holds, fail when none does, uncertain when seeds disagree."""
    if holds and all(holds):
        return PASS
    return FAIL if not any(holds) else UNCERTAIN


def at_least_status(values: list[float], threshold: float) -> str:
    """pass when every repeat is >= threshold, fail when every one is below, else uncertain."""
    return seeds_status([v >= threshold for v in values])


def compute_ratio(n_layers: int, n_skipped: int) -> float:
    """The speedup a skip config could reach if decoder layers were all the compute: n / kept."""
    return n_layers / (n_layers - n_skipped)


def implausible(speedups: list[float], ratio: float, tolerance: float) -> str | None:
    """Why the timing cannot be trusted (a repeat above ``tolerance`` x the compute ratio), or None."""
    if speedups and max(speedups) > tolerance * ratio:
        return (f"implausible timing ({fmt(max(speedups))}x exceeds compute ratio {fmt(ratio)}x by more than "
                f"{tolerance:g}x): noisy machine")
    return None


def speed_status(speedups: list[float], threshold: float, why_implausible: str | None) -> str:
    """:func:`at_least_status`, but never pass (nor fail) on implausible timing."""
    return UNCERTAIN if why_implausible else at_least_status(speedups, threshold)


def fmt(x) -> str:
    return "n/a" if x is None else f"{x:.3g}"


def judge(checks: list[tuple[str, str, str]], summary: dict) -> Outcome:
    """``checks``: (name, status, explanation) -> the verdict, every failed/uncertain check a reason."""
    summary = {**summary, "checks": [{"check": n, "status": s, "detail": d} for n, s, d in checks]}
    failed = [f"{n}: {d}" for n, s, d in checks if s == FAIL]
    if failed:
        return Outcome(Verdict.REFUTED, failed, summary)
    uncertain = [f"{n} (uncertain): {d}" for n, s, d in checks if s == UNCERTAIN]
    if uncertain:
        return Outcome(Verdict.INCONCLUSIVE, uncertain, summary)
    return Outcome(Verdict.SUPPORTED, [f"{n}: {d}" for n, _, d in checks], summary)


# --------------------------------------------------------------------------- layer skipping

@criterion("skip_not_free")
class SkipNotFree(StrictModel):
    """"Naive layer skipping is not a free speedup": no skip config is both faithful and faster.

    A config is *faithful* on a seed when its top-5 overlap and greedy agreement with the
    unmodified model reach the thresholds, and *faster* when every timed repeat's tokens/s ratio
    reaches ``min_speedup``. One config that is faithful on every seed and faster refutes the
    claim; a config whose faithfulness differs across seeds, or that is faithful with a speedup
    inside the timing noise or above what its compute ratio allows, leaves it inconclusive.
    """

    kind: Literal["skip_not_free"]
    faithful_top5_overlap: float = Field(0.9, gt=0.0, le=1.0,
                                         description="top-5 overlap at or above which outputs count as preserved")
    faithful_greedy_agreement: float = Field(0.9, gt=0.0, le=1.0,
                                             description="greedy-continuation agreement at or above which outputs count as preserved")
    min_speedup: PositiveFloat = Field(1.05, description="tokens/s ratio (skip / unmodified) that counts as a speedup")
    timing_tolerance: float = Field(1.25, ge=1.0, description="a repeat faster than this x the compute ratio "
                                    "(layers / kept layers) is implausible: that config's speed is uncertain")

    def evaluate_skip(self, configs: list[dict], n_layers: int) -> Outcome:
        """``configs``: [{name, n_skipped, seeds: [{top5_overlap, greedy_agreement}], speedups: [per
        repeat]}] of a model with ``n_layers`` decoder layers."""
        checks, statuses, noisy = [], {}, {}
        for c in configs:
            faithful = seeds_status([s["top5_overlap"] >= self.faithful_top5_overlap
                                     and s["greedy_agreement"] >= self.faithful_greedy_agreement for s in c["seeds"]])
            why = implausible(c["speedups"], compute_ratio(n_layers, c["n_skipped"]), self.timing_tolerance)
            faster = speed_status(c["speedups"], self.min_speedup, why)
            overlap = mean(s["top5_overlap"] for s in c["seeds"])
            agree = mean(s["greedy_agreement"] for s in c["seeds"])
            detail = (f"top-5 overlap {fmt(overlap)}, greedy agreement {fmt(agree)}, speedup "
                      f"{fmt(min(c['speedups']))}-{fmt(max(c['speedups']))}x" + (f"; {why}" if why else ""))
            if faithful == PASS and faster == PASS:
                status, detail = FAIL, "a free speedup: outputs preserved and faster; " + detail
            elif faithful == FAIL or faster == FAIL:
                status = PASS
                detail = ("outputs not preserved; " if faithful == FAIL else "preserved but not faster; ") + detail
            else:
                status = UNCERTAIN
                detail = ("faithfulness differs across seeds; " if faithful == UNCERTAIN
                          else "speed not established; " if why else "speedup within timing noise; ") + detail
            statuses[c["name"]] = status
            if why:
                noisy[c["name"]] = why
            checks.append((f"skip {c['name']}", status, detail))
        if not configs:
            checks.append(("configs", UNCERTAIN, "no skip config was measured"))
        overlaps = [mean(s["top5_overlap"] for s in c["seeds"]) for c in configs]
        return judge(checks, {"config_status": statuses, "implausible_timing": noisy,
                              "max_top5_overlap": max(overlaps, default=None),
                              "min_top5_overlap": min(overlaps, default=None)})


# --------------------------------------------------------------------------- quantization

@criterion("quant_practical")
class QuantPractical(StrictModel):
    """"Mode X is the practical inference choice": fast enough next to the baseline dtype,
    faster than the modes it should beat, smaller, and close in quality to the reference."""

    kind: Literal["quant_practical"]
    candidate: str = Field(description="the mode claimed practical, e.g. nf4")
    baseline: str = Field(description="the mode its speed and memory are compared with, e.g. bfloat16")
    min_speed_ratio: PositiveFloat = Field(description="candidate tokens/s >= this x baseline tokens/s")
    beats: list[str] = Field(default_factory=list, description="modes the candidate must out-run (ratio > 1)")
    max_memory_ratio: PositiveFloat = Field(1.0, description="candidate model memory <= this x baseline")
    max_exact_match_drop: NonNegativeFloat = Field(0.05, description="exact-match drop vs the reference mode, per seed")
    max_kl: NonNegativeFloat = Field(0.1, description="mean KL(reference || candidate) at the answer position, per seed (nats)")

    def modes_needed(self) -> set[str]:
        return {self.candidate, self.baseline, *self.beats}

    def evaluate_quant(self, modes: dict, reference: str) -> Outcome:
        """``modes[m]``: {speed_ratios: {other: [per repeat]}, memory_mb, seeds: [{exact_match, kl}]}."""
        c, ref = modes[self.candidate], modes[reference]
        ratios = c["speed_ratios"][self.baseline]
        checks = [(f"speed vs {self.baseline}", at_least_status(ratios, self.min_speed_ratio),
                   f"tokens/s ratio {fmt(min(ratios))}-{fmt(max(ratios))} over repeats (need >= {self.min_speed_ratio})")]
        for slow in self.beats:
            r = c["speed_ratios"][slow]
            checks.append((f"faster than {slow}", seeds_status([v > 1.0 for v in r]),
                           f"tokens/s ratio {fmt(min(r))}-{fmt(max(r))} over repeats (need > 1)"))
        mem = c["memory_mb"] / modes[self.baseline]["memory_mb"]
        checks.append(("memory", PASS if mem <= self.max_memory_ratio else FAIL,
                       f"{fmt(c['memory_mb'])} MB = {fmt(mem)}x {self.baseline} (need <= {self.max_memory_ratio})"))
        drops = [r["exact_match"] - s["exact_match"] for r, s in zip(ref["seeds"], c["seeds"])]
        checks.append((f"exact match vs {reference}", seeds_status([d <= self.max_exact_match_drop for d in drops]),
                       f"drop per seed {', '.join(fmt(d) for d in drops)} (need <= {self.max_exact_match_drop})"))
        kls = [s["kl"] for s in c["seeds"]]
        checks.append((f"KL to {reference}", seeds_status([k <= self.max_kl for k in kls]),
                       f"per seed {', '.join(fmt(k) for k in kls)} nats (need <= {self.max_kl})"))
        return judge(checks, {"candidate": self.candidate, "baseline": self.baseline, "memory_ratio": mem,
                              "median_speed_ratio": sorted(ratios)[len(ratios) // 2]})


# --------------------------------------------------------------------------- causal drift

def drift(reference: list[float], other: list[float], tie_relative: float = 0.0) -> dict:
    """How far a per-layer effect vector moved: Spearman correlation, hub identity and the ratio
    of mean effect magnitudes (None where the reference is ~0: a degenerate ratio is no finding).

    ``top_tied``: the tops differ, but each vector has the other's top within ``tie_relative`` of
    its own maximum — a near-tie, so "the top layer moved" is not established either way."""
    ref_mag = mean(abs(x) for x in reference)
    top_ref, top = argmax(reference), argmax(other)
    tied = top != top_ref and (reference[top] >= (1 - tie_relative) * reference[top_ref]
                               and other[top_ref] >= (1 - tie_relative) * other[top])
    return {"spearman": spearman(reference, other), "top_reference": top_ref, "top": top,
            "same_top": top == top_ref, "top_tied": tied,
            "magnitude_ratio": mean(abs(x) for x in other) / ref_mag if ref_mag > 1e-12 else None}


def tristate(statuses: list[str]) -> str:
    """pass / fail when every seed says so, uncertain otherwise."""
    if statuses and all(st == PASS for st in statuses):
        return PASS
    return FAIL if statuses and all(st == FAIL for st in statuses) else UNCERTAIN


@criterion("causal_drift")
class CausalDrift(StrictModel):
    """"The causal surface survives quantization": per seed, each mode's per-layer effect vector
    correlates with the reference (Spearman), keeps its top layer, and keeps its magnitude.

    A top layer that differs only within ``top_tie_relative`` of both maxima (a near-tie in
    either sweep) neither keeps nor moves the hub: that seed is uncertain."""

    kind: Literal["causal_drift"]
    min_spearman: float = Field(0.9, ge=-1.0, le=1.0)
    same_top: bool = Field(True, description="the top layer must be the reference's")
    top_tie_relative: float = Field(0.1, ge=0.0, lt=1.0,
                                    description="tops closer than this fraction of the maximum are a near-tie")
    magnitude_ratio: tuple[PositiveFloat, PositiveFloat] = Field(
        (0.8, 1.25), description="[low, high] bounds of mean |effect| under the mode / under the reference")

    @model_validator(mode="after")
    def _ordered(self):
        if self.magnitude_ratio[0] > self.magnitude_ratio[1]:
            raise ValueError(f"magnitude_ratio [{self.magnitude_ratio[0]}, {self.magnitude_ratio[1]}] "
                             "must be [low, high] with low <= high")
        return self

    def evaluate_drift(self, reference: list[list[float]], modes: dict[str, list[list[float]]],
                       labels: list) -> Outcome:
        """``reference[seed][layer]`` and ``modes[mode][seed][layer]``: per-seed layer effects."""
        lo, hi = self.magnitude_ratio
        checks, drifts = [], {}
        for mode, per_seed_effects in modes.items():
            per_seed = [drift(r, o, self.top_tie_relative) for r, o in zip(reference, per_seed_effects)]
            for d in per_seed:
                d["top"], d["top_reference"] = labels[d["top"]], labels[d["top_reference"]]
            drifts[mode] = per_seed
            rhos = [d["spearman"] for d in per_seed]
            checks.append((f"{mode} rank correlation", seeds_status([r is not None and r >= self.min_spearman for r in rhos]),
                           f"Spearman per seed {', '.join(fmt(r) for r in rhos)} (need >= {self.min_spearman})"))
            if self.same_top:
                tops = [PASS if d["same_top"] else UNCERTAIN if d["top_tied"] else FAIL for d in per_seed]
                checks.append((f"{mode} top layer", tristate(tops),
                               "top layer per seed " + ", ".join(
                                   f"L{d['top']} (reference L{d['top_reference']}{', near-tie' if d['top_tied'] else ''})"
                                   for d in per_seed)))
            ratios = [d["magnitude_ratio"] for d in per_seed]
            status = (UNCERTAIN if None in ratios
                      else seeds_status([lo <= r <= hi for r in ratios]))
            checks.append((f"{mode} effect magnitude", status,
                           f"ratio to reference per seed {', '.join(fmt(r) for r in ratios)} (need {lo}-{hi})"))
        return judge(checks, {"modes": sorted(drifts), "drifts": drifts})
