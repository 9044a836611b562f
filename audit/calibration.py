"""Planted truths and nulls for the criteria, on synthetic evidence (pure, no torch).

Each *case* draws evidence whose truth is known by construction and runs the real criterion on
it; :func:`run_cases` counts verdicts over many draws. ``bench/calibration.py`` prints the table;
tests use the same generators with fewer draws.

The sweep generator mirrors the study's design: families of ``pool`` prompts, each seed draws
``k`` per family (seeds overlap in prompts), and a prompt's value at arm j is
``mu[j] + prompt effect (shared by every arm: the pairing) + family x arm effect + noise``.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Callable

import zlib

import numpy as np

from audit.inference import PromptTable
from audit.verdict import Outcome, Verdict


@dataclass(frozen=True)
class SweepDesign:
    n_arms: int = 30
    families: int = 12
    pool: int = 40
    k: int = 8
    seeds: tuple = (42, 137, 2026)
    noise_sd: float = 1.0          # per prompt and arm
    prompt_sd: float = 1.0         # shared by every arm of a prompt (cancels in paired differences)
    family_sd: float = 0.0         # family x arm interaction


def sweep_table(mu, design: SweepDesign, rng: np.random.Generator, labels=None) -> PromptTable:
    """A per-prompt sweep table with arm means ``mu`` (planted truth)."""
    mu = np.asarray(mu, dtype=float)
    labels = list(range(len(mu))) if labels is None else list(labels)
    per_unit, samples = {}, {}
    fam_fx = rng.normal(0, design.family_sd, size=(design.families, len(mu))) if design.family_sd else \
        np.zeros((design.families, len(mu)))
    for f in range(design.families):
        shared = rng.normal(0, design.prompt_sd, size=design.pool)
        noise = rng.normal(0, design.noise_sd, size=(design.pool, len(mu)))
        for p in range(design.pool):
            per_unit[f"f{f}-{p}"] = mu + fam_fx[f] + shared[p] + noise[p]
    for s in design.seeds:
        pick = np.random.default_rng([s, 7])
        samples[s] = {f"f{f}": [f"f{f}-{p}" for p in sorted(pick.choice(design.pool, design.k, replace=False))]
                      for f in range(design.families)}
    return PromptTable.from_samples(per_unit, samples, labels)


@dataclass(frozen=True)
class Case:
    """One calibration case: ``draw(rng) -> Outcome``; ``truth`` is what a correct engine says."""

    name: str
    truth: str                     # "supported" | "refuted" | "null" (must not be decided either way)
    draw: Callable[[np.random.Generator], Outcome]
    effect: str = ""               # the stated effect size, for the table


def run_case(case: Case, n: int, seed: int = 0) -> dict:
    rng = np.random.default_rng([seed, zlib.crc32(case.name.encode())])
    counts = {v.value: 0 for v in Verdict}
    for _ in range(n):
        counts[case.draw(rng).verdict.value] += 1
    rates = {k: v / n for k, v in counts.items()}
    row = {"case": case.name, "truth": case.truth, "effect": case.effect, "n": n, **rates}
    row["false_supported"] = rates["supported"] if case.truth != "supported" else 0.0
    row["false_refuted"] = rates["refuted"] if case.truth != "refuted" else 0.0
    row["power"] = rates[case.truth] if case.truth in ("supported", "refuted") else None
    return row


def summarise(rows: list[dict]) -> dict:
    powers = [r["power"] for r in rows if r["power"] is not None]
    return {"false_supported": max(r["false_supported"] for r in rows),
            "false_refuted": max(r["false_refuted"] for r in rows),
            "min_power": min(powers) if powers else float("nan")}


# ----------------------------------------------------------------------------- sweep cases

def _hub(layer: int, **kw):
    from audit.criteria.hub import HubAcceptance

    return HubAcceptance(kind="hub", layer=layer, min_effect=0.0, **kw)


def sweep_cases(design: SweepDesign = SweepDesign()) -> list[Case]:
    from audit.criteria.effects import EffectAtLeast, RankTopK

    n = design.n_arms
    flat = np.full(n, 5.0)
    tied = flat.copy()
    tied[:10] = 6.0
    planted = flat.copy()
    planted[8] = 5.9                # +0.9 prompt-level SDs over 29 others
    runner = planted.copy()
    runner[29] = 5.6                # a close runner-up 0.3 SD below the hub
    heads = np.zeros(12)
    labels = [f"L8.H{h}" for h in range(12)]
    return [
        Case("hub: all layers equal", "null", lambda r: _hub(8).evaluate(sweep_table(flat, design, r)), "0"),
        Case("hub: 10 layers tied on top, claim one", "null",
             lambda r: _hub(3).evaluate(sweep_table(tied, design, r)), "0 among the tied"),
        Case("hub: planted hub, claim it", "supported",
             lambda r: _hub(8).evaluate(sweep_table(planted, design, r)), "+0.9 SD over every other layer"),
        Case("hub: planted hub, claim a wrong layer", "refuted",
             lambda r: _hub(20).evaluate(sweep_table(planted, design, r)), "-0.9 SD to the hub"),
        Case("hub: hub with a runner-up inside the margin", "null",
             lambda r: _hub(8, min_margin_relative=0.1).evaluate(sweep_table(runner, design, r)),
             "+0.3 SD, margin 0.59"),
        Case("rank_top_k: no head does anything, claim L8.H3 top-1", "null",
             lambda r: RankTopK(kind="rank_top_k", component="L8.H3", k=1).evaluate(
                 sweep_table(heads, SweepDesign(n_arms=12), r, labels)), "0"),
        Case("rank_top_k: no head does anything, claim L8.H7 top-1", "null",
             lambda r: RankTopK(kind="rank_top_k", component="L8.H7", k=1).evaluate(
                 sweep_table(heads, SweepDesign(n_arms=12), r, labels)), "0"),
        Case("effect_at_least: true effect equals the threshold", "null",
             lambda r: EffectAtLeast(kind="effect_at_least", component="L8.H0", threshold=0.0).evaluate(
                 sweep_table(heads, SweepDesign(n_arms=12), r, labels)), "0 = threshold"),
        Case("effect_at_least: effect 0.3 SD above the threshold", "supported",
             lambda r: EffectAtLeast(kind="effect_at_least", component="L8.H0", threshold=0.0).evaluate(
                 sweep_table(heads + 0.3, SweepDesign(n_arms=12), r, labels)), "+0.3 SD"),
        Case("effect_at_least: effect 0.3 SD below the threshold", "refuted",
             lambda r: EffectAtLeast(kind="effect_at_least", component="L8.H0", threshold=0.3).evaluate(
                 sweep_table(heads, SweepDesign(n_arms=12), r, labels)), "-0.3 SD"),
    ]


def all_cases() -> list[Case]:
    """Every calibration case of every criterion family registered here."""
    cases = sweep_cases()
    for extra in EXTRA_CASES:
        cases += extra()
    return cases


EXTRA_CASES: list[Callable[[], list[Case]]] = []  # other criteria families add their case lists here

# Other criteria families. Their modules import Case from here, so each is imported only when its
# cases are built (no import cycle).
def _cases_of(module: str) -> Callable[[], list[Case]]:
    import importlib

    return lambda: importlib.import_module(module).cases()


EXTRA_CASES += [_cases_of("audit.calibration_steering"), _cases_of("audit.calibration_training")]
