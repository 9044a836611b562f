"""The shuffled-label control: the direction recomputed with positive/negative labels permuted.

Labels are permuted across the *pooled* positive + negative examples (set sizes kept), then the
difference of means is taken again. This is a permutation test of "the labels carry the
direction". Re-pairing positives with negatives and differencing the same two sets (the causal-atlas
study's bug) reproduces the target vector and tests nothing; ``shuffle_labels`` makes that
impossible: each draw is a random subset of the pool of the positive set's size.

Every shuffled direction is unit-normalised and applied exactly like the real one (same norm). If
directions made from meaningless labels move the behavior as much, the effect does not depend on
the contrast: the control refutes the claim.

Determinism: draw i of claim seed s at layer L uses ``random.Random("shuffled_label:s:L:i")``.
"""

from __future__ import annotations

import random

NAME = "shuffled_label"
DEFAULT_N = 32


def shuffle_labels(n_pos: int, n_neg: int, rng: random.Random) -> list[bool]:
    """A uniformly random relabelling of the pooled set: ``True`` marks the new positives (exactly
    ``n_pos`` of them), drawn from all ``n_pos + n_neg`` examples, not within pairs."""
    if n_pos < 1 or n_neg < 1:
        raise ValueError("the shuffled-label control needs at least one positive and one negative example")
    chosen = set(rng.sample(range(n_pos + n_neg), n_pos))
    return [i in chosen for i in range(n_pos + n_neg)]


def label_draws(n_pos: int, n_neg: int, seed: int, layer: int, n: int) -> list[list[bool]]:
    return [shuffle_labels(n_pos, n_neg, random.Random(f"{NAME}:{seed}:{layer}:{i}")) for i in range(n)]


def shuffled_directions(pos, neg, seed: int, layer: int, n: int):
    """[n, H] unit directions: difference of means under ``n`` seeded relabellings of the pool."""
    import torch

    pool = torch.cat([pos, neg]).float()
    out = []
    for labels in label_draws(len(pos), len(neg), seed, layer, n):
        m = torch.tensor(labels)
        d = pool[m].mean(0) - pool[~m].mean(0)
        norm = d.norm()
        if not bool(norm > 0):
            raise ValueError("a shuffled-label direction has zero norm (identical examples?)")
        out.append(d / norm)
    return torch.stack(out)


def describe(directions, observed, n_pos: int, n_neg: int, seed: int, layer: int) -> dict:
    """Diagnostics: the draws' |cos| with the observed direction and how many original positives
    each relabelling kept (about half for a real shuffle; all of them would be the study's bug)."""
    cos = (directions @ observed).abs()
    kept = [sum(lab[:n_pos]) / n_pos for lab in label_draws(n_pos, n_neg, seed, layer, directions.shape[0])]
    return {"n": int(directions.shape[0]), "mean_abs_cos_with_observed": float(cos.mean()),
            "max_abs_cos_with_observed": float(cos.max()), "mean_fraction_positives_kept": sum(kept) / len(kept)}
