"""Deployment claims — layer skipping, quantization, causal drift — and the check-list machinery
the training criteria share (pure: numpy, no torch).

A claim is a list of *checks*, each decided from an interval (:mod:`audit.inference`): pass when
the interval clears the threshold, fail when it shows the opposite relation, uncertain otherwise.
A check whose evidence is degenerate (:func:`audit.inference.degenerate`: every arm at a ceiling or
floor, zero variance, differences below the measured noise, an undefined statistic) is uncertain
and says which. Any failed check refutes the claim (its evidence is never degenerate: degenerate
checks are uncertain), any uncertain one leaves it inconclusive, else it is supported.
``summary["strong"]``: every decided check is strong (:func:`audit.inference.strength`).

Intervals (the method is stated on every check):
- per-prompt values (top-5 overlap, greedy agreement, exact match, KL, per-layer effects): max-T
  simultaneous 95% bootstrap intervals over every statistic the criterion compares, paired per
  prompt, stratified by family, pooled across seeds (``resample="prompts"``: a seed only chooses
  prompts). A bounded per-prompt contrast with no spread at all (every prompt the same value, so
  the bootstrap has none) gets an exact bound: no prompt of n differs, Clopper-Pearson at the
  family's Bonferroni share of alpha;
- speed (tokens/s ratios of interleaved timed repeats): the distribution-free interval
  [min, max] of the repeats for their median (coverage 1 - 2^(1-n): 94% at 5 repeats); a layer
  skip's repeat faster than its compute ratio allows (:func:`implausible`) is uncertain;
- memory and parameter counts: exact (an interval of zero width).
"""

from __future__ import annotations

import math
from typing import Literal, get_args

import numpy as np
from pydantic import Field, NonNegativeFloat, PositiveFloat, model_validator

from audit import inference
from audit.criteria.base import criterion
from audit.evidence_models.judged import DriftSweeps, PrecisionModes, SkipRuns
from audit.inference import ALPHA, N_BOOT, PromptTable, binomial_ci, degenerate, simultaneous_ci, statistic_ci
from audit.spec import DistinctNames, ReplacedKeys, StrictModel
from audit.verdict import Outcome, Verdict
from interventions.quantization import Mode

PASS, FAIL, UNCERTAIN = "pass", "fail", "uncertain"
_STATUS = {inference.SUPPORTED: PASS, inference.REFUTED: FAIL, inference.INCONCLUSIVE: UNCERTAIN}


def fmt(x) -> str:
    return "n/a" if x is None or (isinstance(x, float) and not math.isfinite(x)) else f"{x:.3g}"


def finite(x) -> float | None:
    """A JSON-safe float: None for a missing or undefined (NaN, infinite) value."""
    return None if x is None or not math.isfinite(float(x)) else float(x)


# --------------------------------------------------------------------------- checks

def make_check(name: str, low: float, high: float, threshold: float, *, above: bool = True, estimate=None,
               per_seed: dict | None = None, degenerate_reasons=(), method: str = "", what: str = "") -> dict:
    """One check of the claimed relation ``q > threshold`` (``above``) or ``q < threshold`` from an
    interval [low, high] of q (:func:`audit.inference.check`); degenerate evidence -> uncertain."""
    c = (inference.check(name, low, high, threshold, what=what) if above
         else inference.check(name, -high, -low, -threshold, what=what))
    reasons = list(degenerate_reasons)
    return {"check": name, "status": UNCERTAIN if reasons else _STATUS[c["status"]],
            "estimate": finite(estimate), "low": float(low), "high": float(high),
            "relation": ">" if above else "<", "threshold": float(threshold), "strong": bool(c["strong"]) and not reasons,
            "per_seed": {str(k): finite(v) for k, v in (per_seed or {}).items()}, "degenerate": reasons,
            "method": method, "detail": what}


def undefined(iv: dict, spread: bool = True) -> list[str]:
    """Why an interval cannot decide anything (empty when it can): one training seed, or no spread
    (``spread=False`` for a statistic that may legitimately sit still, e.g. a rank correlation of
    1 in every bootstrap replicate)."""
    if iv.get("defined", True):
        return []
    if iv["method"].startswith("one seed"):
        return [iv["method"] + "; use 3 or more seeds"]
    return [f"undefined: {iv['name']} has no spread"] if spread else []


def combine(name: str, parts: list[dict], negate: bool = False, what: str = "") -> dict:
    """A check holding when every part holds: fail when any part fails, pass when all pass; strong
    when its decisive parts are (all parts for a pass, a failing one for a fail). ``negate``: the
    check holds when the conjunction does not (a skip config is *not* free)."""
    statuses = [p["status"] for p in parts]
    status = FAIL if FAIL in statuses else PASS if all(s == PASS for s in statuses) else UNCERTAIN
    strong = (all(p["strong"] for p in parts) if status == PASS
              else any(p["strong"] for p in parts if p["status"] == FAIL) if status == FAIL else False)
    if negate and status != UNCERTAIN:
        status = PASS if status == FAIL else FAIL
    return {"check": name, "status": status, "strong": strong, "parts": parts,
            "degenerate": [r for p in parts for r in p.get("degenerate", [])], "detail": what}


def describe(c: dict) -> str:
    """One line: the check's estimate, interval, threshold, per-seed values, degeneracy, detail."""
    if "parts" in c:
        return f"{c['detail'] + '; ' if c['detail'] else ''}" + "; ".join(
            f"{p['check']} {p['status']}: {describe(p)}" for p in c["parts"])
    est = "" if c["estimate"] is None else f"{fmt(c['estimate'])} "
    seeds = (", per seed " + ", ".join(f"{s}: {fmt(v)}" for s, v in c["per_seed"].items())) if c["per_seed"] else ""
    text = f"{est}CI [{fmt(c['low'])}, {fmt(c['high'])}] (need {c['relation']} {fmt(c['threshold'])}{seeds})"
    if c["degenerate"]:
        text += "; degenerate: " + "; ".join(c["degenerate"])
    return text + (f"; {c['detail']}" if c["detail"] else "")


def judge(checks: list[dict], summary: dict, gate=()) -> Outcome:
    """The verdict of a check list. ``gate``: degeneracy reasons of the evidence as a whole — then
    inconclusive before any check is decided. Strong: every decided check is strong."""
    summary = {**summary, "checks": checks, "degenerate": list(gate)}
    if gate:
        return Outcome(Verdict.INCONCLUSIVE, [f"degenerate evidence: {r}" for r in gate], {**summary, "strong": False})
    failed = [c for c in checks if c["status"] == FAIL]
    uncertain = [c for c in checks if c["status"] == UNCERTAIN]
    decided = [c for c in checks if c["status"] != UNCERTAIN]
    if failed:
        verdict, shown = Verdict.REFUTED, failed
    elif uncertain or not checks:
        verdict, shown = Verdict.INCONCLUSIVE, uncertain
    else:
        verdict, shown = Verdict.SUPPORTED, checks
    suffix = " (uncertain)" if verdict is Verdict.INCONCLUSIVE else ""
    reasons = [f"{c['check']}{suffix}: {describe(c)}" for c in shown] or ["no check was measured"]
    strong = verdict is not Verdict.INCONCLUSIVE and all(c["strong"] for c in decided)
    return Outcome(verdict, reasons, {**summary, "strong": strong})


# --------------------------------------------------------------------------- intervals

def n_units(table: PromptTable) -> int:
    """Observations behind an exact bound: distinct prompts (per seed when a seed trains its own
    model — used only when every run agreed on every prompt, so no run-to-run spread was seen)."""
    if table.resample == "prompts":
        return len(set(table.unit))
    return len(set(zip(table.seed, table.unit)))


def intervals(table: PromptTable, contrasts, names: list[str], bounds=None, alpha: float = ALPHA) -> list[dict]:
    """Max-T simultaneous intervals of ``contrasts @ arms`` (one dict per contrast: estimate, low,
    high, per-seed values, defined, method). ``bounds``: (lo, hi) of every per-prompt arm value (or
    one per contrast, None where unbounded); a bounded contrast equal on every row then gets the
    exact bound instead of a zero-width interval."""
    c = np.atleast_2d(np.asarray(contrasts, dtype=float))
    iv = simultaneous_ci(table, c, names, alpha)
    per_seed = table.per_seed()
    each = bounds if isinstance(bounds, list) else [bounds] * len(names)
    out = []
    for j, (name, bounds) in enumerate(zip(names, each)):
        row = {"name": name, "estimate": float(iv.point[j]), "low": float(iv.low[j]), "high": float(iv.high[j]),
               "defined": bool(iv.defined[j]), "method": iv.method + f", max-T over {len(names)}",
               "per_seed": {str(s): float(c[j] @ v) for s, v in per_seed.items()}}
        x = table.values @ c[j]
        if not row["defined"] and bounds is not None and np.ptp(x) == 0 and (
                table.resample == "prompts" or len(table.seeds) > 1):
            lo = float(np.sum(np.where(c[j] > 0, c[j] * bounds[0], c[j] * bounds[1])))
            hi = float(np.sum(np.where(c[j] > 0, c[j] * bounds[1], c[j] * bounds[0])))
            n = n_units(table)
            u = binomial_ci(0, n, alpha / len(names))[1]
            v = float(x[0])
            what = "prompts" if table.resample == "prompts" else f"prompts of {len(table.seeds)} training runs"
            row.update(low=v - u * (v - lo), high=v + u * (hi - v), defined=True,
                       method=f"no spread: every one of {n} {what} gives {v:.4g}; exact bound (Clopper-Pearson, "
                              f"0 of {n} differ, alpha {alpha:g}/{len(names)})")
        out.append(row)
    return out


def repeat_interval(values: list[float]) -> tuple[float, float, str]:
    """[min, max] of timed repeats: a distribution-free interval of their median."""
    n = len(values)
    return (float(min(values)), float(max(values)),
            f"[min, max] of {n} timed repeats: distribution-free interval of the median, coverage "
            f"{1 - 2.0 ** (1 - n):.1%}")


def exact_check(name: str, value: float, threshold: float, above: bool, what: str) -> dict:
    """A check on an exact quantity (memory footprint, parameter count): >= / <= decides."""
    holds = value >= threshold if above else value <= threshold
    return {**make_check(name, value, value, threshold, above=above, estimate=value, method="exact", what=what),
            "status": PASS if holds else FAIL, "strong": True}


# --------------------------------------------------------------------------- timing helpers

def compute_ratio(n_layers: int, n_skipped: int) -> float:
    """The speedup a skip config could reach if decoder layers were all the compute: n / kept."""
    return n_layers / (n_layers - n_skipped)


def implausible(speedups: list[float], ratio: float, tolerance: float) -> str | None:
    """Why the timing cannot be trusted (a repeat above ``tolerance`` x the compute ratio), or None."""
    if speedups and max(speedups) > tolerance * ratio:
        return (f"implausible timing ({fmt(max(speedups))}x exceeds compute ratio {fmt(ratio)}x by more than "
                f"{tolerance:g}x): noisy machine")
    return None


def speed_check(name: str, ratios: list[float], threshold: float, why_implausible: str | None = None) -> dict:
    """Median tokens/s ratio > threshold, on the [min, max] interval of the repeats; never decided
    on implausible timing."""
    low, high, method = repeat_interval(ratios)
    return make_check(name, low, high, threshold, estimate=float(np.median(ratios)), method=method,
                      degenerate_reasons=[why_implausible] if why_implausible else [],
                      what="tokens/s ratio over repeats")


def prompt_table(per_prompt: dict, samples: dict, columns: list[tuple]) -> PromptTable:
    """``PromptTable`` (resample prompts) with one arm per ``(label, getter)`` column:
    ``getter(per_prompt[pid])`` is the prompt's value; ``samples[seed][family] -> [pid]``."""
    rows = {pid: [get(v) for _, get in columns] for pid, v in per_prompt.items()}
    return PromptTable.from_samples(rows, {int(s): fam for s, fam in samples.items()}, [label for label, _ in columns])


# --------------------------------------------------------------------------- layer skipping

@criterion("skip_not_free")
class SkipNotFree(StrictModel):
    """"Naive layer skipping is not a free speedup": no skip config is both faithful and faster.

    A config is *faithful* when the intervals of its mean top-5 overlap and greedy agreement
    with the unmodified model clear the thresholds, *unfaithful* when either interval lies below;
    *faster* when its speedup interval clears ``min_speedup``, *slower* when it lies below.
    Faithful and faster refutes the claim (a free speedup); unfaithful or slower passes the
    config; anything else — including a speedup above what the compute ratio allows — leaves it
    inconclusive. Quality intervals are simultaneous over every config and both metrics.
    """

    kind: Literal["skip_not_free"]
    faithful_top5_overlap: float = Field(0.9, gt=0.0, le=1.0,
                                         description="top-5 overlap at or above which outputs count as preserved")
    faithful_greedy_agreement: float = Field(0.9, gt=0.0, le=1.0,
                                             description="greedy-continuation agreement at or above which outputs count as preserved")
    min_speedup: PositiveFloat = Field(1.05, description="tokens/s ratio (skip / unmodified) that counts as a speedup")
    timing_tolerance: float = Field(1.25, ge=1.0, description="a repeat faster than this x the compute ratio "
                                    "(layers / kept layers) is implausible: that config's speed is uncertain")

    def evaluate(self, evidence: SkipRuns) -> Outcome:
        """``configs``: [{name, n_skipped, per_prompt: {pid: {top5_overlap, greedy_agreement}},
        speedups: [per repeat]}]; ``samples[seed][family] -> [pid]``."""
        configs, n_layers, samples = evidence.configs, evidence.n_layers, evidence.samples
        if not configs:
            return judge([], {"config_status": {}, "implausible_timing": {}})
        metrics = [("top5_overlap", self.faithful_top5_overlap), ("greedy_agreement", self.faithful_greedy_agreement)]
        columns = [(f"{c['name']}:{m}", lambda v, c=c, m=m: v[c["name"]][m]) for c in configs for m, _ in metrics]
        merged = {pid: {c["name"]: c["per_prompt"][pid] for c in configs} for pid in configs[0]["per_prompt"]}
        table = prompt_table(merged, samples, columns)
        ivs = intervals(table, np.eye(len(columns)), [label for label, _ in columns], bounds=(0.0, 1.0))
        checks, statuses, noisy = [], {}, {}
        for i, c in enumerate(configs):
            quality = [make_check(m, iv["low"], iv["high"], t, estimate=iv["estimate"], per_seed=iv["per_seed"],
                                  method=iv["method"], degenerate_reasons=[] if iv["defined"] else
                                  [f"undefined: {m} has no spread and no bound"])
                       for (m, t), iv in zip(metrics, ivs[2 * i: 2 * i + 2])]
            faithful = combine("faithful", quality)
            why = implausible(c["speedups"], compute_ratio(n_layers, c["n_skipped"]), self.timing_tolerance)
            faster = speed_check("faster", c["speedups"], self.min_speedup, why)
            check = combine(f"skip {c['name']}", [faithful, faster], negate=True,
                            what=("a free speedup: outputs preserved and faster" if faithful["status"] == PASS
                                  and faster["status"] == PASS else "outputs not preserved"
                                  if faithful["status"] == FAIL else "preserved but not faster"
                                  if faster["status"] == FAIL else "speed not established" if why
                                  else "not established either way"))
            statuses[c["name"]] = check["status"]
            if why:
                noisy[c["name"]] = why
            checks.append(check)
        return judge(checks, {"config_status": statuses, "implausible_timing": noisy, "quality_intervals": ivs,
                              "max_top5_overlap": max(iv["estimate"] for iv in ivs[0::2]),
                              "min_top5_overlap": min(iv["estimate"] for iv in ivs[0::2])})


# --------------------------------------------------------------------------- quantization

_MODE_ENUM = {"enum": list(get_args(Mode))}  # schema only: which modes exist is checked against intervention.modes


@criterion("quant_practical")
class QuantPractical(StrictModel):
    """"Mode X is the practical inference choice": fast enough next to the baseline dtype,
    faster than the modes it should beat, smaller, and close in quality to the reference.

    Quality (exact-match drop and KL against the reference, paired per prompt) is judged on max-T
    simultaneous intervals over both; an exact-match comparison where both modes sit at the
    metric's floor or ceiling cannot discriminate and is uncertain."""

    kind: Literal["quant_practical"]
    candidate: str = Field(description="the mode claimed practical, e.g. nf4", json_schema_extra=_MODE_ENUM)
    baseline: str = Field(description="the mode its speed and memory are compared with, e.g. bfloat16",
                          json_schema_extra=_MODE_ENUM)
    min_speed_ratio: PositiveFloat = Field(description="candidate tokens/s >= this x baseline tokens/s")
    beats: DistinctNames = Field(default_factory=list, description="modes the candidate must out-run (ratio > 1)",
                                 json_schema_extra={"items": {"type": "string", **_MODE_ENUM}})
    max_memory_ratio: PositiveFloat = Field(1.0, description="candidate model memory <= this x baseline")
    max_exact_match_drop: NonNegativeFloat = Field(0.05, description="exact-match drop vs the reference mode")
    max_kl: NonNegativeFloat = Field(0.1, description="mean KL(reference || candidate) at the answer position (nats)")

    def modes_needed(self) -> set[str]:
        return {self.candidate, self.baseline, *self.beats}

    def evaluate(self, evidence: PrecisionModes) -> Outcome:
        """``modes[m]``: {speed_ratios: {other: [per repeat]}, memory_mb, per_prompt: {pid: {exact_match,
        kl}}}; ``samples[seed][family] -> [pid]``."""
        modes, reference, samples = evidence.modes, evidence.reference, evidence.samples
        c, ref = modes[self.candidate], modes[reference]
        checks = [speed_check(f"speed vs {self.baseline}", c["speed_ratios"][self.baseline], self.min_speed_ratio)]
        checks += [speed_check(f"faster than {slow}", c["speed_ratios"][slow], 1.0) for slow in self.beats]
        mem = c["memory_mb"] / modes[self.baseline]["memory_mb"]
        checks.append(exact_check("memory", mem, self.max_memory_ratio, above=False,
                                  what=f"{fmt(c['memory_mb'])} MB / {self.baseline} {fmt(modes[self.baseline]['memory_mb'])} MB"))
        merged = {pid: {"ref": ref["per_prompt"][pid], "cand": v} for pid, v in c["per_prompt"].items()}
        table = prompt_table(merged, samples, [("ref_em", lambda v: v["ref"]["exact_match"]),
                                               ("cand_em", lambda v: v["cand"]["exact_match"]),
                                               ("cand_kl", lambda v: v["cand"]["kl"])])
        drop, kl = intervals(table, [[1.0, -1.0, 0.0], [0.0, 0.0, 1.0]],
                             [f"exact-match drop vs {reference}", f"KL to {reference}"], bounds=[(0.0, 1.0), None])
        em_gate = degenerate(table.values[:, :2], bounds=(0.0, 1.0))
        checks.append(make_check(drop["name"], drop["low"], drop["high"], self.max_exact_match_drop, above=False,
                                 estimate=drop["estimate"], per_seed=drop["per_seed"], method=drop["method"],
                                 degenerate_reasons=em_gate or ([] if drop["defined"] else ["undefined: no spread"])))
        checks.append(make_check(kl["name"], kl["low"], kl["high"], self.max_kl, above=False, estimate=kl["estimate"],
                                 per_seed=kl["per_seed"], method=kl["method"],
                                 degenerate_reasons=[] if kl["defined"] else
                                 [f"zero variance: KL is {fmt(kl['estimate'])} on every prompt"]))
        ratios = c["speed_ratios"][self.baseline]
        return judge(checks, {"candidate": self.candidate, "baseline": self.baseline, "memory_ratio": mem,
                              "median_speed_ratio": float(np.median(ratios))})


# --------------------------------------------------------------------------- causal drift

def _spearman_rows(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """Spearman correlation of matching rows of ``a[b, n]`` and ``b[b, n]``: scipy's Pearson of the
    rows' ranks (``spearmanr`` with an axis gives the full matrix); NaN when a row is constant."""
    import warnings

    from scipy.stats import pearsonr, rankdata

    if a.shape[1] < 2:  # one layer: no rank correlation (scipy raises here; undefined is the answer)
        return np.full(a.shape[0], np.nan)
    with warnings.catch_warnings():  # a constant row is NaN (undefined), which the criterion reports
        warnings.simplefilter("ignore")
        return np.asarray(pearsonr(rankdata(a, axis=1), rankdata(b, axis=1), axis=1).statistic, dtype=float)


def _magnitude_rows(ref: np.ndarray, other: np.ndarray) -> np.ndarray:
    """Mean |effect| of ``other`` over mean |effect| of ``ref``, row by row (NaN where ref is ~0)."""
    den = np.abs(ref).mean(1)
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.where(den > 1e-12, np.abs(other).mean(1) / den, np.nan)


@criterion("causal_drift")
class CausalDrift(ReplacedKeys):
    """"The causal surface survives quantization": each mode's per-layer effect vector correlates
    with the reference's (Spearman), keeps its top layer, and keeps its magnitude.

    Per-prompt effects are paired across modes (the same prompts). Spearman and the magnitude
    ratio get max-T simultaneous bootstrap intervals over the modes; the top layer is kept when
    the reference's top beats every other layer under the mode (max-T over every layer and mode)
    and moved when another layer beats it — judged only where the reference's own top is
    separated from its runner-up (a tied top is no hub to keep or lose)."""

    kind: Literal["causal_drift"]
    min_spearman: float = Field(0.9, ge=-1.0, le=1.0, description="Spearman correlation of each mode's per-layer "
                                                                  "effects with the reference's must reach this")
    same_top: bool = Field(True, description="the top layer must be the reference's")
    magnitude_ratio: tuple[PositiveFloat, PositiveFloat] = Field(
        (0.8, 1.25), strict=False,  # YAML gives a list; the items stay strict
        description="[low, high] bounds of mean |effect| under the mode / under the reference")

    REPLACED = {"top_tie_relative": "top_tie_relative was removed: a near-tie of the top layer is now an interval "
                                    "that includes 0 (uncertain) — delete the key"}

    @model_validator(mode="after")
    def _ordered(self):
        if self.magnitude_ratio[0] > self.magnitude_ratio[1]:
            raise ValueError(f"magnitude_ratio [{self.magnitude_ratio[0]}, {self.magnitude_ratio[1]}] "
                             "must be [low, high] with low <= high")
        return self

    def evaluate(self, evidence: DriftSweeps) -> Outcome:
        """``per_prompt[mode][pid] -> [effect per layer]`` (reference and every mode);
        ``samples[seed][family] -> [pid]``; ``labels``: the layers."""
        per_prompt, reference, modes = evidence.per_prompt, evidence.reference, evidence.modes
        labels, samples = evidence.layers, evidence.samples
        order = [reference] + list(modes)
        width = len(labels)
        rows = {pid: [x for m in order for x in per_prompt[m][pid]] for pid in per_prompt[reference]}
        table = PromptTable.from_samples(rows, {int(s): f for s, f in samples.items()},
                                         [f"{m}:L{lab}" for m in order for lab in labels])
        gate = degenerate(table.values)
        if gate:
            return judge([], {"modes": list(modes)}, gate)

        def block(est: np.ndarray, k: int) -> np.ndarray:
            return est[:, k * width:(k + 1) * width]

        reps = table.replicates(N_BOOT)
        est = table.estimate()[None]
        stats, names = [], []
        for k, m in enumerate(modes, start=1):
            stats.append((lambda e, k=k: _spearman_rows(block(e, 0), block(e, k))))
            stats.append((lambda e, k=k: _magnitude_rows(block(e, 0), block(e, k))))
            names += [f"{m} Spearman", f"{m} magnitude ratio"]
        point = np.array([s(est)[0] for s in stats])
        sivs = statistic_ci(table, point, names, reps=np.stack([s(reps) for s in stats], 1),
                            ranges=[(-1.0, 1.0), (0.0, math.inf)] * len(modes))
        per_seed = {str(s): v[None] for s, v in table.per_seed().items()}
        lo, hi = self.magnitude_ratio
        checks = []
        top_checks, top_summary = self._top_checks(table, modes, labels) if self.same_top else ({}, {})
        for k, m in enumerate(modes):
            rho, mag = sivs[2 * k], sivs[2 * k + 1]
            rho_seeds = {s: float(stats[2 * k](v)[0]) for s, v in per_seed.items()}
            mag_seeds = {s: float(stats[2 * k + 1](v)[0]) for s, v in per_seed.items()}
            checks.append(make_check(f"{m} rank correlation", rho["low"], rho["high"], self.min_spearman,
                                     estimate=rho["estimate"], per_seed=rho_seeds, method=rho["method"],
                                     degenerate_reasons=undefined(rho, spread=False) if math.isfinite(rho["estimate"]) else
                                     ["undefined: a constant effect vector has no ranks"]))
            if self.same_top:
                checks.append(top_checks[m])
            why = undefined(mag, spread=False) if math.isfinite(mag["estimate"]) else ["undefined: the reference's effects are ~0"]
            parts = [make_check(f">= {lo}", mag["low"], mag["high"], lo, estimate=mag["estimate"], per_seed=mag_seeds,
                                method=mag["method"], degenerate_reasons=why),
                     make_check(f"<= {hi}", mag["low"], mag["high"], hi, above=False, estimate=mag["estimate"],
                                per_seed=mag_seeds, method=mag["method"], degenerate_reasons=why)]
            checks.append(combine(f"{m} effect magnitude", parts, what=f"ratio to {reference} must lie in [{lo}, {hi}]"))
        return judge(checks, {"modes": list(modes), "reference": reference, "statistics": sivs, **top_summary})

    def _top_checks(self, table: PromptTable, modes: list[str], labels: list) -> tuple[dict, dict]:
        """Per mode: is the reference's top layer still on top under it?"""
        width = len(labels)
        ref_est = table.estimate()[:width]
        top = int(np.argmax(ref_est))
        others = [j for j in range(width) if j != top]
        pairs, names = [], []
        for k, m in enumerate(["reference"] + list(modes)):
            pairs += [(k * width + top, k * width + j) for j in others]
            names += [f"{m}: L{labels[top]} - L{labels[j]}" for j in others]
        ivs = intervals(table, inference.pairwise_contrasts(len(table.labels), pairs), names)
        ref_ivs = ivs[:len(others)]
        separated = all(iv["defined"] and iv["low"] > 0 for iv in ref_ivs)
        closest = min(ref_ivs, key=lambda iv: iv["low"])
        out = {}
        for k, m in enumerate(modes, start=1):
            mine = ivs[k * len(others):(k + 1) * len(others)]
            beaten = [iv for iv in mine if iv["high"] < 0]
            shown = beaten[0] if beaten else min(mine, key=lambda iv: iv["low"])  # decisive, else the closest
            reasons = [] if separated else [f"tie at rank 1: the reference's top L{labels[top]} is not separated "
                                            f"(closest {closest['name']} CI [{fmt(closest['low'])}, "
                                            f"{fmt(closest['high'])}])"]
            reasons += [f"undefined: {iv['name']} has no spread" for iv in mine if not iv["defined"]]
            out[m] = make_check(f"{m} top layer", shown["low"], shown["high"], 0.0, estimate=shown["estimate"],
                                per_seed=shown["per_seed"], method=shown["method"], degenerate_reasons=reasons,
                                what=f"{shown['name']}: the reference's top L{labels[top]} against "
                                     f"{'a layer that beats it' if beaten else 'its closest rival'} under {m}")
        return out, {"reference_top": labels[top], "reference_top_separated": separated}
