"""Prompt-level inference shared by every criterion (pure: numpy and scipy, no torch).

The unit of replication is the prompt (or pair). A :class:`PromptTable` holds one row per
observation — a prompt as a seed sampled it — and one column per compared *arm* (a layer, a
component, a placement, a mode, a sweep point). Arms are paired: every arm was measured on the
same rows.

Point estimate of an arm: the mean over families of the mean of the family's rows. When every
seed draws the same number of prompts per family this equals the old "mean over seeds of the
family means", so per-seed results stay comparable with the pooled one.

Uncertainty depends on what a seed is:

- ``resample="prompts"`` (inference claims, where a seed only chooses prompts): a stratified
  bootstrap over the distinct prompts of each family, run as counts so that it is vectorised (a
  prompt two seeds drew is one unit, never two). :func:`simultaneous_ci` turns it into
  intervals for several contrasts at once with a *studentised* max-T critical value (each
  replicate divided by its own linearised SE), so "X beats each of the other 29 layers" holds at
  the family-wise level ``alpha`` even with 8 prompts per family.
- ``resample="seeds"`` (training claims, where a seed also trains a different model): the seed
  is the unit. Three seeds are three models, and no resampling of prompts can stand in for the
  models not trained: :func:`seed_t_ci` is a Student t interval over the seeds' estimates with
  n-1 degrees of freedom, Bonferroni over what is compared.

scipy.stats.bootstrap resamples one axis without strata or clusters, hence the counts here;
scipy provides the t quantiles and the exact tests (:func:`sign_flip_p`, :func:`binomial_ci`).

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
Resample = Literal["prompts", "seeds"]


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
    def _structure(self) -> list[tuple]:
        """Per family: (rows, unit index of each row, first row of each unit, rows per unit)."""
        memo = self.__dict__.setdefault("_memo", {})
        if "structure" not in memo:
            out = []
            for rows in self._family_rows():
                units, first, inv = np.unique(np.array(self.unit)[rows], return_index=True, return_inverse=True)
                out.append((rows, inv, first, np.bincount(inv).astype(float)))
            memo["structure"] = out
        return memo["structure"]

    def bootstrap_counts(self, n_boot: int, rng: np.random.Generator) -> list[np.ndarray]:
        """Per family, how often each distinct prompt is drawn in each replicate: ``[b, unit]``
        (prompts resampled with replacement within their family; a prompt brings all its rows)."""
        out = []
        for _, _, first, _ in self._structure():
            n = len(first)
            picks = rng.integers(0, n, size=(n_boot, n))
            out.append(np.stack([(picks == i).sum(1) for i in range(n)], axis=1).astype(float))
        return out

    def moments(self, contrasts: np.ndarray, counts: list[np.ndarray] | None = None) -> tuple[np.ndarray, np.ndarray]:
        """Estimates and their linearised variances of ``contrasts @ arms`` under prompt counts
        (``counts`` from :meth:`bootstrap_counts`; None: the data as observed): ``([b, k], [b, k])``.

        Per family the estimate is a ratio of sums over prompts; its variance is the
        cluster-robust n/(n-1) sum of squared prompt residuals over the squared row count (rows of
        one prompt are one cluster), and families add: the studentising SE of a bootstrap-t."""
        c = np.atleast_2d(np.asarray(contrasts, dtype=float))
        x = self.values @ c.T
        est, var = [], []
        for f, (rows, inv, first, k) in enumerate(self._structure()):
            s = np.zeros((len(first), c.shape[0]))
            np.add.at(s, inv, x[rows])
            w = np.ones((1, len(first))) if counts is None else counts[f]
            total = w @ k
            m = (w @ s) / total[:, None]
            q = w @ (s ** 2) - 2 * m * (w @ (k[:, None] * s)) + m ** 2 * (w @ (k ** 2))[:, None]
            n = len(first)
            est.append(m)
            var.append((n / (n - 1) if n > 1 else np.nan) * np.maximum(q, 0.0) / (total ** 2)[:, None])
        fam = len(est)
        return np.mean(est, axis=0), np.sum(var, axis=0) / fam ** 2

    def fingerprint(self) -> int:
        """A seed for the bootstrap generator derived from the table's design (arms, prompts, their
        families and seeds), not its values: the same claim draws the same resamples, so evidence that
        moves by float rounding (another CPU, another batch size) moves the interval by as little,
        instead of redrawing it (a new Monte Carlo error of ~2% of its width)."""
        h = hashlib.sha256(repr((self.labels, self.family, self.unit, self.seed, self.resample)).encode())
        return int.from_bytes(h.digest()[:8], "little")

    def counts(self, n_boot: int = N_BOOT, seed: int | None = None) -> list[np.ndarray]:
        """The table's bootstrap draws (deterministic for the same table; drawn once)."""
        memo = self.__dict__.setdefault("_memo", {})
        if ("counts", n_boot, seed) not in memo:
            rng = np.random.default_rng(self.fingerprint() if seed is None else seed)
            memo[("counts", n_boot, seed)] = self.bootstrap_counts(n_boot, rng)
        return memo[("counts", n_boot, seed)]

    def replicates(self, n_boot: int = N_BOOT, seed: int | None = None) -> np.ndarray:
        """Bootstrap replicate estimates of every arm ``[b, arm]`` (for nonlinear statistics)."""
        return self.moments(np.eye(len(self.labels)), self.counts(n_boot, seed))[0]

    def seed_estimates(self, contrasts: np.ndarray) -> np.ndarray:
        """Each seed's estimate of ``contrasts @ arms``: ``[seed, k]`` (in :attr:`seeds` order)."""
        c = np.atleast_2d(np.asarray(contrasts, dtype=float))
        return np.stack([v @ c.T for v in self.per_seed().values()])


@dataclass(frozen=True)
class Independent:
    """Arms of independently sampled prompt tables side by side (e.g. an effect measured on some
    prompts and a collateral cost on disjoint ones): each is resampled on its own, variances add."""

    tables: tuple

    @property
    def labels(self) -> tuple:
        return tuple(x for t in self.tables for x in t.labels)

    resample = "prompts"

    def estimate(self) -> np.ndarray:
        return np.concatenate([t.estimate() for t in self.tables])

    def moments(self, contrasts: np.ndarray, counts: list | None = None) -> tuple[np.ndarray, np.ndarray]:
        c = np.atleast_2d(np.asarray(contrasts, dtype=float))
        est = var = 0.0
        start = 0
        for i, t in enumerate(self.tables):
            width = len(t.labels)
            e, v = t.moments(c[:, start:start + width], None if counts is None else counts[i])
            est, var, start = est + e, var + v, start + width
        return est, var

    def counts(self, n_boot: int = N_BOOT) -> list:
        return [t.counts(n_boot, seed=(t.fingerprint() + i) % 2**63) for i, t in enumerate(self.tables)]


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


def _defined(point: np.ndarray, se: np.ndarray) -> np.ndarray:
    scale = max(1.0, float(np.max(np.abs(np.nan_to_num(point)), initial=0.0)))
    return np.isfinite(se) & (se > 1e-12 * scale)


def _intervals(names, point, se, crit, alpha, method, n_boot) -> Intervals:
    defined = _defined(point, se)
    half = np.where(defined, crit * np.nan_to_num(se), 0.0) if math.isfinite(crit) else \
        np.where(defined, np.inf, 0.0)
    return Intervals(list(names), point, point - half, point + half, np.nan_to_num(se), crit, alpha, method,
                     n_boot, defined)


def seed_t_ci(per_seed: np.ndarray, names: list[str], alpha: float = ALPHA) -> Intervals:
    """Intervals with the seed as the unit (a seed trained its own model): Student t over the seeds'
    estimates ``per_seed[seed, k]``, Bonferroni over the k statistics. Exact for normal seed
    estimates; honest about 3 seeds (2 degrees of freedom). Undefined with one seed."""
    from scipy import stats

    v = np.asarray(per_seed, dtype=float)
    n, k = v.shape
    point = v.mean(0)
    se = v.std(0, ddof=1) / math.sqrt(n) if n > 1 else np.full(k, np.nan)
    crit = float(stats.t.ppf(1 - alpha / (2 * k), n - 1)) if n > 1 else float("nan")
    method = (f"Student t over {n} seeds (each trained its own model; {n - 1} df), Bonferroni over {k}"
              if n > 1 else "one seed: model-to-model variation is not measurable")
    return _intervals(names, point, se, crit, alpha, method, 0)


def simultaneous_ci(table, contrasts: np.ndarray, names: list[str], alpha: float = ALPHA,
                    n_boot: int = N_BOOT) -> Intervals:
    """Simultaneous intervals for ``contrasts @ arm estimates`` (``contrasts``: k x arms) of a
    :class:`PromptTable` or :class:`Independent` tables.

    Prompts as units: a studentised max-T bootstrap — the critical value is the ``1 - alpha``
    quantile over replicates of ``max_j |d*_j - d_j| / se*_j`` with each replicate's own
    linearised SE, so all k intervals cover together (one contrast: a symmetric bootstrap-t).
    Seeds as units (``resample="seeds"``): :func:`seed_t_ci`. Contrasts with no spread are
    *undefined* (their interval is the point itself and :func:`degenerate` says so).
    """
    c = np.atleast_2d(np.asarray(contrasts, dtype=float))
    if table.resample == "seeds":
        return seed_t_ci(table.seed_estimates(c), names, alpha)
    point, var = table.moments(c)
    point, se = point[0], np.sqrt(var[0])
    d, v = table.moments(c, table.counts(n_boot))
    defined = _defined(point, se)
    if defined.any():
        num = np.abs(d[:, defined] - point[defined])
        # a replicate with no spread of its own (a sparse 0/1 contrast that drew only zeros) is
        # studentised by the observed SE instead: never an infinite t
        den = np.where(v[:, defined] > (1e-12 * se[defined]) ** 2, np.sqrt(v[:, defined]), se[defined])
        t = np.where(num <= 1e-12 * (1 + np.abs(point[defined])), 0.0, num / den)
        crit = float(np.quantile(t.max(axis=1), 1 - alpha, method="higher"))
    else:
        crit = float("nan")
    method = f"studentised max-T bootstrap over prompts ({n_boot} draws), stratified by family"
    return _intervals(names, point, se, crit, alpha, method, n_boot)


def statistic_ci(table, point, names: list[str], *, reps=None, per_seed=None, ranges=None,
                 alpha: float = ALPHA) -> list[dict]:
    """Simultaneous intervals of nonlinear statistics (a correlation, a ratio): from their values
    per seed when seeds are the units (:func:`seed_t_ci`), else from bootstrap replicates
    ``reps[b, k]`` drawn with the table's counts (max-T over the k statistics with bootstrap SEs).
    ``ranges``: the values each statistic can take (a correlation's [-1, 1]); intervals are cut to them."""
    point = np.asarray(point, dtype=float)
    if table.resample == "seeds":
        iv = seed_t_ci(per_seed, names, alpha)
    else:
        reps = np.nan_to_num(np.asarray(reps, dtype=float))
        se = reps.std(axis=0, ddof=1)
        defined = _defined(point, se)
        t = np.abs(reps[:, defined] - np.nan_to_num(point[defined])) / se[defined]
        crit = float(np.quantile(t.max(axis=1), 1 - alpha, method="higher")) if defined.any() else float("nan")
        iv = _intervals(names, np.nan_to_num(point), se, crit, alpha,
                        f"max-T bootstrap over prompts ({len(reps)} draws), stratified by family", len(reps))
    ranges = ranges or [(-math.inf, math.inf)] * len(names)
    return [{"name": n, "estimate": float(point[j]), "low": float(max(iv.low[j], ranges[j][0])),
             "high": float(min(iv.high[j], ranges[j][1])), "defined": bool(iv.defined[j]),
             "method": iv.method + f", over {len(names)} statistics"} for j, n in enumerate(names)]


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
    """The one definition of a strong verdict: its decisive bound clears the threshold by more than
    the interval's half-width (it would survive an interval twice as wide; ``decide`` is strict too)."""
    half = (high - low) / 2
    if verdict == SUPPORTED:
        return low - support_above > half
    if verdict == REFUTED:
        return refute_below - high > half
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
