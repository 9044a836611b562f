"""Steering criteria (pure: numpy, no torch): effect, collateral, selectivity and the two null controls.

Evidence: :class:`audit.evidence_models.judged.SteeringSweep`, the view of the evidence dict
``audit/evidence/steering.py`` writes (the ledger keeps it). Seeds are listed in ``seeds``; every
per-seed list below is in that order.

- ``prompts["eval" | "collateral"][seed_index]``: ``{"ids": [...], "families": [...]}`` — the prompts
  that seed drew, in the order of the per-prompt values;
- ``per_prompt[cell]["effect"][seed_index]``: per eval prompt, the steered minus unsteered behaviour
  score at one (layer, alpha) cell; ``per_prompt[cell]["collateral"][seed_index]``: per collateral
  prompt, KL(base || steered) at its answer position;
- ``effect[cell]``, ``collateral[cell]``, ``effect_by_family[cell][family]``: per-seed summaries
  (descriptive: shown beside the pooled intervals);
- ``nulls[control][cell][seed_index]``: the N draws of the control, each the seed's effect statistic
  (family-averaged over its eval prompts) with a null direction applied exactly like the real one;
  ``null_diagnostics[control][cell][seed]``: |cos| of the draws with the real direction, etc.;
- ``required_controls`` (configured) and ``waived`` (control -> reason).

Inference (``audit.inference``): the per-prompt values form a :class:`PromptTable` (prompts are
the unit, stratified by family, pooled across seeds; a prompt several seeds drew is one unit).
Every quantity a verdict depends on gets a 95% interval, simultaneous (max-T) over the quantities
one criterion decides on: effect, collateral and selectivity for ``steering``; every layer and
every ``x_i - k x_j`` for ``steering_layer_sensitivity`` (the best layer is chosen from the data);
numerator, denominator and ``a - k b`` for ``steering_ratio``. Effect and collateral are measured
on different prompts, so their tables are resampled independently. Ratios are decided on the
linear form ``a - k * b`` and its interval, never on a ratio of noisy means; a denominator below
``min_denominator`` leaves the ratio uninformative (never a finding).

Null controls: one pooled test. The statistic is the mean over seeds of each seed's effect; the
i-th pooled null draw is the mean over seeds of their i-th draws. ``p = (1 + #{null >= observed})
/ (N + 1)`` (never 0).

- passed: p <= ``max_p`` (default 0.01; with 199 draws the smallest p is 0.005);
- refuted: the observed pooled effect sits inside the null's bulk — at or below the null's 75th
  percentile (``BULK``) — positive evidence that null directions do as well;
- inconclusive: between the bulk and significance; a null too small to ever reach ``max_p``; a null
  whose every draw equals the observed value (a tie).

Degeneracy gate (before any decision): non-finite or zero-variance effects, or effects that cannot
be told from the unsteered baseline (every per-prompt effect exactly 0, or within the measured
numerical noise ``numerical_noise[cell]`` — a zero vector sent through the same steered path),
are inconclusive, saying which. A null whose every draw ties with the observed effect is too.

Verdict: errored when a required control did not run; refuted when any check or control is refuted;
inconclusive when any is inconclusive; supported otherwise. ``summary["strong"]``
(:func:`audit.inference.strength`): every decisive check is strong — for a control, the effect's
interval against the null's thresholds (its (1 - max_p) quantile to pass, its 75th percentile to
refute).
"""

from __future__ import annotations

import math
from typing import Literal, Optional

import numpy as np
from pydantic import Field, NonNegativeInt, model_validator

from audit.criteria.base import criterion
from audit.evidence_models.judged import SteeringSweep
from audit.inference import (ALPHA, INCONCLUSIVE, REFUTED, SUPPORTED, Independent, PromptTable, check,
                             decide, degenerate, empirical_p, fmt_ci, simultaneous_ci, strength)
from audit.spec import Names, ReplacedKeys, disjoint
from audit.verdict import Outcome, Verdict

CONTROL_NAMES = ("random_vector", "shuffled_label")
PASSED, WAIVED = "passed", "waived"
BULK = 0.75  # a null refutes when the observed effect is at or below this quantile of the null
_fmt = "{:.4g}".format
_LEVEL = f"{int(round(100 * (1 - ALPHA)))}%"

__all__ = ["BULK", "CONTROL_NAMES", "INCONCLUSIVE", "PASSED", "REFUTED", "WAIVED", "SteeringAcceptance",
           "SteeringLayerSensitivity", "SteeringRatio", "cell_key", "empirical_p", "judge_control", "pooled_null",
           "quantile"]


def cell_key(layer: int, alpha: float) -> str:
    """The label of one (layer, alpha) cell of a steering sweep, e.g. ``L12@0.2``."""
    return f"L{int(layer)}@{float(alpha):g}"


# --------------------------------------------------------------------------- null statistics

def quantile(values, q: float) -> float:
    """Empirical q-quantile, linear interpolation between order statistics (numpy's default)."""
    xs = np.asarray(list(values), dtype=float)
    if xs.size == 0:
        raise ValueError("empty null distribution")
    if not 0.0 <= q <= 1.0:
        raise ValueError(f"quantile level {q} outside [0, 1]")
    return float(np.quantile(xs, q))


def pooled_null(per_seed_nulls) -> list[float]:
    """The pooled null: the i-th draw of every seed averaged (a draw of the seed-mean statistic)."""
    sizes = {len(n) for n in per_seed_nulls}
    if len(sizes) != 1:
        raise ValueError(f"seeds have null samples of different sizes {sorted(sizes)}")
    return [float(x) for x in np.asarray(per_seed_nulls, dtype=float).mean(axis=0)]


def judge_control(name: str, observed: list[float], nulls: list[list[float]], max_p: float,
                  effect_ci: tuple[float, float] | None = None) -> dict:
    """One pooled test of a control: ``observed[seed]`` vs ``nulls[seed][draw]``.

    Passed when p <= max_p; refuted when the pooled observed effect is at or below the pooled
    null's 75th percentile (inside its bulk); inconclusive in between, when the null is too small
    to reach max_p, or when every null draw ties with the observed value. ``effect_ci`` (the
    effect's interval) decides the strength only.
    """
    obs_s = np.asarray(observed, dtype=float)
    null_s = np.asarray(nulls, dtype=float)
    if null_s.ndim != 2 or null_s.shape[0] != obs_s.size or null_s.shape[1] == 0:
        raise ValueError(f"{name}: need one non-empty null sample per seed")
    if not (np.isfinite(obs_s).all() and np.isfinite(null_s).all()):
        raise ValueError("non-finite value in a null comparison")
    obs, null = float(obs_s.mean()), null_s.mean(axis=0)
    n = int(null.size)
    p, min_p = empirical_p(obs, null), 1.0 / (n + 1)
    q_bulk, q_sig, med = quantile(null, BULK), quantile(null, 1 - max_p), quantile(null, 0.5)
    res = {"control": name, "observed": obs, "observed_per_seed": [float(x) for x in obs_s], "n_draws": n,
           "n_seeds": int(obs_s.size), "p": p, "min_p": min_p, "max_p": max_p, "powered": min_p <= max_p,
           "median": med, "q75": q_bulk, "q_significance": q_sig, "significance_level": 1 - max_p,
           "null_min": float(null.min()), "null_max": float(null.max()),
           "per_seed_p": [empirical_p(o, row) for o, row in zip(obs_s, null_s)]}
    where = (f"{name}: pooled effect {_fmt(obs)} vs the pooled null of {n} draws x {obs_s.size} seeds "
             f"(median {_fmt(med)}, 75th percentile {_fmt(q_bulk)}, {100 * (1 - max_p):g}th {_fmt(q_sig)}), "
             f"p = {_fmt(p)}")
    if not res["powered"]:
        res.update(status=INCONCLUSIVE, reason=f"{name}: {n} null draws cannot reach p <= {max_p} (smallest "
                   f"possible p is {_fmt(min_p)}); use at least {math.ceil(1 / max_p) - 1} draws")
    elif np.ptp(null) == 0 and obs == null[0]:
        res.update(status=INCONCLUSIVE, reason=f"{name}: every null draw equals the observed effect {_fmt(obs)} "
                   "(a tie: the control cannot tell the direction from its null)")
    elif p <= max_p:
        res.update(status=PASSED, reason=where + f" <= {max_p}")
    elif obs <= q_bulk:
        res.update(status=REFUTED, reason=where + " — the observed effect is inside the null's bulk (at or below "
                   "its 75th percentile): the null explains the effect")
    else:
        res.update(status=INCONCLUSIVE, reason=where + f": above the null's bulk (75th percentile) but not "
                   f"significant (p > {max_p})")
    if effect_ci is not None and res["status"] in (PASSED, REFUTED):
        verdict = SUPPORTED if res["status"] == PASSED else REFUTED
        res["strong"] = strength(verdict, effect_ci[0], effect_ci[1], q_sig, q_bulk)
    else:
        res["strong"] = False
    return res


# --------------------------------------------------------------------------- per-prompt tables

def prompt_table(ev: SteeringSweep, which: str, cells: list[str], sign: float = 1.0,
                 families: Optional[list[str]] = None) -> PromptTable:
    """Per-prompt values ``[row, cell]`` of ``which`` ("effect" or "collateral"), pooled across seeds
    (rows of ``families`` only, when given)."""
    kind = "eval" if which == "effect" else "collateral"
    rows, fam, unit, seed = [], [], [], []
    for si, s in enumerate(ev.seeds):
        meta = ev.prompts[kind][si]
        cols = [ev.per_prompt[c][which][si] for c in cells]
        for pi, (uid, f) in enumerate(zip(meta["ids"], meta["families"])):
            if families is not None and f not in families:
                continue
            rows.append([sign * float(col[pi]) for col in cols])
            fam.append(str(f))
            unit.append(str(uid))
            seed.append(int(s))
    if not rows:
        raise KeyError(f"no {kind} prompts" + (f" in families {families}" if families else ""))
    return PromptTable(np.array(rows, dtype=float), tuple(cells), tuple(fam), tuple(unit), tuple(seed))


def at_most(name: str, low: float, high: float, bound: float, what: str = "") -> dict:
    """A check of ``q <= bound`` from an interval of q (supported: wholly below; refuted: wholly above)."""
    status = decide(-high, -low, -bound, -bound)
    return {"check": name, "status": status, "low": float(low), "high": float(high), "at_most": float(bound),
            "strong": strength(status, -high, -low, -bound, -bound), "detail": what}


def _undecided(name: str, row: dict, what: str) -> dict:
    return {"check": name, "status": INCONCLUSIVE, "low": row["low"], "high": row["high"], "strong": False,
            "detail": what}


# --------------------------------------------------------------------------- shared thresholds

_REMOVED = {
    "noise_z": "noise_z (seed-to-seed SDs) was replaced by 95% prompt-level intervals (audit.inference); remove it",
    "min_seed_agreement": "the null controls are one pooled test over seeds (per-seed p-values are reported, not "
                          "required); remove min_seed_agreement",
    "null_quantile": "a null passes when its pooled p <= max_p and refutes when the observed effect is at or "
                     "below the null's 75th percentile; remove null_quantile",
}


class NullThresholds(ReplacedKeys):
    REPLACED = _REMOVED

    max_p: float = Field(0.01, gt=0.0, le=1.0, description="a null control passes when its pooled empirical "
                         "p-value is at most this (with 199 draws the smallest p is 0.005)")
    direction: Literal["increase", "decrease"] = Field(
        "increase", description="the behavior the steering is claimed to move: increase or decrease the score")
    min_denominator: float = Field(1e-3, gt=0.0, description="ratios whose denominator is below this are "
                                   "uninformative (never a finding)")

    # helpers --------------------------------------------------------------------------------
    def _sign(self) -> float:
        return 1.0 if self.direction == "increase" else -1.0

    def _controls(self, ev: SteeringSweep, cell: str, effect_ci) -> tuple[dict, list[str]]:
        """Each required control judged at ``cell``; errors (missing nulls) come back as reasons."""
        out, errors = {}, []
        waived = ev.waived
        observed = _per_seed(prompt_table(ev, "effect", [cell], self._sign()))
        for name in CONTROL_NAMES:
            if name in waived:
                out[name] = {"control": name, "status": WAIVED, "reason": f"{name} waived: {waived[name]}",
                             "strong": True}
                continue
            if name not in ev.required_controls:
                errors.append(f"control {name} is neither configured nor waived")
                continue
            nulls = ev.nulls.get(name, {}).get(cell)
            if not nulls or len(nulls) != len(ev.seeds) or any(not n for n in nulls):
                errors.append(f"control {name} did not run at {cell}: no null samples (a control that did not run "
                              "is an error, never a pass)")
                continue
            nulls = [[self._sign() * x for x in n] for n in nulls]
            res = judge_control(name, observed, nulls, self.max_p, effect_ci)
            res.update(_cos_summary(ev.null_diagnostics.get(name, {}).get(cell, {})))
            out[name] = res
        return out, errors

    def control_cells(self, ev: SteeringSweep) -> list[str]:
        """The sweep cells the controls are drawn for: the judged (layer, alpha)."""
        return [cell_key(*self._resolve(ev, self.layer, self.alpha))]

    def _judged_cell(self, ev: SteeringSweep):
        """(layer, alpha) named by the claim, or an errored Outcome saying why it is not in the sweep."""
        try:
            return self._resolve(ev, self.layer, self.alpha)
        except KeyError as exc:
            return Outcome(Verdict.ERRORED, [str(exc.args[0])])

    def _resolve(self, ev: SteeringSweep, layer: Optional[int], alpha: Optional[float]) -> tuple[int, float]:
        if layer is None:
            if len(ev.layers) != 1:
                raise KeyError(f"the sweep has layers {ev.layers}: acceptance.layer must name one")
            layer = ev.layers[0]
        if alpha is None:
            if len(ev.alphas) != 1:
                raise KeyError(f"the sweep has alphas {ev.alphas}: acceptance.alpha must name one")
            alpha = ev.alphas[0]
        if cell_key(layer, alpha) not in ev.effect:
            raise KeyError(f"cell {cell_key(layer, alpha)} is not in the sweep {sorted(ev.effect)}")
        return layer, alpha


def _cos_summary(diags: dict) -> dict:
    """|cos(null draw, real direction)| and norm ratio over every seed's draws (from the evidence)."""
    out = {}
    if not diags:
        return out
    rows = list(diags.values())
    for key, agg in (("max_abs_cos_with_observed", max), ("median_abs_cos_with_observed", None),
                     ("median_norm_ratio", None), ("max_norm_ratio", max)):
        vals = [r[key] for r in rows if key in r]
        if vals:
            out[key] = float(agg(vals) if agg else np.median(vals))
    return out


def _missing_per_prompt(ev: SteeringSweep, cells: list[str]) -> Optional[Outcome]:
    if ev.prompts is None or any(c not in (ev.per_prompt or {}) for c in cells):
        return Outcome(Verdict.ERRORED, ["the evidence has no per-prompt values (recorded by an older builder): "
                                         "re-run the claim"])
    return None


def _gate(values: np.ndarray, what: str, noise: float = 0.0) -> list[str]:
    """The degeneracy gate on per-prompt effects: reasons (empty when the evidence can discriminate).
    ``noise``: the measured within-run numerical noise (a zero vector through the steered path)."""
    v = np.asarray(values, dtype=float)
    reasons = degenerate(v, baseline=np.zeros(v.shape[0]))
    if not reasons and noise > 0 and float(np.max(np.abs(v))) <= noise:
        reasons = [f"no arm is distinguishable from the unintervened baseline: every per-prompt effect is within the "
                   f"measured numerical noise ±{noise:.3g} of the steered path"]
    return [f"{what}: {r}" for r in reasons]


def _noise(ev: SteeringSweep, cells: list[str]) -> float:
    return max((ev.numerical_noise or {}).get(c, {}).get("effect", 0.0) for c in cells)


def _conclude(checks: list[dict], controls: dict, errors: list[str], summary: dict) -> Outcome:
    """Verdict of checks and controls: errored > refuted > inconclusive > supported; strong iff every
    decisive item is strong (:func:`audit.inference.strength`)."""
    summary["checks"] = checks
    summary["controls"] = controls
    if errors:
        summary["strong"] = False
        return Outcome(Verdict.ERRORED, errors, summary)
    items = [(c["status"], c["strong"], c["detail"]) for c in checks] + \
        [({PASSED: SUPPORTED, WAIVED: "waived"}.get(c["status"], c["status"]), c["strong"], c["reason"])
         for c in controls.values()]
    refuted = [i for i in items if i[0] == REFUTED]
    unclear = [i for i in items if i[0] == INCONCLUSIVE]
    if refuted:
        summary["strong"] = all(s for _, s, _ in refuted)
        return Outcome(Verdict.REFUTED, [r for _, _, r in refuted + unclear], summary)
    if unclear:
        summary["strong"] = False
        return Outcome(Verdict.INCONCLUSIVE, [r for _, _, r in unclear], summary)
    decided = [i for i in items if i[0] == SUPPORTED]
    summary["strong"] = all(s for _, s, _ in decided)
    return Outcome(Verdict.SUPPORTED, [r for _, _, r in items], summary)


def _inconclusive(reasons: list[str], controls: dict, errors: list[str], summary: dict) -> Outcome:
    summary.update(degenerate=reasons, checks=[], controls=controls, strong=False)
    if errors:
        return Outcome(Verdict.ERRORED, errors, summary)
    return Outcome(Verdict.INCONCLUSIVE, ["degenerate evidence, no finding: " + "; ".join(reasons)], summary)


def _ci(row: dict) -> list[float]:
    return [row["low"], row["high"]]


def _per_seed(table: PromptTable, arm: int = 0) -> list[float]:
    return [float(v[arm]) for v in table.per_seed().values()]


# --------------------------------------------------------------------------- criteria

@criterion("steering")
class SteeringAcceptance(NullThresholds):
    """The direction moves the behavior (effect), spares unrelated prompts (collateral), does so
    selectively (effect - k x collateral > 0), and beats random same-norm vectors and shuffled labels."""

    kind: Literal["steering"]
    layer: NonNegativeInt = Field(description="the judged layer (named before the data are seen)")
    alpha: float = Field(description="the judged strength")
    min_effect: float = Field(0.05, ge=0.0, description="minimum behavior effect (metric units)")
    max_collateral: float = Field(0.1, ge=0.0, description="maximum KL on unrelated families (nats)")
    min_selectivity: float = Field(2.0, ge=0.0, description="minimum effect / collateral")

    def evaluate(self, ev: SteeringSweep) -> Outcome:
        judged = self._judged_cell(ev)
        if isinstance(judged, Outcome):
            return judged
        layer, alpha = judged
        cell = cell_key(layer, alpha)
        missing = _missing_per_prompt(ev, [cell])
        if missing:
            return missing
        eff = prompt_table(ev, "effect", [cell], self._sign())
        col = prompt_table(ev, "collateral", [cell])
        summary = {"cell": cell, "layer": layer, "alpha": alpha, "n_seeds": len(ev.seeds),
                   "effect": float(eff.estimate()[0]), "effect_per_seed": _per_seed(eff),
                   "collateral": float(col.estimate()[0]), "collateral_per_seed": _per_seed(col),
                   "n_eval_prompts": len(set(eff.unit)), "n_collateral_prompts": len(set(col.unit))}
        reasons = _gate(eff.values, f"effect at {cell}", _noise(ev, [cell]))
        if reasons:
            controls, errors = self._controls(ev, cell, None)
            return _inconclusive(reasons, controls, errors, summary)
        k = self.min_selectivity
        iv = simultaneous_ci(Independent((eff, col)), np.array([[1.0, 0.0], [0.0, 1.0], [1.0, -k]]),
                             ["effect", "collateral", f"effect - {k:g} x collateral"])
        e_row, c_row, s_row = iv.rows()
        controls, errors = self._controls(ev, cell, (e_row["low"], e_row["high"]))
        cm = summary["collateral"]
        summary.update(effect_ci=_ci(e_row), collateral_ci=_ci(c_row), selectivity_linear=s_row | {"k": k},
                       intervals=iv.rows(), inference=iv.describe(),
                       selectivity=summary["effect"] / cm if cm >= self.min_denominator else None)
        ci = lambda r: f"{_fmt(r['estimate'])}, {_LEVEL} CI {fmt_ci(r['low'], r['high'])}"  # noqa: E731
        checks = []
        # effect
        c = check("effect", e_row["low"], e_row["high"], self.min_effect)
        c["detail"] = f"effect {ci(e_row)} " + {SUPPORTED: f"clears min_effect {self.min_effect}",
                                                REFUTED: f"lies below min_effect {self.min_effect}",
                                                INCONCLUSIVE: f"contains min_effect {self.min_effect}"}[c["status"]]
        checks.append(c)
        # collateral
        if not c_row["defined"]:
            checks.append(_undecided("collateral", c_row, f"collateral KL {_fmt(cm)}: zero spread over prompts "
                                                          "(undefined interval, never a finding)"))
        else:
            c = at_most("collateral", c_row["low"], c_row["high"], self.max_collateral)
            c["detail"] = f"collateral KL {ci(c_row)} " + {
                SUPPORTED: f"is below max_collateral {self.max_collateral}",
                REFUTED: f"exceeds max_collateral {self.max_collateral}",
                INCONCLUSIVE: f"contains max_collateral {self.max_collateral}"}[c["status"]]
            checks.append(c)
        # selectivity = effect / collateral, decided on effect - k * collateral
        if summary["selectivity"] is None:
            summary["selectivity_uninformative"] = True
            checks.append(_undecided("selectivity", s_row, f"selectivity is uninformative: collateral {_fmt(cm)} is "
                                     f"below the floor {self.min_denominator} (a ratio with a degenerate denominator "
                                     "is never a finding)"))
        else:
            c = check("selectivity", s_row["low"], s_row["high"], 0.0)
            c["detail"] = f"selectivity {_fmt(summary['selectivity'])} vs {k:g}: effect - {k:g} x collateral = " \
                f"{ci(s_row)} " + {SUPPORTED: "> 0", REFUTED: "< 0", INCONCLUSIVE: "contains 0"}[c["status"]]
            checks.append(c)
        return _conclude(checks, controls, errors, summary)


@criterion("steering_layer_sensitivity")
class SteeringLayerSensitivity(NullThresholds):
    """The steering effect depends on the layer: the best layer's effect is at least ``min_ratio``
    times the median layer's and reaches ``min_effect``, and it beats both nulls there.

    "best >= k x median" is decided on ``x_best - k x_j`` for the other layers j with max-T
    intervals over every layer pair and every layer's own effect (the best layer is chosen from
    the data, so the family covers every candidate): supported when at least floor(L/2) + 1 other
    layers are shown below best / k (then the median is too); refuted when no layer can qualify —
    each is shown below min_effect, or at least floor(L/2) + 1 layers are shown above its effect / k.
    """

    kind: Literal["steering_layer_sensitivity"]
    alpha: float = Field(description="the strength whose layer profile is judged")
    min_ratio: float = Field(2.0, ge=1.0, description="best layer's effect >= this x the median layer's")
    min_effect: float = Field(0.05, ge=0.0, description="minimum effect at the best layer")

    def _table(self, ev: SteeringSweep) -> tuple[float, list[int], PromptTable]:
        _, alpha = self._resolve(ev, ev.layers[0], self.alpha)
        layers = list(ev.layers)
        cells = [cell_key(layer, alpha) for layer in layers]
        if ev.prompts is None or any(c not in (ev.per_prompt or {}) for c in cells):
            raise LookupError("the evidence has no per-prompt values (recorded by an older builder): re-run the claim")
        return alpha, layers, prompt_table(ev, "effect", cells, self._sign())

    def control_cells(self, ev: SteeringSweep) -> list[str]:
        alpha, layers, table = self._table(ev)
        return [cell_key(layers[int(np.argmax(table.estimate()))], alpha)]

    def evaluate(self, ev: SteeringSweep) -> Outcome:
        try:
            alpha, layers, table = self._table(ev)
        except (KeyError, LookupError) as exc:
            return Outcome(Verdict.ERRORED, [str(exc.args[0])])
        L, k = len(layers), self.min_ratio
        if L < 3:
            return Outcome(Verdict.ERRORED, ["a layer-sensitivity claim needs at least 3 swept layers"])
        pooled = table.estimate()
        best = int(np.argmax(pooled))
        cell = cell_key(layers[best], alpha)
        per_seed = {str(s): [float(x) for x in v] for s, v in table.per_seed().items()}
        median = float(np.median(pooled))
        summary = {"alpha": alpha, "layers": layers, "pooled": [float(x) for x in pooled], "per_seed": per_seed,
                   "best_layer": layers[best], "best_effect": float(pooled[best]), "median_effect": median,
                   "seed_best_layers": [layers[int(np.argmax(v))] for v in per_seed.values()], "min_ratio": k,
                   "ratio": float(pooled[best]) / median if median >= self.min_denominator else None, "cell": cell}
        if summary["ratio"] is None:
            summary["ratio_note"] = (f"median layer effect {_fmt(median)} is below {self.min_denominator}: the ratio "
                                     "is uninformative and not reported; the verdict uses best - k x other layers")
        reasons = _gate(table.values, f"effects at alpha {alpha:g}", _noise(ev, list(table.labels)))
        if reasons:
            controls, errors = self._controls(ev, cell, None)
            return _inconclusive(reasons, controls, errors, summary)
        pairs = [(i, j) for i in range(L) for j in range(L) if i != j]
        c = np.zeros((len(pairs) + L, L))
        for r, (i, j) in enumerate(pairs):
            c[r, i] += 1.0
            c[r, j] -= k
        c[len(pairs):] = np.eye(L)
        names = [f"L{layers[i]} - {k:g} x L{layers[j]}" for i, j in pairs] + [f"L{x}" for x in layers]
        iv = simultaneous_ci(table, c, names)
        rows = iv.rows()
        pair_row = {p: rows[r] for r, p in enumerate(pairs)}
        own = rows[len(pairs):]
        need = L // 2 + 1
        below = [j for j in range(L) if j != best and pair_row[(best, j)]["low"] > 0]
        summary.update(inference=iv.describe(), layer_ci={f"L{layers[i]}": _ci(own[i]) for i in range(L)},
                       best_effect_ci=_ci(own[best]), layers_needed_below=need,
                       best_minus_k_other={f"L{layers[j]}": pair_row[(best, j)] for j in range(L) if j != best},
                       layers_shown_below=[layers[j] for j in below])
        controls, errors = self._controls(ev, cell, (own[best]["low"], own[best]["high"]))
        if not all(iv.defined):
            return _conclude([{"check": "layer profile", "status": INCONCLUSIVE, "strong": False,
                               "detail": "undefined statistics: zero bootstrap spread for some layer contrasts"}],
                             controls, errors, summary)

        def cannot_qualify(i: int) -> bool:
            above = sum(pair_row[(i, j)]["high"] < 0 for j in range(L) if j != i) + (k > 1 and own[i]["low"] > 0)
            return own[i]["high"] < self.min_effect or above >= need

        desc = (f"best layer L{layers[best]} ({_fmt(pooled[best])}) vs the median layer ({_fmt(median)}), ratio "
                + (f"{_fmt(summary['ratio'])}x" if summary["ratio"] is not None else "uninformative (median ~ 0)")
                + f": best - {k:g} x other is shown > 0 for {len(below)} of {L - 1} other layers (need {need}; "
                f"{iv.method}, {len(names)} simultaneous comparisons)")
        effect_desc = f"best-layer effect {_fmt(own[best]['estimate'])}, {_LEVEL} CI {fmt_ci(*_ci(own[best]))}"
        if all(cannot_qualify(i) for i in range(L)):
            worst = min((pair_row[(best, j)] for j in range(L) if j != best), key=lambda r: r["high"])
            refuting = [worst["high"] < 0 and strength(REFUTED, worst["low"], worst["high"], 0.0, 0.0),
                        strength(REFUTED, own[best]["low"], own[best]["high"], self.min_effect, self.min_effect)]
            checks = [{"check": "layer profile", "status": REFUTED, "strong": any(refuting),
                       "detail": f"no layer has {k:g}x the median layer's effect and min_effect {self.min_effect}: "
                                 + desc + "; " + effect_desc}]
            return _conclude(checks, controls, errors, summary)
        profile = {"check": "layer profile", "low": None, "high": None}
        if len(below) >= need:
            shown = sorted((pair_row[(best, j)] for j in below), key=lambda r: r["low"], reverse=True)[need - 1]
            profile.update(status=SUPPORTED, strong=strength(SUPPORTED, shown["low"], shown["high"], 0.0, 0.0),
                           detail=desc)
        else:
            profile.update(status=INCONCLUSIVE, strong=False, detail=desc)
        eff = check("best-layer effect", own[best]["low"], own[best]["high"], self.min_effect)
        eff["detail"] = effect_desc + (f" clears min_effect {self.min_effect}" if eff["status"] == SUPPORTED
                                       else f" does not clear min_effect {self.min_effect}")
        if eff["status"] == REFUTED:  # another layer could still qualify: not a refutation of the claim
            eff.update(status=INCONCLUSIVE, strong=False)
        return _conclude([profile, eff], controls, errors, summary)


@criterion("steering_ratio")
class SteeringRatio(NullThresholds):
    """The effect on one group of eval families is at least ``min_ratio`` times the effect on another
    (e.g. long vs short prompts), decided on ``a - k b`` and its interval; the cell beats both nulls."""

    kind: Literal["steering_ratio"]
    layer: NonNegativeInt = Field(description="the judged layer")
    alpha: float = Field(description="the judged strength")
    numerator: Names = Field(description="eval families of the numerator group")
    denominator: Names = Field(description="eval families of the denominator group")
    min_ratio: float = Field(0.5, ge=0.0, description="numerator effect >= this x denominator effect")
    min_effect: float = Field(0.05, ge=0.0, description="the denominator group's effect must reach this for the "
                              "comparison to be informative")

    @model_validator(mode="after")
    def _groups(self):
        disjoint(self, "numerator", "denominator")
        return self

    def evaluate(self, ev: SteeringSweep) -> Outcome:
        judged = self._judged_cell(ev)
        if isinstance(judged, Outcome):
            return judged
        layer, alpha = judged
        cell, k = cell_key(layer, alpha), self.min_ratio
        missing = _missing_per_prompt(ev, [cell])
        if missing:
            return missing
        fams = set(ev.families) if ev.families is not None else {f for p in ev.prompts["eval"] for f in p["families"]}
        unknown = [f for f in self.numerator + self.denominator if f not in fams]
        if unknown:
            return Outcome(Verdict.ERRORED, [f"families {unknown} are not among the eval families {sorted(fams)}"])
        if set(self.numerator) & set(self.denominator):
            return Outcome(Verdict.ERRORED, ["numerator and denominator share families: the groups must be disjoint"])
        num = prompt_table(ev, "effect", [cell], self._sign(), self.numerator)
        den = prompt_table(ev, "effect", [cell], self._sign(), self.denominator)
        everything = prompt_table(ev, "effect", [cell], self._sign())
        summary = {"cell": cell, "numerator": self.numerator, "denominator": self.denominator, "min_ratio": k,
                   "numerator_effect": float(num.estimate()[0]), "denominator_effect": float(den.estimate()[0]),
                   "numerator_per_seed": _per_seed(num), "denominator_per_seed": _per_seed(den),
                   "effect": float(everything.estimate()[0]), "effect_per_seed": _per_seed(everything)}
        reasons = _gate(everything.values, f"effect at {cell}", _noise(ev, [cell]))
        if reasons:
            controls, errors = self._controls(ev, cell, None)
            return _inconclusive(reasons, controls, errors, summary)
        iv = simultaneous_ci(Independent((num, den)), np.array([[1.0, 0.0], [0.0, 1.0], [1.0, -k]]),
                             ["numerator", "denominator", f"numerator - {k:g} x denominator"])
        n_row, d_row, r_row = iv.rows()
        whole = simultaneous_ci(everything, np.eye(1), ["effect"]).row(0)
        controls, errors = self._controls(ev, cell, (whole["low"], whole["high"]))
        dm = summary["denominator_effect"]
        summary.update(numerator_ci=_ci(n_row), denominator_ci=_ci(d_row), a_minus_k_b=r_row, effect_ci=_ci(whole),
                       intervals=iv.rows(), inference=iv.describe(),
                       ratio=summary["numerator_effect"] / dm if dm >= self.min_denominator else None)
        floor = max(self.min_effect, self.min_denominator)
        ratio_txt = _fmt(summary["ratio"]) if summary["ratio"] is not None else "uninformative"
        desc = (f"effect on {self.numerator} {_fmt(n_row['estimate'])} vs {k:g} x effect on {self.denominator} "
                f"{_fmt(d_row['estimate'])} (ratio {ratio_txt}): a - {k:g} b = {_fmt(r_row['estimate'])}, {_LEVEL} "
                f"CI {fmt_ci(r_row['low'], r_row['high'])}")
        if d_row["low"] <= floor:
            summary["ratio_uninformative"] = True
            checks = [_undecided("ratio", r_row, f"denominator effect {_fmt(dm)}, CI {fmt_ci(*_ci(d_row))}, does not "
                                 f"clear {floor:g}: the ratio is uninformative (a degenerate denominator is never "
                                 "a finding)")]
        else:
            c = check("ratio", r_row["low"], r_row["high"], 0.0)
            c["detail"] = desc + {SUPPORTED: " > 0", REFUTED: " < 0", INCONCLUSIVE: " contains 0"}[c["status"]]
            checks = [c]
        return _conclude(checks, controls, errors, summary)
