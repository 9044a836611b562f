"""The shared prompt-level statistics: estimates, bootstrap, max-T intervals, decisions, degeneracy."""

import numpy as np
import pytest
from hypothesis import assume, given, settings
from hypothesis import strategies as st

from audit.calibration import SweepDesign, sweep_table
from audit.inference import (INCONCLUSIVE, REFUTED, SUPPORTED, PromptTable, binomial_ci, decide, degenerate,
                             empirical_p, pairwise_contrasts, sign_flip_p, simultaneous_ci, single_ci, strength)


def small_table(values, families=None, seeds=None, units=None, resample="prompts"):
    v = np.asarray(values, dtype=float)
    n = v.shape[0]
    return PromptTable(v, tuple(range(v.shape[1])), tuple(families or ["a"] * n),
                       tuple(units or [f"p{i}" for i in range(n)]), tuple(seeds or [1] * n), resample)


def test_estimate_is_the_mean_of_family_means_and_matches_seed_means():
    t = small_table([[1.0], [3.0], [10.0]], families=["a", "a", "b"])
    assert t.estimate()[0] == pytest.approx((2.0 + 10.0) / 2)
    design = SweepDesign(n_arms=3, families=3, pool=10, k=4)
    t = sweep_table([1.0, 2.0, 3.0], design, np.random.default_rng(0))
    assert t.estimate() == pytest.approx(np.mean(list(t.per_seed().values()), axis=0))


def test_a_prompt_drawn_by_two_seeds_is_one_unit_in_the_bootstrap():
    """Rows sharing a unit id move together: with one unit per family the spread is zero."""
    t = small_table([[1.0], [1.0], [5.0], [5.0]], families=["a", "a", "b", "b"], seeds=[1, 2, 1, 2],
                    units=["x", "x", "y", "y"])
    assert np.ptp(t.replicates(200)) == 0


def test_seeds_as_units_carry_the_seed_level_variance():
    """Three seeds that trained different models: the interval is a t over three seed estimates,
    far wider than a prompt bootstrap that would treat 60 rows as 60 independent units."""
    rng = np.random.default_rng(0)
    rows, fam, seeds, units = [], [], [], []
    for s in range(3):
        shift = [0.0, 2.0, -2.0][s]          # each seed trained a different model
        for p in range(20):
            rows.append([shift + rng.normal(0, 0.1)])
            fam.append("a"), seeds.append(s), units.append(f"p{p}")
    flat = single_ci(small_table(rows, fam, seeds, units, "prompts")).row(0)
    nested = simultaneous_ci(small_table(rows, fam, seeds, units, "seeds"), np.eye(1), ["m"])
    per_seed = np.array([0.0, 2.0, -2.0])
    assert nested.high[0] - nested.low[0] > 5 * (flat["high"] - flat["low"])
    # exactly Student t with 2 df on the three seed means
    means = np.array([np.mean([r[0] for r, x in zip(rows, seeds) if x == s]) for s in range(3)])
    assert np.allclose(means, per_seed, atol=0.1)
    half = 4.302653 * means.std(ddof=1) / np.sqrt(3)
    assert nested.high[0] - nested.point[0] == pytest.approx(half, rel=1e-4)


def test_one_seed_of_a_trained_model_gives_an_undefined_interval():
    t = small_table([[1.0], [2.0], [3.0]], resample="seeds")
    iv = simultaneous_ci(t, np.eye(1), ["m"])
    assert not iv.defined[0] and "one seed" in iv.method


def test_studentised_se_matches_the_textbook_standard_error():
    """No clusters, one family: the linearised SE is s / sqrt(n)."""
    x = np.array([[1.0], [4.0], [2.0], [8.0], [5.0]])
    est, var = small_table(x).moments(np.eye(1))
    assert est[0, 0] == pytest.approx(4.0)
    assert np.sqrt(var[0, 0]) == pytest.approx(x.std(ddof=1) / np.sqrt(5))


def test_same_table_same_interval_deterministic():
    t = sweep_table([1.0, 1.5], SweepDesign(n_arms=2, families=2, pool=10, k=5), np.random.default_rng(3))
    a = single_ci(t, 1).row(0)
    b = single_ci(sweep_table([1.0, 1.5], SweepDesign(n_arms=2, families=2, pool=10, k=5),
                              np.random.default_rng(3)), 1).row(0)
    assert a == b


def test_max_t_intervals_widen_with_the_number_of_comparisons():
    t = sweep_table(np.zeros(20), SweepDesign(n_arms=20, families=4, pool=20, k=10), np.random.default_rng(1))
    one = simultaneous_ci(t, pairwise_contrasts(20, [(0, 1)]), ["0-1"])
    many = simultaneous_ci(t, pairwise_contrasts(20, [(0, j) for j in range(1, 20)]), [str(j) for j in range(19)])
    assert many.critical > one.critical + 0.5
    assert (many.high[0] - many.low[0]) > (one.high[0] - one.low[0])


def test_interval_coverage_on_simulated_data():
    """95% intervals of a mean difference cover the planted truth in about 95% of draws."""
    design = SweepDesign(n_arms=2, families=4, pool=30, k=15, seeds=(1, 2))
    rng = np.random.default_rng(2024)
    covered = 0
    n = 120
    for _ in range(n):
        t = sweep_table([0.0, 0.4], design, rng)
        iv = simultaneous_ci(t, pairwise_contrasts(2, [(1, 0)]), ["d"], n_boot=600)
        covered += iv.low[0] <= 0.4 <= iv.high[0]
    assert 0.88 <= covered / n <= 1.0


@settings(max_examples=40, deadline=None)
@given(low=st.floats(-5, 5), width=st.floats(0, 5), margin=st.floats(0, 2), shift=st.floats(0, 3))
def test_decide_is_monotone_in_the_evidence(low, width, margin, shift):
    order = {REFUTED: 0, INCONCLUSIVE: 1, SUPPORTED: 2}
    before = decide(low, low + width, margin, 0.0)
    after = decide(low + shift, low + width + shift, margin, 0.0)
    assert order[after] >= order[before]


@settings(max_examples=40, deadline=None)
@given(low=st.floats(-5, 5), width=st.floats(0, 5), margin=st.floats(0, 2))
def test_strong_verdicts_survive_an_interval_twice_as_wide(low, width, margin):
    verdict = decide(low, low + width, margin, 0.0)
    mid = low + width / 2
    assume(abs(mid - width - margin) > 1e-9)    # a bound exactly on the threshold is a float-rounding coin toss
    if strength(verdict, low, low + width, margin, 0.0):
        assert decide(mid - width, mid + width, margin, 0.0) == verdict


def test_not_significant_is_never_refuted():
    assert decide(-0.1, 0.5, 0.2, 0.0) == INCONCLUSIVE
    assert decide(0.05, 0.1, 0.2, 0.0) == INCONCLUSIVE    # above 0 but inside the margin: a tie, not a finding


@settings(max_examples=30, deadline=None)
@given(value=st.floats(-3, 3), rows=st.integers(2, 10), arms=st.integers(1, 5))
def test_degeneracy_detects_constant_evidence(value, rows, arms):
    reasons = degenerate(np.full((rows, arms), value))
    assert any("zero variance" in r for r in reasons)


def test_degeneracy_ceiling_floor_tie_noise_and_nonfinite():
    assert any("ceiling" in r for r in degenerate(np.ones((5, 3)), bounds=(0, 1)))
    assert any("floor" in r for r in degenerate(np.zeros((5, 3)), bounds=(0, 1)))
    mixed = np.array([[0, 1], [1, 1], [1, 0]], dtype=float)
    assert degenerate(mixed, bounds=(0, 1)) == []
    assert any("tie" in r for r in degenerate(np.array([[1.0, 1.001], [2.0, 2.0]]), equivalence=0.01))
    assert any("below noise" in r for r in degenerate(np.array([[1e-5, 2e-5], [3e-5, 1e-5]]), noise_floor=1e-3))
    assert "undefined" in degenerate(np.array([[np.nan, 1.0]]))[0]
    assert degenerate(np.array([[0.2, 0.9], [0.4, 0.1]])) == []


def test_exact_tests_from_scipy():
    assert sign_flip_p([0.0, 0.0, 0.0]) == 1.0
    assert sign_flip_p([1.0] * 10) < 0.01
    lo, hi = binomial_ci(10, 10)
    assert hi == 1.0 and 0.6 < lo < 0.75
    assert empirical_p(5.0, list(range(199))) == pytest.approx(195 / 200)
    assert empirical_p(1e9, list(range(199))) == pytest.approx(1 / 200)


def test_seed_intervals_cover_when_adapters_vary_by_seed():
    """Three seeds, each with its own model offset (SD 0.3) on top of prompt noise: the t interval
    over seeds covers the true mean at its nominal rate; a prompt bootstrap would not."""
    rng = np.random.default_rng(11)
    covered, n = 0, 400
    for _ in range(n):
        rows, seeds, units = [], [], []
        for s in range(3):
            offset = rng.normal(0, 0.3)
            for p in range(12):
                rows.append([offset + rng.normal(0, 0.3)])
                seeds.append(s), units.append(f"p{p}")
        iv = simultaneous_ci(small_table(rows, None, seeds, units, "seeds"), np.eye(1), ["m"])
        covered += iv.low[0] <= 0.0 <= iv.high[0]
    assert 0.92 <= covered / n <= 0.98


def test_a_sparse_binary_contrast_keeps_every_interval_finite():
    """Two of 36 prompts at 1, the rest 0: many replicates draw only zeros (no spread of their
    own); the max-T critical value must stay finite for this and every contrast beside it."""
    rng = np.random.default_rng(5)
    n = 36
    sparse = np.zeros(n)
    sparse[[3, 20]] = 1.0
    values = np.column_stack([sparse, rng.normal(0.7, 0.05, n)])
    fam = [f"f{i % 12}" for i in range(n)]
    iv = simultaneous_ci(small_table(values, fam), np.eye(2), ["sparse", "dense"])
    assert np.isfinite(iv.critical) and np.isfinite(iv.low).all() and np.isfinite(iv.high).all()
    assert iv.high[1] - iv.low[1] < 0.2  # the dense contrast is not ruined by the sparse one


def test_rounding_level_changes_of_the_evidence_move_the_interval_by_as_little():
    """The bootstrap draws come from the table's design, not its values: evidence recomputed on
    another CPU (float32 rounding, ~1e-6 relative) gives the same resamples, so the interval moves
    continuously — not by a fresh Monte Carlo error of a few percent of its width."""
    rng = np.random.default_rng(7)
    v = rng.normal(0.3, 1.0, size=(60, 2))
    families = ["a"] * 30 + ["b"] * 30
    before = simultaneous_ci(small_table(v, families), np.array([[1.0, -1.0]]), ["d"]).row(0)
    after = simultaneous_ci(small_table(v * (1 + 1e-6), families), np.array([[1.0, -1.0]]), ["d"]).row(0)
    width = before["high"] - before["low"]
    assert abs(after["low"] - before["low"]) < 1e-4 * width and abs(after["high"] - before["high"]) < 1e-4 * width
    other = simultaneous_ci(small_table(v[::-1].copy(), families), np.array([[1.0, -1.0]]), ["d"]).row(0)
    assert other != before  # different evidence is still judged on its own values
