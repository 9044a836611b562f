"""Steering criteria (pure, no torch): effect, collateral, selectivity and the two null controls.

The evidence is plain data (the ``steering`` evidence builder writes it, the ledger keeps it):

- ``effect[cell]``: per-seed behavior effect of the steering direction at one (layer, alpha) cell
  (steered minus unsteered behavior score, averaged over the eval families' prompts);
- ``effect_by_family[cell][family]``: the same per eval family;
- ``collateral[cell]``: per-seed KL(base || steered) on unrelated families' prompts;
- ``nulls[control][cell]``: per seed, the N effects of the control's null directions (random
  unit vectors, or directions recomputed with shuffled labels), applied exactly like the real one;
- ``required_controls`` (configured) and ``waived`` (control -> reason).

Null comparison: the empirical p-value ``(1 + #{null >= observed}) / (N + 1)`` (never 0) and the
claim's null quantile (linear interpolation between order statistics). The pooled statistic is
the mean over seeds, compared to the pooled null (the i-th draws of every seed averaged).

A control *passes* when the pooled observed effect exceeds the null quantile with p <= max_p and
enough seeds pass on their own; it *refutes* when neither the pooled statistic nor any single seed
beats its null; anything in between (or a null too small to ever reach max_p) is inconclusive.
Every steering criterion first needs its judged cell to pass both controls: a control that
refutes refutes the claim, a control that did not run makes it errored, a waived one is skipped
(and the runner caps confidence at low).

Ratios are never computed on a degenerate denominator: below the floor they are reported as
uninformative and cannot support a claim. Supported/refuted decisions on ratios use the linear
form ``a - k * b`` against the seed-to-seed noise, never the ratio itself.
"""

from __future__ import annotations

import math
from typing import Literal, Optional

from pydantic import Field, NonNegativeInt

from audit.criteria import criterion
from audit.spec import StrictModel
from audit.stats import mean, std
from audit.verdict import Outcome, Verdict

CONTROL_NAMES = ("random_vector", "shuffled_label")
PASSED, REFUTED, INCONCLUSIVE, WAIVED = "passed", "refuted", "inconclusive", "waived"
_fmt = "{:.4g}".format


def cell_key(layer: int, alpha: float) -> str:
    """The label of one (layer, alpha) cell of a steering sweep, e.g. ``L12@0.2``."""
    return f"L{int(layer)}@{float(alpha):g}"


# --------------------------------------------------------------------------- null statistics

def empirical_p(observed: float, null) -> float:
    """One-sided permutation p-value ``(1 + #{null >= observed}) / (N + 1)``: never 0, at most 1."""
    null = list(null)
    if not null:
        raise ValueError("empty null distribution")
    return (1 + sum(x >= observed for x in null)) / (len(null) + 1)


def quantile(values, q: float) -> float:
    """Empirical q-quantile, linear interpolation between order statistics (numpy's default)."""
    xs = sorted(values)
    if not xs:
        raise ValueError("empty null distribution")
    if not 0.0 <= q <= 1.0:
        raise ValueError(f"quantile level {q} outside [0, 1]")
    pos = q * (len(xs) - 1)
    lo = math.floor(pos)
    hi = min(lo + 1, len(xs) - 1)
    return xs[lo] + (xs[hi] - xs[lo]) * (pos - lo)


def null_comparison(observed: float, null, q: float, max_p: float) -> dict:
    """Observed vs one null sample: p-value, quantile, margin and whether it beats the null."""
    null = [float(x) for x in null]
    if not all(math.isfinite(x) for x in null + [observed]):
        raise ValueError("non-finite value in a null comparison")
    p, qv, med = empirical_p(observed, null), quantile(null, q), quantile(null, 0.5)
    min_p = 1.0 / (len(null) + 1)
    return {"observed": observed, "n": len(null), "p": p, "min_p": min_p, "powered": min_p <= max_p,
            "quantile_level": q, "quantile": qv, "median": med, "margin": observed - qv,
            "beats": observed > qv and p <= max_p}


def pooled_null(per_seed_nulls: list[list[float]]) -> list[float]:
    """The pooled null: the i-th draw of every seed averaged (a draw of the seed-mean statistic)."""
    sizes = {len(n) for n in per_seed_nulls}
    if len(sizes) != 1:
        raise ValueError(f"seeds have null samples of different sizes {sorted(sizes)}")
    return [mean(draws) for draws in zip(*per_seed_nulls)]


def judge_control(name: str, observed: list[float], nulls: list[list[float]], q: float, max_p: float,
                  need_seeds: int) -> dict:
    """Status of one control at one cell: passed / refuted / inconclusive, with the reason."""
    per_seed = [null_comparison(o, n, q, max_p) for o, n in zip(observed, nulls)]
    pooled = null_comparison(mean(observed), pooled_null(nulls), q, max_p)
    wins = sum(s["beats"] for s in per_seed)
    res = {"control": name, "pooled": pooled, "per_seed": per_seed, "seeds_beating": wins,
           "n_seeds": len(per_seed), "seeds_needed": need_seeds}
    where = (f"{name}: observed {_fmt(pooled['observed'])} vs null {int(q * 100)}th percentile "
             f"{_fmt(pooled['quantile'])} (median {_fmt(pooled['median'])}), p = {_fmt(pooled['p'])}, "
             f"{wins}/{len(per_seed)} seeds beat their own null")
    if not pooled["powered"]:
        res.update(status=INCONCLUSIVE, reason=f"{name}: {pooled['n']} null samples cannot reach p <= {max_p} "
                   f"(smallest possible p is {_fmt(pooled['min_p'])}); use more samples")
    elif pooled["beats"] and wins >= need_seeds:
        res.update(status=PASSED, reason=where)
    elif not pooled["beats"] and wins == 0:
        res.update(status=REFUTED, reason=where + " — the null explains the effect")
    else:
        res.update(status=INCONCLUSIVE, reason=where + f" (need the pooled statistic and {need_seeds} seeds)")
    res["strong"] = res["status"] == PASSED and wins == len(per_seed) and \
        pooled["margin"] >= pooled["quantile"] - pooled["median"]
    if res["status"] == REFUTED:
        res["strong"] = pooled["observed"] <= pooled["median"]
    return res


def noise_test(per_seed: list[float], z: float) -> tuple[float, float, float, float]:
    """(mean, sd, mean - z sd, mean + z sd) of a per-seed quantity."""
    m, s = mean(per_seed), std(per_seed)
    return m, s, m - z * s, m + z * s


# --------------------------------------------------------------------------- shared thresholds

class NullThresholds(StrictModel):
    null_quantile: float = Field(0.95, gt=0.0, lt=1.0, description="observed must exceed this quantile of each null")
    max_p: float = Field(0.05, gt=0.0, le=1.0, description="... with empirical p-value at most this")
    min_seed_agreement: Literal["all"] | NonNegativeInt = Field(
        "all", description="seeds that must beat each null on their own")
    noise_z: float = Field(2.0, ge=0.0, description="seed-to-seed standard deviations required on each threshold")
    direction: Literal["increase", "decrease"] = Field(
        "increase", description="the behavior the steering is claimed to move: increase or decrease the score")
    min_denominator: float = Field(1e-3, gt=0.0, description="ratios whose denominator is below this are "
                                   "uninformative (never a finding)")

    # helpers --------------------------------------------------------------------------------
    def _sign(self) -> float:
        return 1.0 if self.direction == "increase" else -1.0

    def _need(self, n_seeds: int) -> int:
        return n_seeds if self.min_seed_agreement == "all" else min(self.min_seed_agreement, n_seeds)

    def _effects(self, ev: dict, cell: str) -> list[float]:
        return [self._sign() * x for x in ev["effect"][cell]]

    def _controls(self, ev: dict, cell: str) -> tuple[dict, list[str]]:
        """Each required control judged at ``cell``; errors (missing nulls) come back as reasons."""
        out, errors = {}, []
        waived = ev.get("waived") or {}
        for name in CONTROL_NAMES:
            if name in waived:
                out[name] = {"control": name, "status": WAIVED, "reason": f"{name} waived: {waived[name]}",
                             "strong": True}
                continue
            if name not in ev.get("required_controls", []):
                errors.append(f"control {name} is neither configured nor waived")
                continue
            nulls = (ev.get("nulls") or {}).get(name, {}).get(cell)
            if not nulls or len(nulls) != len(ev["seeds"]) or any(not n for n in nulls):
                errors.append(f"control {name} did not run at {cell}: no null samples (a control that did not run "
                              "is an error, never a pass)")
                continue
            nulls = [[self._sign() * x for x in n] for n in nulls]
            out[name] = judge_control(name, self._effects(ev, cell), nulls, self.null_quantile, self.max_p,
                                      self._need(len(ev["seeds"])))
        return out, errors

    def control_cells(self, ev: dict) -> list[str]:
        """The sweep cells the controls are drawn for: the judged (layer, alpha)."""
        return [cell_key(*self._resolve(ev, self.layer, self.alpha))]

    def _judged_cell(self, ev: dict):
        """(layer, alpha) named by the claim, or an errored Outcome saying why it is not in the sweep."""
        try:
            return self._resolve(ev, self.layer, self.alpha)
        except KeyError as exc:
            return Outcome(Verdict.ERRORED, [str(exc.args[0])])

    def _resolve(self, ev: dict, layer: Optional[int], alpha: Optional[float]) -> tuple[int, float]:
        if layer is None:
            if len(ev["layers"]) != 1:
                raise KeyError(f"the sweep has layers {ev['layers']}: acceptance.layer must name one")
            layer = ev["layers"][0]
        if alpha is None:
            if len(ev["alphas"]) != 1:
                raise KeyError(f"the sweep has alphas {ev['alphas']}: acceptance.alpha must name one")
            alpha = ev["alphas"][0]
        if cell_key(layer, alpha) not in ev["effect"]:
            raise KeyError(f"cell {cell_key(layer, alpha)} is not in the sweep {sorted(ev['effect'])}")
        return layer, alpha


def _finish(fails: list[str], unclear: list[str], passes: list[str], summary: dict, strong_parts: list[bool],
            control_reasons: list[str]) -> Outcome:
    if fails:
        summary["strong"] = bool(strong_parts) and any(strong_parts)
        return Outcome(Verdict.REFUTED, fails + unclear + control_reasons, summary)
    if unclear:
        summary["strong"] = False
        return Outcome(Verdict.INCONCLUSIVE, unclear + control_reasons, summary)
    summary["strong"] = all(strong_parts)
    return Outcome(Verdict.SUPPORTED, passes + control_reasons, summary)


def _gate_controls(spec: NullThresholds, ev: dict, cell: str, summary: dict, fails: list, unclear: list,
                   strong_fail: list, strong_pass: list) -> tuple[list[str], list[str]]:
    """Judge both controls at ``cell``; returns (errors, reasons) and files statuses into the lists."""
    controls, errors = spec._controls(ev, cell)
    summary["controls"] = {name: {k: c[k] for k in ("status", "reason") if k in c} |
                           ({"p": c["pooled"]["p"], "quantile": c["pooled"]["quantile"],
                             "margin": c["pooled"]["margin"], "seeds_beating": c["seeds_beating"]}
                            if "pooled" in c else {}) for name, c in controls.items()}
    summary["control_cell"] = cell
    reasons = []
    for c in controls.values():
        if c["status"] == REFUTED:
            fails.append(c["reason"])
            strong_fail.append(c["strong"])
        elif c["status"] == INCONCLUSIVE:
            unclear.append(c["reason"])
        else:
            reasons.append(c["reason"])
            strong_pass.append(c["strong"])
    return errors, reasons


# --------------------------------------------------------------------------- criteria

@criterion("steering")
class SteeringAcceptance(NullThresholds):
    """The direction moves the behavior (effect), spares unrelated prompts (collateral), does so
    selectively (effect / collateral), and beats random same-norm vectors and shuffled labels."""

    kind: Literal["steering"]
    layer: NonNegativeInt = Field(description="the judged layer (named before the data are seen)")
    alpha: float = Field(description="the judged strength")
    min_effect: float = Field(0.05, ge=0.0, description="minimum behavior effect (metric units)")
    max_collateral: float = Field(0.1, ge=0.0, description="maximum KL on unrelated families (nats)")
    min_selectivity: float = Field(2.0, ge=0.0, description="minimum effect / collateral")

    def evaluate_steering(self, ev: dict) -> Outcome:
        judged = self._judged_cell(ev)
        if isinstance(judged, Outcome):
            return judged
        layer, alpha = judged
        cell, z = cell_key(layer, alpha), self.noise_z
        eff = self._effects(ev, cell)
        col = list(ev["collateral"][cell])
        if not all(math.isfinite(x) for x in eff + col):
            return Outcome(Verdict.ERRORED, [f"non-finite effect or collateral at {cell}"])
        fails, unclear, passes, strong_fail, strong_pass = [], [], [], [], []
        em, es, elo, ehi = noise_test(eff, z)
        cm, cs, clo, chi = noise_test(col, z)
        summary = {"cell": cell, "layer": layer, "alpha": alpha, "effect": em, "effect_sd": es, "effect_per_seed": eff,
                   "collateral": cm, "collateral_sd": cs, "collateral_per_seed": col, "n_seeds": len(eff)}
        # effect
        if elo >= self.min_effect:
            passes.append(f"effect {_fmt(em)} ± {_fmt(es)} (seeds) >= {self.min_effect}")
            strong_pass.append(elo >= 2 * self.min_effect)
        elif ehi < self.min_effect:
            fails.append(f"effect {_fmt(em)} ± {_fmt(es)} (seeds) < min_effect {self.min_effect}")
            strong_fail.append(ehi < self.min_effect / 2)
        else:
            unclear.append(f"effect {_fmt(em)} ± {_fmt(es)}: min_effect {self.min_effect} is within "
                           f"{z} seed standard deviations")
        # collateral
        if chi <= self.max_collateral:
            passes.append(f"collateral KL {_fmt(cm)} ± {_fmt(cs)} <= {self.max_collateral}")
            strong_pass.append(chi <= self.max_collateral / 2)
        elif clo > self.max_collateral:
            fails.append(f"collateral KL {_fmt(cm)} ± {_fmt(cs)} > max_collateral {self.max_collateral}")
            strong_fail.append(clo > 2 * self.max_collateral)
        else:
            unclear.append(f"collateral KL {_fmt(cm)} ± {_fmt(cs)}: max_collateral {self.max_collateral} is within "
                           f"{z} seed standard deviations")
        # selectivity = effect / collateral; judged as effect - k * collateral, never on a tiny denominator
        if cm < self.min_denominator:
            summary["selectivity"] = None
            summary["selectivity_uninformative"] = True
            unclear.append(f"selectivity is uninformative: collateral {_fmt(cm)} is below the floor "
                           f"{self.min_denominator} (a ratio with a degenerate denominator is never a finding)")
        else:
            summary["selectivity"] = em / cm
            summary["selectivity_per_seed"] = [e / c if c >= self.min_denominator else None for e, c in zip(eff, col)]
            diff = [e - self.min_selectivity * c for e, c in zip(eff, col)]
            dm, ds, dlo, dhi = noise_test(diff, z)
            if dlo > 0:
                passes.append(f"selectivity {_fmt(em / cm)} >= {self.min_selectivity}")
            elif dhi < 0:
                fails.append(f"selectivity {_fmt(em / cm)} < min_selectivity {self.min_selectivity} "
                             f"(effect - {self.min_selectivity} x collateral = {_fmt(dm)} ± {_fmt(ds)})")
            else:
                unclear.append(f"selectivity {_fmt(em / cm)}: effect - {self.min_selectivity} x collateral = "
                               f"{_fmt(dm)} ± {_fmt(ds)} is within the seed noise")
        errors, creasons = _gate_controls(self, ev, cell, summary, fails, unclear, strong_fail, strong_pass)
        if errors:
            return Outcome(Verdict.ERRORED, errors, summary)
        return _finish(fails, unclear, passes, summary, strong_fail if fails else strong_pass, creasons)


@criterion("steering_layer_sensitivity")
class SteeringLayerSensitivity(NullThresholds):
    """The steering effect depends on the layer: the best layer's effect is at least ``min_ratio``
    times the median layer's (judged as best - k * median against the seed noise), the best layer
    reaches ``min_effect`` and beats both nulls there."""

    kind: Literal["steering_layer_sensitivity"]
    alpha: float = Field(description="the strength whose layer profile is judged")
    min_ratio: float = Field(2.0, ge=1.0, description="best layer's effect >= this x the median layer's")
    min_effect: float = Field(0.05, ge=0.0, description="minimum effect at the best layer")

    def _profile(self, ev: dict) -> tuple[float, list[int], list[list[float]], int]:
        _, alpha = self._resolve(ev, ev["layers"][0], self.alpha)
        layers = list(ev["layers"])
        table = [self._effects(ev, cell_key(l, alpha)) for l in layers]  # [layer][seed]
        pooled = [mean(r) for r in table]
        best = max(range(len(layers)), key=lambda i: (pooled[i], -i))
        return alpha, layers, table, best

    def control_cells(self, ev: dict) -> list[str]:
        alpha, layers, _, best = self._profile(ev)
        return [cell_key(layers[best], alpha)]

    def evaluate_steering(self, ev: dict) -> Outcome:
        try:
            alpha, layers, table, best = self._profile(ev)
        except KeyError as exc:
            return Outcome(Verdict.ERRORED, [str(exc.args[0])])
        if len(layers) < 3:
            return Outcome(Verdict.ERRORED, ["a layer-sensitivity claim needs at least 3 swept layers"])
        n = len(ev["seeds"])
        per_seed = [[table[i][s] for i in range(len(layers))] for s in range(n)]
        medians = [quantile(row, 0.5) for row in per_seed]
        best_eff = [row[best] for row in per_seed]
        pooled = [mean(r) for r in table]
        pooled_median = quantile(pooled, 0.5)
        diff = [b - self.min_ratio * m for b, m in zip(best_eff, medians)]
        z = self.noise_z
        dm, ds, dlo, dhi = noise_test(diff, z)
        bm, bs, blo, bhi = noise_test(best_eff, z)
        seed_best = [layers[max(range(len(layers)), key=lambda i: (row[i], -i))] for row in per_seed]
        summary = {"alpha": alpha, "layers": layers, "pooled": pooled, "best_layer": layers[best],
                   "best_effect": bm, "median_effect": pooled_median, "seed_best_layers": seed_best,
                   "best_minus_k_median": dm, "best_minus_k_median_sd": ds, "min_ratio": self.min_ratio,
                   "ratio": pooled[best] / pooled_median if pooled_median >= self.min_denominator else None}
        if summary["ratio"] is None:
            summary["ratio_note"] = (f"median layer effect {_fmt(pooled_median)} is below {self.min_denominator}: "
                                     "the ratio is uninformative and not reported; the verdict uses best - k x median")
        fails, unclear, passes, strong_fail, strong_pass = [], [], [], [], []
        ratio_txt = _fmt(summary["ratio"]) + "x" if summary["ratio"] is not None else "uninformative (median ~ 0)"
        if dlo > 0:
            passes.append(f"best layer L{layers[best]} ({_fmt(bm)}) vs median layer ({_fmt(pooled_median)}): ratio "
                          f"{ratio_txt}; best - {self.min_ratio} x median = {_fmt(dm)} ± {_fmt(ds)} > 0")
            strong_pass.append(seed_best.count(layers[best]) == n)
        elif dhi < 0:
            fails.append(f"best layer L{layers[best]} ({_fmt(bm)}) is not {self.min_ratio}x the median layer "
                         f"({_fmt(pooled_median)}): best - k x median = {_fmt(dm)} ± {_fmt(ds)} < 0")
            strong_fail.append(True)
        else:
            unclear.append(f"best - {self.min_ratio} x median = {_fmt(dm)} ± {_fmt(ds)} is within {z} seed SDs of 0")
        if blo >= self.min_effect:
            passes.append(f"best-layer effect {_fmt(bm)} ± {_fmt(bs)} >= {self.min_effect}")
        elif bhi < self.min_effect:
            fails.append(f"best-layer effect {_fmt(bm)} ± {_fmt(bs)} < min_effect {self.min_effect}")
            strong_fail.append(True)
        else:
            unclear.append(f"best-layer effect {_fmt(bm)} ± {_fmt(bs)}: min_effect within the seed noise")
        errors, creasons = _gate_controls(self, ev, cell_key(layers[best], alpha), summary, fails, unclear,
                                          strong_fail, strong_pass)
        if errors:
            return Outcome(Verdict.ERRORED, errors, summary)
        return _finish(fails, unclear, passes, summary, strong_fail if fails else strong_pass, creasons)


@criterion("steering_ratio")
class SteeringRatio(NullThresholds):
    """The effect on one group of eval families is at least ``min_ratio`` times the effect on another
    (e.g. long vs short prompts), judged as a - k * b against the seed noise; the cell beats both nulls."""

    kind: Literal["steering_ratio"]
    layer: NonNegativeInt = Field(description="the judged layer")
    alpha: float = Field(description="the judged strength")
    numerator: list[str] = Field(min_length=1, description="eval families of the numerator group")
    denominator: list[str] = Field(min_length=1, description="eval families of the denominator group")
    min_ratio: float = Field(0.5, ge=0.0, description="numerator effect >= this x denominator effect")
    min_effect: float = Field(0.05, ge=0.0, description="the denominator group's effect must reach this for the "
                              "comparison to be informative")

    def evaluate_steering(self, ev: dict) -> Outcome:
        judged = self._judged_cell(ev)
        if isinstance(judged, Outcome):
            return judged
        layer, alpha = judged
        cell, z, sign = cell_key(layer, alpha), self.noise_z, self._sign()
        fams = ev["effect_by_family"][cell]
        missing = [f for f in self.numerator + self.denominator if f not in fams]
        if missing:
            return Outcome(Verdict.ERRORED, [f"families {missing} are not among the eval families {sorted(fams)}"])
        n = len(ev["seeds"])
        group = lambda names: [sign * mean(fams[f][s] for f in names) for s in range(n)]  # noqa: E731
        num, den = group(self.numerator), group(self.denominator)
        nm, ns, _, _ = noise_test(num, z)
        dm_, dsd, dlo_, dhi_ = noise_test(den, z)
        diff = [a - self.min_ratio * b for a, b in zip(num, den)]
        m, s, lo, hi = noise_test(diff, z)
        summary = {"cell": cell, "numerator": self.numerator, "denominator": self.denominator,
                   "numerator_effect": nm, "numerator_sd": ns, "denominator_effect": dm_, "denominator_sd": dsd,
                   "numerator_per_seed": num, "denominator_per_seed": den, "min_ratio": self.min_ratio,
                   "a_minus_k_b": m, "a_minus_k_b_sd": s,
                   "ratio": nm / dm_ if dm_ >= self.min_denominator else None}
        fails, unclear, passes, strong_fail, strong_pass = [], [], [], [], []
        if dlo_ < max(self.min_effect, self.min_denominator):
            summary["ratio_uninformative"] = True
            unclear.append(f"denominator effect {_fmt(dm_)} ± {_fmt(dsd)} does not clear {self.min_effect}: the ratio "
                           "is uninformative (a degenerate denominator is never a finding)")
        elif lo > 0:
            passes.append(f"effect on {self.numerator} ({_fmt(nm)}) >= {self.min_ratio} x effect on {self.denominator} "
                          f"({_fmt(dm_)}): ratio {_fmt(nm / dm_)}, a - k b = {_fmt(m)} ± {_fmt(s)}")
            strong_pass.append(lo > 0.5 * abs(m))
        elif hi < 0:
            fails.append(f"effect on {self.numerator} ({_fmt(nm)}) < {self.min_ratio} x effect on {self.denominator} "
                         f"({_fmt(dm_)}): ratio {_fmt(nm / dm_)}, a - k b = {_fmt(m)} ± {_fmt(s)}")
            strong_fail.append(hi < -0.5 * abs(m))
        else:
            unclear.append(f"a - {self.min_ratio} b = {_fmt(m)} ± {_fmt(s)} is within {z} seed SDs of 0 "
                           f"(ratio {_fmt(nm / dm_)})")
        errors, creasons = _gate_controls(self, ev, cell, summary, fails, unclear, strong_fail, strong_pass)
        if errors:
            return Outcome(Verdict.ERRORED, errors, summary)
        return _finish(fails, unclear, passes, summary, strong_fail if fails else strong_pass, creasons)
