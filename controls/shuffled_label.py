"""The shuffled-label control: the direction recomputed with positive/negative labels permuted.

Labels are permuted across the *pooled* positive + negative examples (set sizes kept), then the
difference of means is taken again. This is a permutation test of "the labels carry the
direction". Re-pairing positives with negatives and differencing the same two sets (the causal-atlas
study's bug) reproduces the target vector and tests nothing; ``shuffle_labels`` makes that
impossible: each draw is a random subset of the pool of the positive set's size.

The statistic is the un-normalised one. The real direction is applied as ``d / ||d||`` (unit);
every shuffled difference of means ``d_i`` is divided by the *real* direction's norm ``||d||``,
not its own, so all of them are the raw statistic under one common scale. A relabelling that
keeps most labels gives a near-copy of the real direction (|cos| up to 0.99) but a shorter one,
and a relabelling that destroys the label structure gives what is left of the pool's spread: the
null's magnitude reflects how much label structure it keeps. (Unit-normalising every draw would
put near-copies of the real direction into the null at full strength.) Under "the labels do not
matter" the real difference is exchangeable with the shuffled ones, so the test is exact.

Determinism: draw i of claim seed s at layer L uses ``random.Random("shuffled_label:s:L:i")``.
"""

from __future__ import annotations

import random

NAME = "shuffled_label"
DEFAULT_N = 199  # the smallest attainable p is 1 / (N + 1) = 0.005


def shuffle_labels(n_pos: int, n_neg: int, rng: random.Random) -> list[bool]:
    """A uniformly random relabelling of the pooled set: ``True`` marks the new positives (exactly
    ``n_pos`` of them), drawn from all ``n_pos + n_neg`` examples, not within pairs."""
    if n_pos < 1 or n_neg < 1:
        raise ValueError("the shuffled-label control needs at least one positive and one negative example")
    chosen = set(rng.sample(range(n_pos + n_neg), n_pos))
    return [i in chosen for i in range(n_pos + n_neg)]


def label_draws(n_pos: int, n_neg: int, seed: int, layer: int, n: int) -> list[list[bool]]:
    return [shuffle_labels(n_pos, n_neg, random.Random(f"{NAME}:{seed}:{layer}:{i}")) for i in range(n)]


def shuffled_differences(pos, neg, seed: int, layer: int, n: int):
    """[n, H] raw differences of means under ``n`` seeded relabellings of the pool (one batch)."""
    import torch

    pool = torch.cat([pos, neg]).float()
    masks = torch.tensor(label_draws(len(pos), len(neg), seed, layer, n), dtype=pool.dtype)  # [n, E]
    return masks @ pool / len(pos) - (1 - masks) @ pool / len(neg)


def shuffled_directions(pos, neg, seed: int, layer: int, n: int, relative_to: float | None = None):
    """[n, H] shuffled-label directions, applied like the real one.

    ``relative_to``: the real direction's raw norm ``||mean(pos) - mean(neg)||``; every draw is
    divided by it (the un-normalised statistic: the steering control passes it). ``None``: each draw
    is unit-normalised (its own norm), kept for diagnostics and comparisons only.
    """
    import torch

    d = shuffled_differences(pos, neg, seed, layer, n)
    norms = d.norm(dim=-1, keepdim=True)
    if not bool(torch.all(norms > 0)):
        raise ValueError("a shuffled-label direction has zero norm (identical examples?)")
    if relative_to is None:
        return d / norms
    if not relative_to > 0:
        raise ValueError("the real direction's norm must be positive")
    return d / float(relative_to)


def describe(directions, observed, n_pos: int, n_neg: int, seed: int, layer: int) -> dict:
    """Diagnostics: the draws' |cos| with the observed direction (max, median, mean), their norm
    relative to the observed direction's, and how many original positives each relabelling kept
    (about half for a real shuffle; all of them would be the study's bug)."""
    import torch

    norms = directions.norm(dim=-1)
    cos = (directions @ observed).abs() / (norms * observed.norm())
    ratio = norms / observed.norm()
    kept = [sum(lab[:n_pos]) / n_pos for lab in label_draws(n_pos, n_neg, seed, layer, directions.shape[0])]
    return {"n": int(directions.shape[0]), "mean_abs_cos_with_observed": float(cos.mean()),
            "median_abs_cos_with_observed": float(torch.median(cos)), "max_abs_cos_with_observed": float(cos.max()),
            "median_norm_ratio": float(torch.median(ratio)), "max_norm_ratio": float(ratio.max()),
            "mean_fraction_positives_kept": sum(kept) / len(kept)}
