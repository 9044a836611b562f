"""The shuffled-label control permutes labels across the pooled set (not re-pairing), seeded."""

import random

import pytest
import torch
from hypothesis import given
from hypothesis import strategies as st

from controls.shuffled_label import describe, label_draws, shuffle_labels, shuffled_directions


@given(st.integers(1, 40), st.integers(1, 40), st.integers(0, 10_000))
def test_shuffle_keeps_set_sizes(n_pos, n_neg, seed):
    labels = shuffle_labels(n_pos, n_neg, random.Random(seed))
    assert len(labels) == n_pos + n_neg and sum(labels) == n_pos


def test_shuffles_mix_the_pool_about_half_and_half():
    draws = label_draws(16, 16, seed=42, layer=12, n=400)
    kept = [sum(d[:16]) / 16 for d in draws]
    assert 0.45 < sum(kept) / len(kept) < 0.55
    assert len({tuple(d) for d in draws}) > 390  # distinct relabellings


def test_seeded():
    assert label_draws(5, 7, 1, 2, 10) == label_draws(5, 7, 1, 2, 10)
    assert label_draws(5, 7, 1, 2, 10) != label_draws(5, 7, 2, 2, 10)


def test_shuffling_does_not_reproduce_the_target_vector():
    """The study re-paired positives with negatives and differenced the same two sets: that gives the
    target vector back. Permuting labels over the pool does not."""
    g = torch.Generator().manual_seed(0)
    target = torch.zeros(64)
    target[0] = 3.0
    pos = torch.randn(16, 64, generator=g) + target
    neg = torch.randn(16, 64, generator=g)
    observed = pos.mean(0) - neg.mean(0)
    observed = observed / observed.norm()
    repaired = pos[torch.randperm(16, generator=g)].mean(0) - neg.mean(0)  # the bug: same sets, new pairs
    assert torch.nn.functional.cosine_similarity(repaired, observed, dim=0) > 0.999
    d = describe(shuffled_directions(pos, neg, 42, 0, 64), observed, 16, 16, 42, 0)
    assert d["mean_abs_cos_with_observed"] < 0.5
    assert 0.35 < d["mean_fraction_positives_kept"] < 0.65


def test_unit_norm_and_errors():
    pos, neg = torch.randn(4, 8), torch.randn(5, 8)
    v = shuffled_directions(pos, neg, 1, 0, 6)
    assert v.shape == (6, 8) and torch.allclose(v.norm(dim=-1), torch.ones(6), atol=1e-5)
    with pytest.raises(ValueError):
        shuffle_labels(0, 3, random.Random(0))
    same = torch.ones(3, 8)
    with pytest.raises(ValueError):
        shuffled_directions(same, same, 1, 0, 2)
