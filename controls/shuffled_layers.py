"""The shuffled-label control of a causal-drift claim (``quantization_drift``): the layer labels shuffled.

For each mode and seed, the Spearman correlation of the mode's per-layer effect vector (the seed's
mean over its prompts) with the reference mode's is set against its null under random permutations
of the reference's layer labels: ``n`` (``controls.shuffled_label.n``) permutations per seed from
``random.Random("shuffled_label:layers:<seed>:<mode>")``. The seeds pool as in every null control
(:func:`audit.criteria.steering.judge_control`: the statistic is the seed mean, the i-th pooled draw
the seed mean of the i-th draws): passed when p <= 0.05 (the mode keeps the reference's layer
ordering beyond chance), refuted inside the null's bulk (no more alike than a sweep with its layers
shuffled), inconclusive otherwise. Beside it, whether the mode's top layer is the reference's, seed
by seed, against the chance 1 / n_layers of a shuffled sweep (binomial p over the seeds).

Undefined, never a finding: fewer than 3 layers (two layers have two rank orders), a constant effect
vector in any seed (Spearman has no ranks), a tie at the top (no top layer to match).

Reported beside the verdict, not judged: the criterion asks for Spearman >= ``min_spearman``; the
control says whether the correlation exceeds what layer labels alone give. Pure: numpy and scipy.
"""

from __future__ import annotations

import random

import numpy as np

NAME = "shuffled_label"
MIN_LAYERS = 3
STATUS_WORDS = {"passed": "keeps the reference's layer ordering beyond shuffled layers",
                "refuted": "no more like the reference than a sweep with its layers shuffled",
                "inconclusive": "not shown beyond shuffled layers"}


def permutations(n_layers: int, seed: int, mode: str, n: int) -> np.ndarray:
    """``[n, n_layers]`` seeded permutations of the layer labels."""
    rng = random.Random(f"{NAME}:layers:{seed}:{mode}")
    return np.array([rng.sample(range(n_layers), n_layers) for _ in range(n)], dtype=int)


def undefined(mode: str, why: str) -> dict:
    from audit.inference import INCONCLUSIVE

    return {"control": NAME, "mode": mode, "status": INCONCLUSIVE, "undefined": True, "strong": False,
            "reason": f"{NAME} {mode}: undefined: {why}", "meaning": f"undefined: {why}"}


def top_match(reference: np.ndarray, effects: np.ndarray, seeds: list[int]) -> dict:
    """Per seed whether the mode's top layer is the reference's (None on a tie at the top of
    either); the binomial p of that many matches at chance 1 / n_layers."""
    from scipy.stats import binom

    def top(v: np.ndarray):
        best = np.flatnonzero(v == v.max())
        return int(best[0]) if best.size == 1 else None

    per_seed = {}
    for s, r, e in zip(seeds, reference, effects):
        a, b = top(r), top(e)
        per_seed[str(s)] = None if a is None or b is None else a == b
    decided = [m for m in per_seed.values() if m is not None]
    chance = 1.0 / reference.shape[1]
    k = sum(decided)
    return {"per_seed": per_seed, "matches": k, "seeds_decided": len(decided), "chance": chance,
            "p": float(binom.sf(k - 1, len(decided), chance)) if decided else None}


def mode_record(reference, effects, seeds: list[int], mode: str, n: int) -> dict:
    """The control of one mode: ``reference[seed][layer]`` and ``effects[seed][layer]`` (seed means)."""
    from audit.criteria.deployment import _spearman_rows
    from audit.criteria.steering import judge_control
    from audit.inference import ALPHA

    ref, eff = np.asarray(reference, dtype=float), np.asarray(effects, dtype=float)
    if ref.shape != eff.shape or ref.shape[0] != len(seeds):
        raise ValueError(f"{NAME} {mode}: need one effect vector per seed and layer for both modes "
                         f"(got {ref.shape} and {eff.shape} for {len(seeds)} seeds)")
    n_layers = ref.shape[1]
    if n_layers < MIN_LAYERS:
        return undefined(mode, f"{n_layers} swept layer(s): a rank correlation needs at least {MIN_LAYERS}")
    flat = [f"{which} in seed {s}" for s, r, e in zip(seeds, ref, eff)
            for which, v in (("the reference's sweep", r), (f"{mode}'s sweep", e)) if np.ptp(v) == 0]
    if flat:
        return undefined(mode, f"a constant effect vector has no ranks ({', '.join(flat)})")
    observed = _spearman_rows(ref, eff)
    nulls = [_spearman_rows(r[permutations(n_layers, s, mode, n)], np.broadcast_to(e, (n, n_layers)))
             for s, r, e in zip(seeds, ref, eff)]
    test = judge_control(NAME, list(observed), [list(x) for x in nulls], ALPHA)
    return {**test, "mode": mode, "n_layers": n_layers, "null_per_seed": [[float(x) for x in row] for row in nulls],
            "top": top_match(ref, eff, seeds), "meaning": STATUS_WORDS.get(test["status"], test["status"])}


def run(per_seed_layer_effects: dict, reference: str, modes: list[str], seeds: list[int], n: int) -> dict:
    """``{mode: record}`` from the evidence's ``per_seed_layer_effects[mode][seed][layer]``."""
    return {m: mode_record(per_seed_layer_effects[reference], per_seed_layer_effects[m], seeds, m, n) for m in modes}


def note(records: dict) -> list[str]:
    """One reason line per mode for the outcome."""
    out = []
    for mode, r in records.items():
        top = r.get("top")
        tops = (f"; top layer kept in {top['matches']} of {top['seeds_decided']} seeds (chance {top['chance']:.3g}, "
                f"p = {top['p']:.3g})") if top and top["p"] is not None else ""
        out.append(f"{NAME} (reported, not judged) {mode}: {r['meaning']} — {r['reason']}{tops}")
    return out
