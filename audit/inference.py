"""Prompt-level inference shared by every criterion (pure: numpy and scipy, no torch).

The unit of replication is the prompt (or pair). A :class:`PromptTable` holds one row per
observation — a prompt as a seed sampled it — and one column per compared *arm* (a layer, a
component, a placement, a mode, a sweep point). Arms are paired: every arm was measured on the
same rows.

Point estimate of an arm: the mean over families of the mean of the family's rows. When every
seed draws the same number of prompts per family this equals the old "mean over seeds of the
family means", so per-seed results stay comparable with the pooled one.

Uncertainty: a stratified bootstrap, run as weights over rows so that it is vectorised.

- ``resample="prompts"`` (inference claims, where a seed only chooses prompts): the distinct
  prompts of each family are resampled with replacement; a drawn prompt brings every row it has
  (a prompt two seeds drew is one unit, never two).
- ``resample="seeds_then_prompts"`` (training claims, where a seed also trains a different
  model): seeds are resampled first (the Multi-Bootstrap of Sellam et al. 2021), then prompts
  within each drawn seed and family.

:func:`simultaneous_ci` turns the bootstrap into confidence intervals for several contrasts at
once with a max-T critical value (the maximum studentised deviation over the contrasts), so
"X beats each of the other 29 layers" holds at the family-wise level ``alpha``.
scipy.stats.bootstrap resamples one axis without strata or clusters, hence the weights here;
scipy provides the exact tests (:func:`sign_flip_p`, :func:`binomial_ci`).

:func:`decide` maps an interval to a verdict so that only positive evidence refutes:
supported when the interval clears the claimed relation by its margin, refuted when it shows the
opposite relation, inconclusive otherwise. :func:`strength` is the one definition of a *strong*
verdict used by the confidence ladder: the decisive bound clears its threshold by at least the
interval's half-width (the verdict would survive an interval twice as wide).
"""

from __future__ import annotations

import hashlib
import math
from dataclasses import dataclass, field
from typing import Literal, Sequence

import numpy as np

ALPHA = 0.05
N_BOOT = 2000
SUPPORTED, REFUTED, INCONCLUSIVE = "supported", "refuted", "inconclusive"
Resample = Literal["prompts", "seeds_then_prompts"]


@dataclass(frozen=True)
class PromptTable:
    """Per-observation values of paired arms: ``values[row, arm]``."""

    values: np.ndarray
    labels: tuple
    family: tuple[str, ...]
    unit: tuple[str, ...]
    seed: tuple[int, ...]
    resample: Resample = "prompts"

    def __post_init__(self):
        v = np.asarray(self.values, dtype=float)
        if v.ndim != 2 or v.shape[1] != len(self.labels):
            raise ValueError(f"values must be rows x {len(self.labels)} arms, got shape {v.shape}")
        if not (len(self.family) == len(self.unit) == len(self.seed) == v.shape[0]):
            raise ValueError("family, unit and seed need one entry per row")
        if v.shape[0] == 0:
            raise ValueError("a prompt table needs at least one row")
        object.__setattr__(self, "values", v)

    # construction ------------------------------------------------------------------------
    @classmethod
    def from_samples(cls, per_unit: dict, samples: dict, labels: Sequence, resample: Resample = "prompts",
                     per_seed_values: bool = False) -> "PromptTable":
        """From ``per_unit[unit_id] -> [value per arm]`` and ``samples[seed][family] -> [unit ids]``.

        With ``per_seed_values`` the values are ``per_unit[seed][unit_id]`` (a seed trained its own
        model, so the same prompt has different values under different seeds).
        """
        rows, fam, unit, seed = [], [], [], []
        for s, by_family in samples.items():
            for f, ids in by_family.items():
                for uid in ids:
                    value = per_unit[s][uid] if per_seed_values else per_unit[uid]
                    rows.append([float(x) for x in value])
                    fam.append(str(f))
                    unit.append(str(uid))
                    seed.append(int(s))
        return cls(np.array(rows, dtype=float).reshape(len(rows), len(labels)), tuple(labels), tuple(fam),
                   tuple(unit), tuple(seed), resample)

    # estimates ---------------------------------------------------------------------------
    @property
    def families(self) -> list[str]:
        return sorted(set(self.family))

    @property
    def seeds(self) -> list[int]:
        return list(dict.fromkeys(self.seed))

    def _family_rows(self) -> list[np.ndarray]:
        return [np.array([r for r, g in enumerate(self.family) if g == f]) for f in self.families]

    def weighted_estimates(self, weights: np.ndarray) -> np.ndarray:
        """Estimates under row weights ``weights[b, row]``: ``[b, arm]`` (family means averaged;
        a family with no weight in a replicate is left out of that replicate's average)."""
        means = []
        for rows in self._family_rows():
            w = weights[:, rows]
            with np.errstate(invalid="ignore", divide="ignore"):
                means.append((w @ self.values[rows]) / w.sum(1, keepdims=True))
        return np.nanmean(np.stack(means, axis=1), axis=1)

    def estimate(self) -> np.ndarray:
        return self.weighted_estimates(np.ones((1, len(self.family))))[0]

    def per_seed(self) -> dict[int, np.ndarray]:
        """Each seed's own estimate (family means of its rows) — shown beside the pooled CI."""
        out = {}
        for s in self.seeds:
            w = np.array([[1.0 if x == s else 0.0 for x in self.seed]])
            out[s] = self.weighted_estimates(w)[0]
        return out

    def per_family(self) -> dict[str, np.ndarray]:
        return {f: self.values[rows].mean(0) for f, rows in zip(self.families, self._family_rows())}

    def without_family(self, family: str) -> "PromptTable":
        keep = [i for i, f in enumerate(self.family) if f != family]
        return PromptTable(self.values[keep], self.labels, tuple(self.family[i] for i in keep),
                           tuple(self.unit[i] for i in keep), tuple(self.seed[i] for i in keep), self.resample)

    # bootstrap ---------------------------------------------------------------------------
    def bootstrap_weights(self, n_boot: int, rng: np.random.Generator) -> np.ndarray:
        """Row weights of ``n_boot`` stratified bootstrap replicates: ``[b, row]``."""
        n = len(self.family)
        weights = np.zeros((n_boot, n))
        if self.resample == "prompts":
            strata = {(f,): None for f in self.family}
            cluster_w = np.ones((n_boot, 1))
            seed_index = {s: 0 for s in self.seeds}
        else:
            seeds = self.seeds
            draws = rng.integers(0, len(seeds), size=(n_boot, len(seeds)))
            cluster_w = np.stack([(draws == i).sum(1) for i in range(len(seeds))], axis=1).astype(float)
            seed_index = {s: i for i, s in enumerate(seeds)}
            strata = {(f, s): None for f, s in zip(self.family, self.seed)}
        for key in strata:
            rows = [r for r in range(n) if self.family[r] == key[0] and (len(key) == 1 or self.seed[r] == key[1])]
            units = list(dict.fromkeys(self.unit[r] for r in rows))
            picks = rng.integers(0, len(units), size=(n_boot, len(units)))
            counts = np.stack([(picks == i).sum(1) for i in range(len(units))], axis=1).astype(float)
            uidx = {u: i for i, u in enumerate(units)}
            for r in rows:
                weights[:, r] = counts[:, uidx[self.unit[r]]] * cluster_w[:, seed_index[self.seed[r]]]
        return weights

    def fingerprint(self) -> int:
        """A seed for the bootstrap generator derived from the data: same evidence, same interval."""
        h = hashlib.sha256(np.ascontiguousarray(self.values).tobytes())
        h.update(repr((self.labels, self.family, self.unit, self.seed, self.resample)).encode())
        return int.from_bytes(h.digest()[:8], "little")

    def replicates(self, n_boot: int = N_BOOT, seed: int | None = None) -> np.ndarray:
        """Bootstrap replicate estimates ``[b, arm]`` (deterministic for the same table; computed once)."""
        memo = self.__dict__.setdefault("_replicates", {})
        if (n_boot, seed) not in memo:
            rng = np.random.default_rng(self.fingerprint() if seed is None else seed)
            memo[(n_boot, seed)] = self.weighted_estimates(self.bootstrap_weights(n_boot, rng))
        return memo[(n_boot, seed)]


@dataclass(frozen=True)
class Intervals:
    """Simultaneous confidence intervals of several contrasts (family-wise level ``1 - alpha``)."""

    names: list[str]
    point: np.ndarray
    low: np.ndarray
    high: np.ndarray
    se: np.ndarray
    critical: float
    alpha: float
    method: str
    n_boot: int
    defined: np.ndarray = field(default=None)

    def row(self, i: int) -> dict:
        return {"contrast": self.names[i], "estimate": float(self.point[i]), "low": float(self.low[i]),
                "high": float(self.high[i]), "se": float(self.se[i]), "defined": bool(self.defined[i])}

    def rows(self) -> list[dict]:
        return [self.row(i) for i in range(len(self.names))]

    def describe(self) -> dict:
        return {"method": self.method, "alpha": self.alpha, "family_size": len(self.names),
                "critical_value": float(self.critical), "n_boot": self.n_boot}


def simultaneous_ci(table: PromptTable, contrasts: np.ndarray, names: list[str], alpha: float = ALPHA,
                    n_boot: int = N_BOOT, reps: np.ndarray | None = None) -> Intervals:
    """Max-T simultaneous intervals for ``contrasts @ arm estimates`` (``contrasts``: k x arms).

    The critical value is the ``1 - alpha`` quantile over bootstrap replicates of
    ``max_j |d*_j - d_j| / se_j``: all k intervals cover together with probability ``1 - alpha``
    (one contrast: a symmetric bootstrap-t interval). Contrasts whose bootstrap spread is zero are
    *undefined* (their interval is the point itself and :func:`degenerate` says so).
    """
    c = np.atleast_2d(np.asarray(contrasts, dtype=float))
    reps = table.replicates(n_boot) if reps is None else reps
    point = c @ table.estimate()
    d = reps @ c.T
    # plug-in bootstrap variance shrinks by (n-1)/n per stratum; inflate by the smallest stratum's factor
    n_min = min(len(set(u for u, f in zip(table.unit, table.family) if f == fam)) for fam in table.families)
    inflate = math.sqrt(n_min / (n_min - 1)) if n_min > 1 else 1.0
    se = d.std(axis=0, ddof=1) * inflate
    scale = max(1.0, float(np.max(np.abs(point), initial=0.0)))
    defined = se > 1e-12 * scale
    if defined.any():
        t = np.abs(d[:, defined] - point[defined]) * inflate / se[defined]
        crit = float(np.quantile(t.max(axis=1), 1 - alpha))
    else:
        crit = float("nan")
    half = np.where(defined, (crit if math.isfinite(crit) else 0.0) * se, 0.0)
    method = "max-T bootstrap over prompts" + (" within seeds" if table.resample != "prompts" else "") + \
        ", stratified by family"
    return Intervals(list(names), point, point - half, point + half, se, crit, alpha, method, n_boot, defined)


def pairwise_contrasts(width: int, pairs: list[tuple[int, int]]) -> np.ndarray:
    """Rows ``e_a - e_b`` for each (a, b)."""
    c = np.zeros((len(pairs), width))
    for i, (a, b) in enumerate(pairs):
        c[i, a] += 1.0
        c[i, b] -= 1.0
    return c


def single_ci(table: PromptTable, arm: int = 0, alpha: float = ALPHA, n_boot: int = N_BOOT) -> Intervals:
    c = np.zeros((1, len(table.labels)))
    c[0, arm] = 1.0
    return simultaneous_ci(table, c, [str(table.labels[arm])], alpha, n_boot)


# ----------------------------------------------------------------------------- decisions

def decide(low: float, high: float, support_above: float, refute_below: float) -> str:
    """Verdict of a claimed relation ``q > support_above`` from an interval of q.

    Supported: the whole interval is above ``support_above``. Refuted: the whole interval is
    below ``refute_below`` (the opposite relation, shown). Anything else is inconclusive — "not
    significant" is never a refutation.
    """
    if refute_below > support_above:
        raise ValueError("refute_below must not exceed support_above")
    if low > support_above:
        return SUPPORTED
    if high < refute_below:
        return REFUTED
    return INCONCLUSIVE


def strength(verdict: str, low: float, high: float, support_above: float, refute_below: float) -> bool:
    """The one definition of a strong verdict: its decisive bound clears the threshold by at least
    the interval's half-width (it would survive an interval twice as wide)."""
    half = (high - low) / 2
    if verdict == SUPPORTED:
        return low - support_above >= half
    if verdict == REFUTED:
        return refute_below - high >= half
    return False


def check(name: str, low: float, high: float, support_above: float, refute_below: float | None = None,
          what: str = "") -> dict:
    """One check of a check-list criterion: status, the interval, the thresholds and its strength."""
    refute_below = support_above if refute_below is None else refute_below
    status = decide(low, high, support_above, refute_below)
    return {"check": name, "status": status, "low": float(low), "high": float(high),
            "support_above": float(support_above), "refute_below": float(refute_below),
            "strong": strength(status, low, high, support_above, refute_below), "detail": what}


# ----------------------------------------------------------------------------- degeneracy

def degenerate(values: np.ndarray, *, bounds: tuple[float, float] | None = None, equivalence: float = 0.0,
               noise_floor: float = 0.0, baseline: np.ndarray | None = None, labels: Sequence = ()) -> list[str]:
    """Why evidence cannot discriminate (empty when it can): the gate every criterion runs first.

    ``values[row, arm]``. Reasons: non-finite values; every value equal (zero variance); every arm
    at the metric's ceiling or floor (``bounds``); the arms' means all within ``equivalence`` of
    each other (a tie, not a difference); their spread below ``noise_floor`` (the measured
    within-run noise); no arm distinguishable from ``baseline`` (same values as the unintervened run).
    """
    v = np.asarray(values, dtype=float)
    reasons = []
    if v.size == 0:
        return ["no observations"]
    if not np.isfinite(v).all():
        return [f"undefined: {int((~np.isfinite(v)).sum())} non-finite value(s)"]
    if np.ptp(v) == 0:
        reasons.append(f"zero variance: every observation equals {v.flat[0]:.4g}")
    if bounds is not None:
        lo, hi = bounds
        if np.all(v >= hi):
            reasons.append(f"ceiling: every arm at the metric's maximum {hi:g}")
        elif np.all(v <= lo):
            reasons.append(f"floor: every arm at the metric's minimum {lo:g}")
    means = v.mean(axis=0) if v.ndim == 2 else np.array([v.mean()])
    if v.ndim == 2 and v.shape[1] > 1:
        spread = float(np.ptp(means))
        if equivalence > 0 and spread <= equivalence:
            reasons.append(f"tie: every arm's mean is within {equivalence:.3g} of the others (spread {spread:.3g})")
        if noise_floor > 0 and spread < noise_floor:
            reasons.append(f"below noise: the arms differ by {spread:.3g}, less than the within-run noise "
                           f"{noise_floor:.3g}")
    if baseline is not None and np.allclose(v, np.asarray(baseline, dtype=float)[..., None] if v.ndim == 2
                                            else baseline, rtol=0, atol=1e-12):
        reasons.append("no arm is distinguishable from the unintervened baseline")
    # dedupe while keeping order (zero variance implies a tie)
    return list(dict.fromkeys(reasons))


# ----------------------------------------------------------------------------- exact tests

def sign_flip_p(differences: Sequence[float], n_resamples: int = 9999, seed: int = 0) -> float:
    """Two-sided paired permutation (sign-flip) p-value of the mean difference (scipy; exact for
    up to 13 pairs). 1.0 when every difference is 0 (undefined, never a finding)."""
    from scipy import stats

    d = np.asarray(differences, dtype=float)
    if d.size == 0 or np.all(d == 0):
        return 1.0
    res = stats.permutation_test((d,), np.mean, permutation_type="samples", n_resamples=n_resamples,
                                 alternative="two-sided", random_state=seed)
    return float(res.pvalue)


def binomial_ci(successes: int, n: int, alpha: float = ALPHA) -> tuple[float, float]:
    """Exact (Clopper-Pearson) interval of a proportion (scipy.stats.binomtest)."""
    from scipy import stats

    if n == 0:
        return 0.0, 1.0
    ci = stats.binomtest(int(successes), int(n)).proportion_ci(1 - alpha, method="exact")
    return float(ci.low), float(ci.high)


def empirical_p(observed: float, null: Sequence[float]) -> float:
    """One-sided Monte-Carlo p-value ``(1 + #{null >= observed}) / (N + 1)``: never 0."""
    null = np.asarray(null, dtype=float)
    if null.size == 0:
        raise ValueError("empty null distribution")
    return float((1 + np.sum(null >= observed)) / (null.size + 1))


def rounded(values: Sequence[float], digits: int = 6) -> list[float]:
    """Values at ``digits`` significant digits: what the evidence stores is what the criteria judge,
    so a verdict can be recomputed from the ledger exactly."""
    return [float(f"{float(x):.{digits}g}") for x in values]


def fmt_ci(low: float, high: float) -> str:
    return f"[{low:.4g}, {high:.4g}]"
