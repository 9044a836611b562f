"""Training claims (LoRA): pure criteria over per-prompt training results.

Results are ``{arm: [per seed {seed, trainable_params, losses, exact_by_prompt, train_loss_by_prompt,
drift_by_prompt, ...}]}``; the ``*_by_prompt`` values are ``{family: {prompt id: value}}``: held-out
exact match (0/1), the trained adapter's final loss on each training example, KL drift on each
unrelated prompt. A seed trains its own adapter, so arms are compared paired per prompt within a
seed and the seed is the unit of the intervals (``resample="seeds"``: Student t over the seeds'
estimates, Bonferroni over every comparison a criterion makes; the check-list rules of
:mod:`audit.criteria.deployment`). Exact-match contrasts with no spread at all get the exact
Clopper-Pearson bound (see :func:`audit.criteria.deployment.intervals`).

Degeneracy gate, before any check: every arm at exact match 1.0 or 0.0, no arm distinguishable
from the adapter-free baseline, losses whose differences are below the training loss's own
within-run noise (:func:`loss_noise`, measured on every run and recorded), an all-zero gain,
correlations that are undefined or computed over per-layer effects below that noise — all
inconclusive, saying which.
"""

from __future__ import annotations

import math
from typing import Annotated, Literal, Optional

import numpy as np
from pydantic import Field, NonNegativeFloat, PositiveFloat, model_validator

from audit.criteria.base import criterion
from audit.evidence_models.judged import AdapterAblationRuns, PlacementRuns, PointRuns
from audit.criteria.deployment import (PASS, UNCERTAIN, exact_check, finite, fmt, intervals, judge, make_check,
                                       undefined)
from audit.inference import PromptTable, degenerate, empirical_p, statistic_ci
from audit.spec import Distinct, ReplacedKeys, StrictModel
from audit.verdict import Outcome

NOISE_WINDOW = 10  # logged losses at the end of a run whose step-to-step spread is its within-run noise
LOSS_KEYS = {"final_loss": "train_loss_by_prompt", "kl_drift": "drift_by_prompt"}
SHUFFLED = "shuffled answers"  # the shuffled-answers control's arm (controls/shuffled_answers.py)


def loss_noise(losses: list[float]) -> float | None:
    """Within-run noise of a training loss: the step-to-step spread of its last ``NOISE_WINDOW``
    logged values, SD(successive differences) / sqrt(2) — differencing removes the trend of a
    loss still falling. None with fewer than 3 logged losses (not measurable)."""
    tail = np.asarray(list(losses)[-NOISE_WINDOW:], dtype=float)
    if tail.size < 3:
        return None
    return float(np.std(np.diff(tail), ddof=1) / math.sqrt(2))


def run_noise(row: dict) -> float | None:
    """One run's within-run noise; a supplied adapter measured as given was not trained here (no
    logged losses): its measurements are deterministic evaluations, with no training noise (0)."""
    return 0.0 if row["losses"] == [] else loss_noise(row["losses"])


def arm_noise(rows: list[dict]) -> float | None:
    """An arm's within-run noise: the mean over its seeds' runs (None if any run is not measurable)."""
    noise = [run_noise(r) for r in rows]
    return None if any(n is None for n in noise) else float(np.mean(noise))


def run_table(results: dict, arms: list[str], key: str) -> PromptTable:
    """Rows (seed, family, prompt) x arms of ``results[arm][i][key][family][pid]``, paired within each
    seed; seeds are a level of the bootstrap (each trained its own adapters)."""
    seeds = [r["seed"] for r in results[arms[0]]]
    for a in arms:
        if [r["seed"] for r in results[a]] != seeds:
            raise ValueError(f"arm {a} has seeds {[r['seed'] for r in results[a]]}, expected {seeds}")
        if any(r.get(key) is None for r in results[a]):
            raise ValueError(f"arm {a} has no per-prompt '{key}' (evidence from before per-prompt values): re-run")
    rows, fam, unit, seed = [], [], [], []
    for i, s in enumerate(seeds):
        first = results[arms[0]][i][key]
        for f in sorted(first):
            for pid in sorted(first[f]):
                rows.append([results[a][i][key][f][pid] for a in arms])
                fam.append(f)
                unit.append(pid)
                seed.append(int(s))
    return PromptTable(np.array(rows, dtype=float).reshape(len(rows), len(arms)), tuple(arms), tuple(fam),
                       tuple(unit), tuple(seed), "seeds")


def baseline_values(table: PromptTable, baseline: list[dict] | None, key: str = "exact_by_prompt"):
    """The adapter-free model's values on the table's rows (None when not measured)."""
    if not baseline or any(b.get(key) is None for b in baseline):
        return None
    by_seed = {int(b["seed"]): b[key] for b in baseline}
    try:
        return np.array([by_seed[s][f][u] for s, f, u in zip(table.seed, table.family, table.unit)], dtype=float)
    except KeyError:
        return None


def per_seed_arms(table: PromptTable) -> dict:
    """Each seed's estimate of every arm (shown beside the pooled intervals)."""
    return {str(s): {str(a): float(x) for a, x in zip(table.labels, v)} for s, v in table.per_seed().items()}


def below_noise(name: str, estimate: float, floor: float | None) -> list[str]:
    if floor is None:
        return [f"{name}: the within-run loss noise is not measurable (fewer than 3 logged losses)"]
    if abs(estimate) < floor:
        return [f"below noise: {name} is {fmt(estimate)}, within the training loss's within-run noise {fmt(floor)}"]
    return []


def _check(iv: dict, threshold: float, above: bool = True, reasons=(), what: str = "") -> dict:
    reasons = list(reasons) + undefined(iv)
    return make_check(iv["name"], iv["low"], iv["high"], threshold, above=above, estimate=iv["estimate"],
                      per_seed=iv["per_seed"], method=iv["method"], degenerate_reasons=reasons, what=what)


@criterion("lora_efficiency")
class LoraEfficiency(StrictModel):
    """"Placement C reaches the exact match of placement R with >= k x fewer trainable parameters,
    and beats the random placement with as many parameters": paired per-prompt exact-match
    differences C - R and C - control, max-T simultaneous intervals over both."""

    kind: Literal["lora_efficiency"]
    candidate: str = Field(description="the placement claimed efficient (a name under intervention.placements)")
    reference: str = Field(description="the placement it must match (a name under intervention.placements)")
    control: Optional[str] = Field(None, description="a random_matched placement the candidate must beat")
    min_param_ratio: PositiveFloat = Field(description="reference params / candidate params must reach this")
    max_exact_match_gap: NonNegativeFloat = Field(0.0, description="candidate may trail the reference by this much")
    min_margin_over_control: NonNegativeFloat = Field(0.1, description="candidate must beat the control by this much")

    def names(self) -> set[str]:
        return {self.candidate, self.reference} | ({self.control} if self.control else set())

    def evaluate(self, evidence: PlacementRuns) -> Outcome:
        """``shuffled``: the candidate trained on shuffled answers, per seed (the shuffled-answers
        control): the candidate must beat it by ``shuffled_margin``, in the same max-T family."""
        results, baseline = evidence.results, evidence.baseline
        shuffled, shuffled_margin = evidence.shuffled, evidence.shuffled_margin
        arms = [self.candidate, self.reference] + ([self.control] if self.control else [])
        if shuffled is not None:
            results = {**results, SHUFFLED: shuffled}
            arms.append(SHUFFLED)
        table = run_table(results, arms, "exact_by_prompt")
        c, r = results[self.candidate], results[self.reference]
        ratio = r[0]["trainable_params"] / c[0]["trainable_params"]
        summary = {"param_ratio": ratio, "exact_match": {a: float(x) for a, x in zip(arms, table.estimate())},
                   "per_seed_exact_match": per_seed_arms(table),
                   "loss_noise": {a: arm_noise(results[a]) for a in arms}, "n_rows": len(table.family)}
        gate = degenerate(table.values, bounds=(0.0, 1.0), baseline=baseline_values(table, baseline))
        if gate:
            return judge([], summary, gate)
        checks = [exact_check("parameters", ratio, self.min_param_ratio, above=True,
                              what=f"{self.reference} {r[0]['trainable_params']:,} / {self.candidate} "
                                   f"{c[0]['trainable_params']:,}")]
        contrasts = [[1.0, -1.0] + [0.0] * (len(arms) - 2)]
        names = [f"exact match {self.candidate} - {self.reference}"]
        if self.control:
            contrasts.append([1.0, 0.0, -1.0] + [0.0] * (len(arms) - 3))
            names.append(f"exact match {self.candidate} - {self.control}")
        if shuffled is not None:
            contrasts.append([1.0] + [0.0] * (len(arms) - 2) + [-1.0])
            names.append(f"exact match {self.candidate} - {SHUFFLED}")
        ivs = intervals(table, contrasts, names, bounds=(0.0, 1.0))
        checks.append(_check(ivs[0], -self.max_exact_match_gap, reasons=degenerate(table.values[:, :2], bounds=(0, 1)),
                             what=f"{self.candidate} may trail {self.reference} by at most {self.max_exact_match_gap}"))
        if self.control:
            checks.append(_check(ivs[1], self.min_margin_over_control,
                                 reasons=degenerate(table.values[:, [0, 2]], bounds=(0, 1)),
                                 what=f"{self.control} has {results[self.control][0]['trainable_params']:,} params"))
        if shuffled is not None:
            checks.append(_check(ivs[-1], shuffled_margin, reasons=degenerate(table.values[:, [0, -1]], bounds=(0, 1)),
                                 what=f"the same placement trained on answers permuted among its training prompts "
                                      f"must trail it by {shuffled_margin}"))
        return judge(checks, summary)


@criterion("adapter_concentration")
class AdapterConcentration(StrictModel):
    """"The adapter's effect follows its weight norm and sits in the late layers".

    Pooled over seeds: R = the mean over seeds of Pearson r(per-layer adapter norm, per-layer
    adapter-ablation effect), with one permutation test (layers permuted within every seed, the
    same statistic; one-sided) and a t interval over the seeds; and the share of the positive
    effect in the last third of the layers, pooled the same way. Both intervals are simultaneous
    (Bonferroni). Effects whose across-layer spread is below the training
    loss's within-run noise, or an undefined correlation, are degenerate: inconclusive."""

    kind: Literal["adapter_concentration"]
    min_correlation: float = Field(0.7, ge=-1.0, le=1.0, description="pooled Pearson r of effect vs norm")
    max_p: float = Field(0.05, gt=0.0, le=1.0, description="permutation p-value of that correlation (pooled)")
    min_late_share: float = Field(0.5, ge=0.0, le=1.0,
                                  description="share of the summed positive effect in the last third of the layers")

    def evaluate(self, evidence: AdapterAblationRuns) -> Outcome:
        """``per_seed``: [{seed, norms: {layer: norm}, effects_by_prompt: {family: {pid: {layer: effect}}},
        losses}] (one adapter per seed)."""
        seeds, n_layers, permutations = evidence.per_seed, evidence.n_layers, evidence.permutations
        layers = sorted({int(k) for s in seeds for k in s["norms"]})
        results = {str(k): [{"seed": s["seed"], "by": {f: {p: e[str(k)] for p, e in ps.items()}
                                                       for f, ps in s["effects_by_prompt"].items()}} for s in seeds]
                   for k in layers}
        table = run_table(results, [str(k) for k in layers], "by")
        norms = {int(s["seed"]): np.array([s["norms"][str(k)] for k in layers], dtype=float) for s in seeds}
        late = np.array([k >= n_layers * 2 / 3 for k in layers])
        means = {int(s): v for s, v in table.per_seed().items()}
        per_seed = [{"seed": s, "pearson": float(_pearson(norms[s], means[s][None])[0]),
                     "late_share": float(_late_share(means[s][None], late)[0]),
                     "effect_sd": float(np.std(means[s], ddof=1)), "loss_noise": run_noise(x)}
                    for s, x in zip(norms, seeds)]
        by_seed = np.array([[r["pearson"], r["late_share"]] for r in per_seed])
        point = by_seed.mean(0)
        summary = {"per_seed": [{k: (finite(v) if isinstance(v, float) else v) for k, v in row.items()}
                                for row in per_seed], "layers": layers}
        gate = degenerate(table.values)
        for row in per_seed:
            if row["loss_noise"] is None:
                gate.append(f"seed {row['seed']}: the within-run loss noise is not measurable")
            elif row["effect_sd"] < row["loss_noise"]:
                gate.append(f"below noise: seed {row['seed']}'s per-layer effects vary by SD {fmt(row['effect_sd'])} "
                            f"across layers, less than its training loss's within-run noise {fmt(row['loss_noise'])}")
        if gate:
            return judge([], summary, gate)
        rng = np.random.default_rng(table.fingerprint())
        ivs = statistic_ci(table, point, ["pooled Pearson r (norm, effect)", "late-layer share"],
                           per_seed=by_seed, ranges=[(-1.0, 1.0), (0.0, 1.0)])
        p = self._permutation_p(means, norms, point[0], max(permutations, 199), rng) if math.isfinite(point[0]) else None
        undefined_r = [f"undefined correlation: seed {r['seed']} has a constant side" for r in per_seed
                       if not math.isfinite(r["pearson"])]
        undefined_share = [f"undefined share: seed {r['seed']} has no positive effect" for r in per_seed
                           if not math.isfinite(r["late_share"])]
        corr = make_check("norm-effect correlation", ivs[0]["low"], ivs[0]["high"], self.min_correlation,
                          estimate=point[0], per_seed={str(r["seed"]): r["pearson"] for r in per_seed},
                          method=ivs[0]["method"] + f"; permutation p = {fmt(p)} ({max(permutations, 199)} "
                                                    "permutations of layers within every seed, pooled, one-sided)",
                          degenerate_reasons=undefined_r + undefined(ivs[0], spread=False),
                          what=f"permutation p {fmt(p)} (need <= {self.max_p})")
        corr["p"] = p
        if corr["status"] == PASS and (p is None or p > self.max_p):
            corr.update(status=UNCERTAIN, strong=False, detail=f"not significant: permutation p {fmt(p)} > {self.max_p}")
        share = make_check("late layers", ivs[1]["low"], ivs[1]["high"], self.min_late_share, estimate=point[1],
                           per_seed={str(r["seed"]): r["late_share"] for r in per_seed}, method=ivs[1]["method"],
                           degenerate_reasons=undefined_share + undefined(ivs[1], spread=False),
                           what=f"share of the positive effect in layers >= {math.ceil(n_layers * 2 / 3)}")
        return judge([corr, share], {**summary, "permutation_p": p, "pooled_pearson": finite(point[0]),
                                     "pooled_late_share": finite(point[1])})

    @staticmethod
    def _permutation_p(means: dict, norms: dict, observed: float, n: int, rng) -> float:
        """One pooled test: permute each seed's per-layer effects independently, mean r over seeds."""
        null = np.mean([_pearson(norms[s], rng.permuted(np.tile(means[s], (n, 1)), axis=1)) for s in means], axis=0)
        return empirical_p(observed, null)


def _pearson(x: np.ndarray, ys: np.ndarray) -> np.ndarray:
    """Pearson r of the fixed vector ``x`` with every row of ``ys`` (scipy; NaN where either is constant)."""
    import warnings

    from scipy.stats import pearsonr

    if ys.shape[1] < 2:  # one layer: no correlation (scipy raises here; undefined is the answer)
        return np.full(ys.shape[0], np.nan)
    with warnings.catch_warnings():  # a constant row is NaN (undefined), which the criterion reports
        warnings.simplefilter("ignore")
        return np.asarray(pearsonr(np.broadcast_to(x, ys.shape), ys, axis=1).statistic, dtype=float)


def _late_share(ys: np.ndarray, late: np.ndarray) -> np.ndarray:
    pos = np.clip(ys, 0, None)
    total = pos.sum(1)
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.where(total > 0, pos[:, late].sum(1) / total, np.nan)


class _SweepCriterion(ReplacedKeys):
    metric: Literal["final_loss", "kl_drift", "trainable_params"] = Field(
        "final_loss", description="final_loss: each training example's loss under the trained adapter; kl_drift: "
                                  "KL on each unrelated prompt; trainable_params: exact counts")

    def table(self, points: dict, arms: list[str]) -> PromptTable | None:
        """Per-prompt values of the metric (None for the exact parameter counts)."""
        return None if self.metric == "trainable_params" else run_table(points, arms, LOSS_KEYS[self.metric])

    def noise(self, points: dict, arms: list[str]) -> float | None:
        """The noise floor of a comparison: the largest within-run loss noise of the compared arms
        (KL drift and parameter counts have none: 0)."""
        if self.metric != "final_loss":
            return 0.0
        noise = [arm_noise(points[a]) for a in arms]
        return None if any(n is None for n in noise) else max(noise)

    def exact_intervals(self, points: dict, arms: list[str], contrasts, names) -> list[dict]:
        est = np.array([points[a][0]["trainable_params"] for a in arms], dtype=float)
        return [{"name": n, "estimate": float(np.dot(c, est)), "low": float(np.dot(c, est)),
                 "high": float(np.dot(c, est)), "defined": True, "per_seed": {}, "method": "exact"}
                for c, n in zip(contrasts, names)]

    def compare(self, points: dict, arms: list[str], contrasts, names) -> tuple[list[dict], list[str], dict]:
        """Intervals of the contrasts, the evidence-level gate and the summary."""
        noise = self.noise(points, arms)
        summary = {"metric": self.metric, "loss_noise": {a: arm_noise(points[a]) for a in arms}, "noise_floor": noise}
        table = self.table(points, arms)
        if table is None:
            return self.exact_intervals(points, arms, contrasts, names), [], summary
        summary.update(estimates={a: float(x) for a, x in zip(arms, table.estimate())},
                       per_seed_estimates=per_seed_arms(table))
        gate = degenerate(table.values, noise_floor=noise or 0.0)
        if noise is None:
            gate.append("the within-run loss noise is not measurable (fewer than 3 logged losses)")
        return intervals(table, contrasts, names), gate, summary


@criterion("sweep_best")
class SweepBest(_SweepCriterion):
    """"Point X has the lowest (or highest) metric of the sweep", beyond a relative margin: paired
    per-prompt contrasts of X with every other point, max-T simultaneous over them. With
    ``within_relative`` the claim is non-inferiority instead: X is no worse than every other point
    by more than that fraction of it (the same contrasts, shifted by the tolerance)."""

    kind: Literal["sweep_best"]
    best: str = Field(description="label of the sweep point claimed best")
    direction: Literal["min", "max"] = Field("min", description="min: lowest metric is best; max: highest")
    margin_relative: NonNegativeFloat = Field(0.0, description="X must beat every other point by this fraction")
    within_relative: NonNegativeFloat = Field(
        0.0, description="non-inferiority: X may trail every other point by up to this fraction of it (e.g. 0.1: "
                         "X's loss at most 1.1x each other's); excludes margin_relative")

    @model_validator(mode="after")
    def _one_kind_of_margin(self):
        if self.margin_relative and self.within_relative:
            raise ValueError("margin_relative (X beats the others) and within_relative (X is no worse than them) "
                             "exclude each other; set one")
        return self

    def labels(self) -> set[str]:
        return {self.best}

    def evaluate(self, evidence: PointRuns) -> Outcome:
        points = evidence.results
        others = [p for p in points if p != self.best]
        arms = [self.best] + others
        shift = self.margin_relative - self.within_relative
        contrasts, names = [], []
        for j, o in enumerate(others, start=1):
            row = np.zeros(len(arms))
            if self.direction == "min":  # other - best - shift * other > 0
                row[j], row[0] = 1.0 - shift, -1.0
            else:  # best - other - shift * other > 0
                row[0], row[j] = 1.0, -1.0 - shift
            contrasts.append(row)
            names.append(f"{self.best} vs {o}")
        ivs, gate, summary = self.compare(points, arms, contrasts, names)
        summary["best"] = self.best
        if gate:
            return judge([], summary, gate)
        checks = []
        estimates = summary.get("estimates", {})
        for o, iv in zip(others, ivs):
            diff = estimates.get(o, 0.0) - estimates.get(self.best, 0.0)
            checks.append(_check(iv, 0.0, reasons=self._noise_reasons(points, o, diff, estimates.get(o, 0.0)),
                                 what=self._what(o)))
        return judge(checks, summary)

    def _noise_reasons(self, points: dict, other: str, diff: float, other_estimate: float) -> list[str]:
        """A difference (or, for non-inferiority, the tolerance) the loss's own noise swamps."""
        if self.metric == "trainable_params":
            return []
        floor = self.noise(points, [self.best, other])
        if floor is None or not self.within_relative:
            return below_noise(f"the difference {other} - {self.best}", diff, floor)
        tolerance = self.within_relative * abs(other_estimate)
        if tolerance < floor:
            return [f"below noise: the tolerance {fmt(tolerance)} ({self.within_relative:g} of {other}) is within "
                    f"the training loss's within-run noise {fmt(floor)}"]
        return []

    def _what(self, other: str) -> str:
        if self.within_relative:
            worse = "above" if self.direction == "min" else "below"
            return f"{self.metric}: {self.best} not {worse} {other} by more than {self.within_relative:g} of it"
        m = self.margin_relative
        return (f"{self.metric}: {self.best} {'below' if self.direction == 'min' else 'above'} {other}"
                f"{f' by {m:g} of it' if m else ''}")


@criterion("sweep_knee")
class SweepKnee(_SweepCriterion):
    """"X is the efficiency point": along ``order`` (increasing parameters), the metric gained per
    added trainable parameter up to X is at least ``min_gain_ratio`` times the gain per parameter
    beyond X (diminishing returns after X). Two paired contrasts, max-T simultaneous: the gain up
    to X (> 0) and gain_in - ratio x (dP_in / dP_out) x gain_out (> 0). Gains below the training
    loss's within-run noise are no gain (the noise floor is measured, not a chosen constant)."""

    kind: Literal["sweep_knee"]
    order: Annotated[list[str], Distinct] = Field(min_length=3, description="sweep point labels by increasing "
                                                                            "trainable parameters")
    at: str = Field(description="the claimed knee: an inner point of order")
    min_gain_ratio: PositiveFloat = Field(2.0, description="gain per parameter up to `at` >= this x the gain per "
                                                           "parameter beyond it")

    REPLACED = {"min_gain": "min_gain was removed: gains are compared with the training loss's measured within-run "
                            "noise instead of a chosen constant — delete the key"}

    @model_validator(mode="after")
    def _inner(self):
        if self.at not in self.order[1:-1]:
            raise ValueError(f"'{self.at}' must be an inner point of order {self.order}")
        if self.metric == "trainable_params":
            raise ValueError("sweep_knee needs a metric that is gained per parameter: final_loss or kl_drift")
        return self

    def labels(self) -> set[str]:
        return set(self.order)

    def evaluate(self, evidence: PointRuns) -> Outcome:
        points = evidence.results
        i = self.order.index(self.at)
        arms = [self.order[i - 1], self.at, self.order[i + 1]]
        params = [points[a][0]["trainable_params"] for a in arms]
        dp_in, dp_out = params[1] - params[0], params[2] - params[1]
        names = [f"gain {arms[0]}->{arms[1]}", f"gain {arms[0]}->{arms[1]} - {self.min_gain_ratio:g} x "
                 f"dP ratio x gain {arms[1]}->{arms[2]}"]
        if dp_in <= 0 or dp_out <= 0:
            return judge([], {"metric": self.metric, "params": params},
                         [f"trainable parameters do not increase along {arms}: {params}"])
        k = self.min_gain_ratio * dp_in / dp_out
        contrasts = [[1.0, -1.0, 0.0], [1.0, -1.0 - k, k]]
        ivs, gate, summary = self.compare(points, arms, contrasts, names)
        est = summary["estimates"]
        gain_in, gain_out = est[arms[0]] - est[arms[1]], est[arms[1]] - est[arms[2]]
        summary.update(params=params, gain_per_param=[gain_in / dp_in, gain_out / dp_out],
                       gain_ratio=(gain_in / dp_in) / (gain_out / dp_out) if gain_out else None)
        floor = summary["noise_floor"]
        if floor is not None and floor > 0 and abs(gain_in) < floor and abs(gain_out) < floor:
            gate.append(f"all-zero gain: {self.metric} changes by {fmt(gain_in)} then {fmt(gain_out)}, both within "
                        f"the training loss's within-run noise {fmt(floor)}")
        if gate:
            return judge([], summary, list(dict.fromkeys(gate)))
        checks = [_check(ivs[0], 0.0, reasons=below_noise(names[0], gain_in, floor),
                         what=f"{self.metric} must fall from {arms[0]} to {arms[1]}"),
                  _check(ivs[1], 0.0, what=f"gain per parameter up to {self.at} at least {self.min_gain_ratio:g}x "
                                           f"the gain per parameter after it")]
        return judge(checks, summary)

