"""Calibration cases for the ``steering`` criterion: synthetic steering evidence with planted truths (pure).

:func:`steering_evidence` builds the evidence format of :mod:`audit.criteria.steering` (per-prompt
effects and collateral KLs per seed, nulls per control); the criterion tests use it too.

The calibration design (:class:`SteeringDesign`): each seed draws its own eval prompts; a prompt's
effect is the direction's true effect plus prompt noise ``noise``. A null draw is another direction
of the same norm applied to the seed's prompts: its true effect varies from direction to direction
(``null_sd``) around the null's centre, and the seed statistic adds the prompt noise of ``n`` eval
prompts (:func:`null_draws`). Seeds draw their null directions independently, as the evidence builder
does (``controls/random_vector.py`` is seeded per seed). With the defaults the pooled null (the mean
over 3 seeds of draw i) has SD 0.0645 and the observed pooled effect an SD of 0.029.

Which truth an uninformative direction has is a design choice, stated per case: a direction planted
*at* the null's median (its true effect equals a typical null direction's, seed after seed) or below
it is refuted by the bulk rule with power; a direction *exchangeable* with the null directions (its
true effect drawn like theirs) sits at a uniform rank in the null and is refuted only ~75% of the
time by design (the bulk is the null's lower 75%), so it is not a calibration case (it would be
neither "refuted with power" nor a null that must not be refuted).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from audit.calibration import Case
from audit.criteria.steering import SteeringAcceptance, cell_key
from audit.evidence_models.judged import SteeringSweep

SEEDS = [1, 2, 3]
CELL = cell_key(12, 0.25)
N = 199  # null draws per seed and control


def _family_mean(values, families) -> float:
    fams = sorted(set(families))
    return float(np.mean([np.mean([v for v, f in zip(values, families) if f == g]) for g in fams]))


def steering_evidence(effect=1.0, collateral=0.02, noise=0.1, cnoise=0.005, cells=None, rv=None, sl=None, waived=None,
                      required=("random_vector", "shuffled_label"), families=("a", "b"), per_family=8, seed=0,
                      numerical_noise=0.0, seeds=SEEDS) -> dict:
    """Per-prompt steering evidence: ``cells[cell] = (effect per family or scalar, collateral)`` (default
    one cell ``CELL``); each seed draws its own prompts. ``rv`` / ``sl``: the nulls of the two controls
    (``[seed][draw]``, the same at every cell); by default N(0, 0.05) draws of the seed statistic.
    ``seed``: an int or a ``numpy.random.Generator`` for the noise."""
    rng = np.random.default_rng(seed)
    cells = cells or {CELL: (effect, collateral)}
    ev = {"seeds": list(seeds), "layers": sorted({int(c[1:].split("@")[0]) for c in cells}),
          "alphas": sorted({float(c.split("@")[1]) for c in cells}), "families": list(families),
          "prompts": {"eval": [], "collateral": []}, "per_prompt": {c: {"effect": [], "collateral": []} for c in cells},
          "effect": {c: [] for c in cells}, "collateral": {c: [] for c in cells},
          "effect_by_family": {c: {f: [] for f in families} for c in cells}, "required_controls": list(required),
          "waived": waived or {}, "nulls": {}, "numerical_noise": {c: {"effect": numerical_noise} for c in cells}}
    for s in seeds:
        fams = [f for f in families for _ in range(per_family)]
        ids = [f"{f}-{s}-{i}" for i, f in enumerate(fams)]
        cfams = ["x"] * per_family
        ev["prompts"]["eval"].append({"ids": ids, "families": fams})
        ev["prompts"]["collateral"].append({"ids": [f"x-{s}-{i}" for i in range(per_family)], "families": cfams})
        for c, (e, k) in cells.items():
            mean_e = [e[f] if isinstance(e, dict) else e for f in fams]
            vals = [float(m + noise * rng.standard_normal()) for m in mean_e]
            col = [float(k + cnoise * rng.standard_normal()) for _ in cfams]
            ev["per_prompt"][c]["effect"].append(vals)
            ev["per_prompt"][c]["collateral"].append(col)
            ev["effect"][c].append(_family_mean(vals, fams))
            ev["collateral"][c].append(float(np.mean(col)))
            for f in families:
                ev["effect_by_family"][c][f].append(float(np.mean([v for v, g in zip(vals, fams) if g == f])))
    for name, given_null in (("random_vector", rv), ("shuffled_label", sl)):
        if name in required:
            ev["nulls"][name] = {c: (given_null if given_null is not None else
                                     (0.05 * rng.standard_normal((len(seeds), N))).tolist()) for c in cells}
    return ev


def null_around(centre, n=N, spread=0.1, seed=1, n_seeds=len(SEEDS)) -> list[list[float]]:
    """``[seed][draw]`` null samples N(centre, spread)."""
    return (centre + spread * np.random.default_rng(seed).standard_normal((n_seeds, n))).tolist()


# ----------------------------------------------------------------------------- calibration design

@dataclass(frozen=True)
class SteeringDesign:
    noise: float = 0.2             # per-prompt SD of a direction's effect
    null_sd: float = 0.1           # direction-to-direction SD of a null direction's true effect
    per_family: int = 8            # eval prompts per family and seed (2 families)
    collateral: float = 0.02       # true collateral KL (max_collateral 0.1)
    cnoise: float = 0.005          # per-prompt SD of the collateral KL
    numerical_noise: float = 0.0   # measured noise of the steered path (a zero vector sent through it)

    @property
    def n_eval(self) -> int:
        return 2 * self.per_family

    @property
    def pooled_null_sd(self) -> float:
        return float(np.sqrt((self.null_sd ** 2 + self.noise ** 2 / self.n_eval) / len(SEEDS)))


def null_draws(centre: float, design: SteeringDesign, rng: np.random.Generator) -> list[list[float]]:
    """``[seed][draw]``: N null directions per seed, each with its own true effect N(centre, null_sd),
    measured on the seed's eval prompts (prompt noise of the family-averaged statistic)."""
    shape = (len(SEEDS), N)
    true = centre + design.null_sd * rng.standard_normal(shape)
    return (true + design.noise / np.sqrt(design.n_eval) * rng.standard_normal(shape)).tolist()


def draw(design: SteeringDesign, effect: float, rv_centre: float = 0.0, sl_centre: float = 0.0,
         collateral: float | None = None, **acceptance):
    """A case's draw: evidence with a direction of true effect ``effect`` and nulls centred as given."""
    spec = SteeringAcceptance(kind="steering", layer=12, alpha=0.25, **acceptance)

    def run(rng: np.random.Generator):
        ev = steering_evidence(effect=effect, collateral=design.collateral if collateral is None else collateral,
                               noise=design.noise, cnoise=design.cnoise, per_family=design.per_family, seed=rng,
                               rv=null_draws(rv_centre, design, rng), sl=null_draws(sl_centre, design, rng),
                               numerical_noise=design.numerical_noise)
        return spec.evaluate(SteeringSweep.model_validate(ev))

    return run


def cases(design: SteeringDesign = SteeringDesign()) -> list[Case]:
    sd = design.pooled_null_sd
    tiny = SteeringDesign(noise=1e-7, null_sd=1e-7, numerical_noise=1e-6)
    return [
        Case("steering: real direction beats the nulls", "supported", draw(design, 0.25),
             f"0.25 = {0.25 / sd:.1f} pooled-null SDs"),
        Case("steering: direction at the random-vector median (norm effect)", "refuted",
             draw(design, 0.3, rv_centre=0.3), "0.3 = random-vector null median"),
        Case("steering: direction worse than random vectors", "refuted",
             draw(design, 0.3, rv_centre=0.3 + sd), "1 pooled-null SD below rv median"),
        Case("steering: shuffled labels do as well as the direction", "refuted",
             draw(design, 0.3, sl_centre=0.3), "0.3 = shuffled-label null median"),
        Case("steering: zero effect (within the steered path's noise)", "null", draw(tiny, 0.0),
             "0, numerical noise 1e-6"),
        Case("steering: effect equals min_effect, beats the nulls", "null", draw(design, 0.3, min_effect=0.3),
             "0 over min_effect 0.3"),
        Case("steering: collateral equals max_collateral", "null",
             draw(design, 0.5, collateral=0.1, min_selectivity=0.0), "KL 0.1 = max 0.1"),
        Case("steering: collateral above max_collateral", "refuted",
             draw(design, 0.5, collateral=0.2, min_selectivity=0.0), "KL 0.2 > max 0.1"),
    ]
