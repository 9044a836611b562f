"""The hub criterion: planted effect tables, and monotonicity in the evidence (hypothesis)."""

from hypothesis import given, settings
from hypothesis import strategies as st

from audit.criteria.hub import HubAcceptance, evaluate_hub, is_strong
from audit.verdict import STRENGTH, Verdict

LAYERS = [0, 1, 2, 3]
FAMS = ["a", "b"]
SEEDS = [1, 2, 3]


def spec(layer=2, **kw):
    return HubAcceptance(kind="hub", layer=layer, **kw)


def table(per_layer, jitter=0.0):
    """effects[seed][family][layer] = per_layer[layer] (+ a small seed-dependent jitter)."""
    return [[[v + jitter * s * (l + 1) for l, v in enumerate(per_layer)] for _ in FAMS] for s in range(len(SEEDS))]


def test_clear_hub_is_supported_and_other_layer_is_refuted():
    t = table([0.1, 0.2, 2.0, 0.3], jitter=0.01)
    assert evaluate_hub(spec(2), t, LAYERS, FAMS, SEEDS).verdict is Verdict.SUPPORTED
    refuted = evaluate_hub(spec(1), t, LAYERS, FAMS, SEEDS)
    assert refuted.verdict is Verdict.REFUTED
    assert "layer 2" in refuted.reasons[0]


def test_flat_sweep_is_inconclusive_not_argmax():
    out = evaluate_hub(spec(0), table([0.6, 0.6, 0.6, 0.6]), LAYERS, FAMS, SEEDS)
    assert out.verdict is Verdict.INCONCLUSIVE
    assert "flat" in out.reasons[0]


def test_all_zero_sweep_is_inconclusive():
    assert evaluate_hub(spec(0), table([0.0] * 4), LAYERS, FAMS, SEEDS).verdict is Verdict.INCONCLUSIVE


def test_tie_with_runner_up_is_inconclusive():
    out = evaluate_hub(spec(2), table([0.1, 1.0, 1.01, 0.2]), LAYERS, FAMS, SEEDS)
    assert out.verdict is Verdict.INCONCLUSIVE
    assert "not separated from layer 1" in " ".join(out.reasons)


def test_margin_inside_seed_noise_is_inconclusive():
    # layer 2 beats layer 1 on average, but the seeds disagree wildly
    t = [[[0.1, 1.0, 2.0, 0.1]] * 2, [[0.1, 2.0, 1.0, 0.1]] * 2, [[0.1, 1.0, 2.1, 0.1]] * 2]
    out = evaluate_hub(spec(2), t, LAYERS, FAMS, SEEDS)
    assert out.verdict is Verdict.INCONCLUSIVE


def test_seed_disagreement_is_inconclusive_with_reason():
    t = [[[0.1, 1.0, 3.0, 0.1]] * 2, [[0.1, 1.0, 3.0, 0.1]] * 2, [[0.1, 3.2, 3.0, 0.1]] * 2]
    out = evaluate_hub(spec(2, noise_z=0.0), t, LAYERS, FAMS, SEEDS)
    assert out.verdict is Verdict.INCONCLUSIVE
    assert "seeds" in " ".join(out.reasons)


def test_min_effect_blocks_support():
    out = evaluate_hub(spec(2, min_effect=5.0), table([0.1, 0.2, 2.0, 0.3]), LAYERS, FAMS, SEEDS)
    assert out.verdict is Verdict.INCONCLUSIVE
    assert "min_effect" in " ".join(out.reasons)


def test_layer_missing_from_sweep_is_errored():
    assert evaluate_hub(spec(9), table([1, 2, 3, 4]), LAYERS, FAMS, SEEDS).verdict is Verdict.ERRORED


def test_family_agreement_counted():
    t = [[[0.1, 0.2, 2.0, 0.3], [0.1, 3.0, 2.0, 0.3]] for _ in SEEDS]
    out = evaluate_hub(spec(2, min_family_fraction=1.0, noise_z=0), t, LAYERS, FAMS, SEEDS)
    assert out.summary["family_agreement"] == 1
    assert out.verdict is Verdict.INCONCLUSIVE


def test_strength_needs_unanimous_seeds_and_wide_margin():
    out = evaluate_hub(spec(2), table([0.1, 0.2, 2.0, 0.3], jitter=0.01), LAYERS, FAMS, SEEDS)
    assert is_strong(out)


effects = st.lists(st.floats(0, 5, allow_nan=False), min_size=len(LAYERS), max_size=len(LAYERS))
seed_tables = st.lists(st.lists(effects, min_size=2, max_size=2), min_size=3, max_size=3)


@settings(max_examples=300, deadline=None)
@given(seed_tables, st.integers(0, 3), st.floats(0.0, 3.0), st.floats(0.0, 0.5), st.floats(0.0, 3.0))
def test_more_effect_at_claimed_layer_never_weakens_verdict(t, layer, delta, margin, z):
    s = spec(layer, min_margin_relative=margin, noise_z=z, min_effect=0.5)
    before = evaluate_hub(s, t, LAYERS, FAMS, SEEDS).verdict
    boosted = [[[v + (delta if i == layer else 0.0) for i, v in enumerate(fam)] for fam in seed] for seed in t]
    after = evaluate_hub(s, boosted, LAYERS, FAMS, SEEDS).verdict
    assert STRENGTH[after] >= STRENGTH[before]


@settings(max_examples=200, deadline=None)
@given(seed_tables, st.integers(0, 3), st.floats(0.0, 3.0))
def test_more_effect_elsewhere_never_strengthens_verdict(t, layer, delta):
    s = spec(layer)
    other = (layer + 1) % len(LAYERS)
    before = evaluate_hub(s, t, LAYERS, FAMS, SEEDS).verdict
    boosted = [[[v + (delta if i == other else 0.0) for i, v in enumerate(fam)] for fam in seed] for seed in t]
    assert STRENGTH[evaluate_hub(s, boosted, LAYERS, FAMS, SEEDS).verdict] <= STRENGTH[before]
