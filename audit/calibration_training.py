"""Calibration cases for the training (LoRA) criteria: synthetic training results with planted truths (pure).

The generators build the result formats of :mod:`audit.criteria.lora` (the criterion tests use them
too): :func:`em_results` held-out exact match per prompt, :func:`loss_results` per-prompt training
losses and KL drift per sweep point, :func:`adapter_seeds` per-layer adapter norms and ablation
effects. Every seed trains its own adapters. ``key`` (None in the tests: fixed draws) makes a fresh,
reproducible draw for calibration.

Exact match: a prompt is solved by an arm when its latent difficulty is below the arm's rate. With
``rho = 1`` every arm shares the difficulty (placements are nested: an easier prompt is solved by
every arm that solves a harder one); with ``rho < 1`` each arm adds its own part (probit model, the
arms' rates stay exactly ``p``), so placements disagree on some prompts as trained adapters do.

The seed is the unit of the training criteria's intervals (a t over 3 seeds, 2 degrees of
freedom, Bonferroni over the checks): that holds its size when adapters differ from seed to seed
(the ``seed_sd`` case; a bootstrap of prompts within seeds decided it 24% of the time), and costs
power — the effects at which 3 seeds reach 80% are stated on every case.
"""

from __future__ import annotations

import numpy as np
from scipy.special import ndtri

from audit.calibration import Case
from audit.criteria.lora import AdapterConcentration, LoraEfficiency, SweepBest, SweepKnee
from audit.evidence_models.judged import AdapterAblationRuns, PlacementRuns, PointRuns

SEEDS = (1, 2, 3)
FAMILY = "task"


def _gen(key: int | None, n: int) -> np.random.Generator:
    return np.random.default_rng(n if key is None else [key, n])


def quiet_losses(seed: int, end: float = 0.5, sd: float = 0.01, key: int | None = None) -> list[float]:
    """A falling training loss (30 logged values) with step-to-step noise ``sd``."""
    rng = _gen(key, seed)
    return list(np.linspace(2.0, end, 30) + rng.normal(0, sd, 30))


def _solved(u: np.ndarray, e: np.ndarray | None, p: float, rho: float) -> np.ndarray:
    if e is None or p <= 0 or p >= 1:
        return u < p
    return rho * ndtri(u) + np.sqrt(1 - rho ** 2) * e < ndtri(p)


def em_results(p: dict, params: dict, n: int = 40, seeds=SEEDS, key: int | None = None, rho: float = 1.0) -> dict:
    """Held-out exact match per prompt: ``{arm: [per seed {seed, trainable_params, losses, exact_by_prompt}]}``;
    arm ``a`` solves a rate ``p[a]`` of the prompts (``p >= 1``: all, ``p <= 0``: none)."""
    out = {a: [] for a in p}
    for s in seeds:
        rng = _gen(key, s)
        u = rng.random(n)
        own = rng.standard_normal((len(p), n)) if rho < 1 else [None] * len(p)
        for a, e in zip(p, own):
            hits = _solved(u, e, p[a], rho)
            out[a].append({"seed": s, "trainable_params": params[a], "losses": quiet_losses(s, key=key),
                           "exact_by_prompt": {FAMILY: {f"p{i:03d}": float(x) for i, x in enumerate(hits)}}})
    return out


def loss_results(means: dict, n: int = 24, sd: float = 0.1, loss_sd: float = 0.01, params=None, logged: int = 30,
                 key: int | None = None, seed_sd: float = 0.0) -> dict:
    """Per-prompt final training loss (and KL drift) of sweep points with true means ``means``: prompt
    noise ``sd``, the training loss's step-to-step noise ``loss_sd``, and ``seed_sd`` the seed-to-seed
    SD of a point's mean (each seed trains its own adapter)."""
    out = {}
    for j, (a, m) in enumerate(means.items()):
        rows = []
        for s in SEEDS:
            rng = _gen(key, 100 * s + j)
            ms = m + (seed_sd * rng.standard_normal() if seed_sd else 0.0)
            rows.append({"seed": s, "trainable_params": (params or {}).get(a, 1000),
                         "losses": quiet_losses(10 * s + j, sd=loss_sd, key=key)[-logged:],
                         "train_loss_by_prompt": {FAMILY: {f"t{i:02d}": float(ms + rng.normal(0, sd)) for i in range(n)}},
                         "drift_by_prompt": {"other": {f"o{i:02d}": float(abs(ms + rng.normal(0, sd)))
                                                       for i in range(n)}}})
        out[a] = rows
    return out


def adapter_seeds(effect_of_norm, n_layers: int = 12, n_prompts: int = 16, prompt_sd: float = 0.02,
                  loss_sd: float = 1e-3, constant_norms: bool = False, key: int | None = None,
                  log_norms: bool = False) -> list[dict]:
    """One adapter per seed: per-layer norms (uniform on [1, 10], or log-uniform on [1, 100] with
    ``log_norms``; sorted, so late layers have the larger norms) and per-prompt ablation effects
    ``effect_of_norm(norms)`` plus prompt noise ``prompt_sd``."""
    out = []
    for s in SEEDS:
        rng = _gen(key, s)
        norms = np.full(n_layers, 5.0) if constant_norms else \
            np.sort(np.exp(rng.uniform(0, np.log(100), n_layers)) if log_norms else rng.uniform(1, 10, n_layers))
        effects = effect_of_norm(norms)
        by_prompt = {f"p{i:02d}": {str(k): float(e + rng.normal(0, prompt_sd)) for k, e in enumerate(effects)}
                     for i in range(n_prompts)}
        out.append({"seed": s, "norms": {str(k): float(v) for k, v in enumerate(norms)},
                    "losses": quiet_losses(s, end=0.05, sd=loss_sd, key=key), "effects_by_prompt": {FAMILY: by_prompt}})
    return out


# ----------------------------------------------------------------------------- calibration cases

PARAMS = {"a": 100, "all": 5000, "rnd": 100}
RANKS = {"r4": 4, "r8": 8, "r16": 16}


def _key(rng: np.random.Generator) -> int:
    return int(rng.integers(2 ** 62))


def _efficiency(p: dict, gap: float = 0.2, margin: float = 0.2, n: int = 32, rho: float = 0.8):
    """lora_efficiency on ``n`` held-out prompts x 3 seeds (32, as the shipped claims), arms correlated ``rho``."""
    spec = LoraEfficiency(kind="lora_efficiency", candidate="a", reference="all", control="rnd", min_param_ratio=10,
                          max_exact_match_gap=gap, min_margin_over_control=margin)
    return lambda rng: spec.evaluate(PlacementRuns(results=em_results(p, PARAMS, n=n, key=_key(rng), rho=rho)))


def _sweep(spec, means: dict, **kw):
    return lambda rng: spec.evaluate(PointRuns(results=loss_results(means, key=_key(rng), **kw)))


def _adapter(law, **kw):
    spec = AdapterConcentration(kind="adapter_concentration", min_correlation=0.7, max_p=0.05, min_late_share=0.5)
    return lambda rng: spec.evaluate(AdapterAblationRuns(per_seed=adapter_seeds(law, key=_key(rng), **kw), n_layers=12,
                                                          permutations=199))


def cases() -> list[Case]:
    best = lambda x: SweepBest(kind="sweep_best", best=x)  # noqa: E731
    knee = SweepKnee(kind="sweep_knee", order=["r4", "r8", "r16"], at="r8", min_gain_ratio=2)
    three = {"low": 0.8, "mid": 1.0, "high": 1.2}
    return [
        # lora_efficiency: 32 held-out prompts x 3 seeds; allowed gap 0.2, margin over random 0.2
        Case("training: every placement at exact match 1.0", "null", _efficiency({"a": 1, "all": 1, "rnd": 1}),
             "ceiling"),
        Case("training: every placement at exact match 0.0", "null", _efficiency({"a": 0, "all": 0, "rnd": 0}),
             "floor"),
        Case("training: planted better placement, beats random", "supported",
             _efficiency({"a": 0.9, "all": 0.8, "rnd": 0.2}, n=64), "+0.1 vs ref, +0.7 vs rnd; 64 prompts"),
        Case("training: placement trails the reference by the allowed gap", "null",
             _efficiency({"a": 0.6, "all": 0.8, "rnd": 0.1}), "gap 0.2 = allowed 0.2"),
        Case("training: claim a placement matches a far better reference", "refuted",
             _efficiency({"a": 0.2, "all": 0.9, "rnd": 0.1}), "gap 0.7 (allowed 0.2)"),
        # sweep_best on per-prompt final loss (24 prompts x 3 seeds, prompt SD 0.1, loss noise 0.01)
        Case("training: sweep points with equal loss, claim one lowest", "null",
             _sweep(best("a"), {"a": 1.0, "b": 1.0, "c": 1.0}), "0 (a tie)"),
        Case("training: loss 0.03 lower, inside the loss's noise 0.1", "null",
             _sweep(best("a"), {"a": 0.50, "b": 0.53}, sd=0.001, loss_sd=0.1), "0.03 < within-run noise"),
        Case("training: tied points, adapters vary by seed as much as by prompt", "null",
             _sweep(best("a"), {"a": 1.0, "b": 1.0}, seed_sd=0.1), "0; seed SD 0.1 = prompt SD (3 seeds)"),
        Case("training: planted lowest-loss point, claim it", "supported", _sweep(best("low"), three),
             "0.2 = 2 prompt SDs below next"),
        Case("training: claim the wrong sweep point lowest", "refuted", _sweep(best("mid"), three),
             "0.2 = 2 prompt SDs above best"),
        # sweep_knee
        Case("training: planted knee (gain 1.0 then 0.1)", "supported",
             _sweep(knee, {"r4": 2.0, "r8": 1.0, "r16": 0.9}, params=RANKS), "gain/param ratio 5 (need 2)"),
        Case("training: all-zero gain, claim a knee", "null",
             _sweep(knee, {"r4": 1e-3, "r8": 1e-3, "r16": 1e-3}, sd=1e-5, params=RANKS), "0"),
        # adapter_concentration: 12 layers x 16 prompts x 3 seeds
        Case("training: adapter effect follows its norm in late layers", "supported",
             _adapter(lambda n: 1e-3 * n ** 2, log_norms=True), "1e-3 x norm^2, late share ~0.8"),
        Case("training: adapter effects below the loss's noise", "null",
             _adapter(lambda n: 1e-7 * n, prompt_sd=1e-8, loss_sd=1e-5), "1e-7 x norm < noise 1e-5"),
        Case("training: adapter effect falls with its norm", "refuted", _adapter(lambda n: 1.0 - 0.1 * n),
             "1 - 0.1 x norm"),
    ]
