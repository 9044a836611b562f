"""Planted truths of quantization_drift's shuffled_label control (controls/shuffled_layers.py): a mode
whose sweep copies the reference's beats shuffled layer labels; independent sweeps are null-like; a
flat sweep is undefined, never a finding."""

import numpy as np
import pytest

from controls.shuffled_layers import mode_record, permutations

SEEDS = [1, 2, 3]


def sweeps(seed: int, layers: int = 8):
    return np.random.default_rng(seed).normal(size=(len(SEEDS), layers))


def test_a_mode_that_keeps_the_reference_sweep_passes():
    ref = sweeps(0)
    kept = ref + 1e-3 * np.random.default_rng(1).normal(size=ref.shape)
    r = mode_record(ref, kept, SEEDS, "bfloat16", 199)
    assert r["status"] == "passed" and r["p"] == pytest.approx(1 / 200), r["reason"]
    assert r["observed"] > 0.99 and abs(r["median"]) < 0.2
    assert r["top"]["matches"] == 3 and r["top"]["chance"] == 1 / 8 and r["top"]["p"] == pytest.approx((1 / 8) ** 3)


def test_independent_sweeps_are_null_like():
    ref = sweeps(0)
    rs = [mode_record(ref, sweeps(100 + i), SEEDS, "nf4", 199) for i in range(40)]
    ps = np.array([r["p"] for r in rs])
    assert (ps <= 0.05).mean() <= 0.15 and 0.3 < ps.mean() < 0.7, ps
    assert all(abs(r["median"]) < 0.15 for r in rs)
    assert np.mean([r["top"]["matches"] for r in rs]) < 1.0  # 3 seeds at chance 1/8: 0.375 expected


def test_a_reversed_sweep_is_inside_the_null_bulk():
    ref = sweeps(0)
    r = mode_record(ref, -ref, SEEDS, "nf4", 199)
    assert r["status"] == "refuted" and r["observed"] == pytest.approx(-1.0) and r["p"] == 1.0


@pytest.mark.parametrize("which", ["mode", "reference"])
def test_a_flat_sweep_is_undefined_never_a_finding(which):
    ref, mode = sweeps(0), sweeps(5)
    if which == "mode":
        mode[1] = 0.25  # every layer the same effect in seed 2
    else:
        ref[0] = 0.0
    r = mode_record(ref, mode, SEEDS, "int8", 199)
    assert r["status"] == "inconclusive" and r["undefined"] and "constant effect vector" in r["reason"]
    assert "p" not in r and "null_per_seed" not in r


def test_two_layers_are_undefined():
    r = mode_record(sweeps(0, 2), sweeps(1, 2), SEEDS, "int8", 199)
    assert r["undefined"] and "at least 3" in r["reason"]


def test_a_tie_at_the_top_leaves_the_top_match_undecided():
    ref, mode = sweeps(0), sweeps(0)
    mode[0, :2] = mode[0].max() + 1  # seed 1: two layers share the top
    r = mode_record(ref, mode, SEEDS, "int8", 199)
    assert r["top"]["per_seed"]["1"] is None and r["top"]["seeds_decided"] == 2


def test_permutations_are_seeded_and_differ_by_seed_and_mode():
    a = permutations(8, 1, "nf4", 50)
    assert (a == permutations(8, 1, "nf4", 50)).all()
    assert not (a == permutations(8, 2, "nf4", 50)).all() and not (a == permutations(8, 1, "int8", 50)).all()
    assert all(sorted(row) == list(range(8)) for row in a)


def test_mismatched_shapes_are_a_clear_error():
    with pytest.raises(ValueError, match="one effect vector per seed and layer"):
        mode_record(sweeps(0), sweeps(0, 6), SEEDS, "nf4", 9)
