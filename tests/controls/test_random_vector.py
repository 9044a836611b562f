"""The random-vector control: seeded, unit-norm, isotropic draws, applied like the real direction."""

import torch

from controls.random_vector import derived_seed, describe, random_directions


def test_unit_norm_and_shape():
    v = random_directions(42, 12, 32, 576)
    assert v.shape == (32, 576)
    assert torch.allclose(v.norm(dim=-1), torch.ones(32), atol=1e-5)


def test_seeded_and_distinct_per_seed_and_layer():
    a, b = random_directions(42, 12, 8, 64), random_directions(42, 12, 8, 64)
    assert torch.equal(a, b)
    assert not torch.allclose(a, random_directions(43, 12, 8, 64))
    assert not torch.allclose(a, random_directions(42, 13, 8, 64))
    assert derived_seed("random_vector", 1, 2) == derived_seed("random_vector", 1, 2)


def test_draws_are_nearly_orthogonal_to_any_fixed_direction():
    observed = torch.zeros(576)
    observed[0] = 1.0
    d = describe(random_directions(7, 3, 256, 576), observed)
    assert d["mean_abs_cos_with_observed"] < 0.08  # ~ sqrt(2 / (pi * 576)) = 0.033


def test_mean_of_many_draws_is_near_zero():
    v = random_directions(1, 0, 4000, 16)
    assert v.mean(0).norm() < 0.05
