"""Deployment criteria (layer skipping, quantization, causal drift) on synthetic per-prompt evidence
with planted truths: pure, with nulls (ties, floors, undefined statistics, timing noise) that must
be inconclusive and wrong claims that must be refuted."""

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from pydantic import ValidationError

from audit.criteria.deployment import (FAIL, PASS, UNCERTAIN, CausalDrift, QuantPractical, SkipNotFree, combine,
                                       compute_ratio, implausible, make_check, repeat_interval, speed_check)
from audit.evidence_models.judged import DriftSweeps, PrecisionModes, SkipRuns
from audit.verdict import STRENGTH, Verdict

FAMILIES = ("a", "b", "c")


def samples(seeds=(1, 2), pool: int = 30, k: int = 12) -> dict:
    """Each seed draws k of a family's pool prompts (seeds overlap, as in the suite)."""
    return {str(s): {f: sorted(f"{f}-{i:02d}" for i in np.random.default_rng(s * 7 + j).choice(pool, k, replace=False))
                     for j, f in enumerate(FAMILIES)} for s in seeds}


def prompt_ids(smp: dict) -> list[str]:
    return sorted({p for fam in smp.values() for ids in fam.values() for p in ids})


def test_statuses_and_combinations():
    ok = make_check("q", 0.95, 0.99, 0.9)
    bad = make_check("q", 0.1, 0.3, 0.9)
    unsure = make_check("q", 0.85, 0.95, 0.9)
    assert (ok["status"], bad["status"], unsure["status"]) == (PASS, FAIL, UNCERTAIN)
    assert make_check("kl", 0.01, 0.05, 0.1, above=False)["status"] == PASS
    assert make_check("q", 0.95, 0.99, 0.9, degenerate_reasons=["floor"])["status"] == UNCERTAIN
    assert combine("x", [ok, bad])["status"] == FAIL and combine("x", [ok, unsure])["status"] == UNCERTAIN
    assert combine("x", [ok, ok], negate=True)["status"] == FAIL and combine("x", [bad, unsure], negate=True)["status"] == PASS
    low, high, method = repeat_interval([1.2, 1.1, 1.3, 1.25, 1.15])
    assert (low, high) == (1.1, 1.3) and "93.8%" in method


def test_a_speedup_beyond_the_compute_ratio_is_implausible_timing():
    # the shipped SmolLM2 run: 3.1-3.5x from removing 3 of 30 layers (compute ratio 1.11x)
    assert compute_ratio(30, 3) == 30 / 27 and compute_ratio(30, 15) == 2.0
    assert implausible([1.3, 1.38], compute_ratio(30, 3), 1.25) is None
    why = implausible([3.1, 3.5], compute_ratio(30, 3), 1.25)
    assert why.startswith("implausible timing (3.5x exceeds compute ratio 1.11x") and why.endswith("noisy machine")
    assert speed_check("s", [3.1, 3.5], 1.05, why)["status"] == UNCERTAIN
    assert speed_check("s", [3.1, 3.5], 1.05)["status"] == PASS and speed_check("s", [1.0, 1.2], 1.05)["status"] == UNCERTAIN


SKIP = SkipNotFree(kind="skip_not_free")
N_LAYERS = 100  # with 80 skipped (compute ratio 5) every generated speedup below is plausible


def config(overlap, agreement, speedups, smp=None, n_skipped=80, name="c", sd=0.05):
    """Per-prompt top-5 overlap around ``overlap`` (clipped to [0, 1]) and greedy agreement 0/1 with
    probability ``agreement``."""
    smp = smp or samples()
    rng = np.random.default_rng(3)
    per_prompt = {p: {"top5_overlap": float(np.clip(overlap + rng.normal(0, sd), 0, 1)) if 0 < overlap < 1
                      else float(overlap), "greedy_agreement": float(rng.random() < agreement)}
                  for p in prompt_ids(smp)}
    return {"name": name, "n_skipped": n_skipped, "speedups": speedups, "per_prompt": per_prompt}


def skip(*configs, n_layers=N_LAYERS, smp=None):
    return SKIP.evaluate(SkipRuns(configs=list(configs), n_layers=n_layers, samples=smp or samples()))


def test_skip_verdicts():
    broken = skip(config(0.3, 0.0, [1.5, 1.6]))
    assert broken.verdict is Verdict.SUPPORTED, broken.reasons
    free = skip(config(1.0, 1.0, [1.5, 1.6]))  # identical outputs on all ~60 prompts: the exact bound clears 0.9
    assert free.verdict is Verdict.REFUTED and "free speedup" in free.reasons[0]
    assert skip(config(1.0, 1.0, [1.0, 1.01])).verdict is Verdict.SUPPORTED  # faithful, not faster
    assert skip(config(1.0, 1.0, [1.0, 1.2])).verdict is Verdict.INCONCLUSIVE  # timing noise
    assert skip(config(0.9, 0.9, [1.5, 1.6])).verdict is Verdict.INCONCLUSIVE  # quality at the threshold
    assert skip().verdict is Verdict.INCONCLUSIVE
    checks = free.summary["checks"][0]
    assert checks["parts"][0]["parts"][0]["method"].startswith("no spread")  # the exact bound, stated
    assert isinstance(free.summary["strong"], bool) and free.summary["config_status"] == {"c": FAIL}


def test_too_few_identical_prompts_cannot_show_faithfulness():
    few = samples(pool=4, k=3)  # 12 distinct prompts: 12 of 12 identical does not exclude < 0.9
    assert skip(config(1.0, 1.0, [1.5, 1.6], smp=few), smp=few).verdict is Verdict.INCONCLUSIVE


def test_implausible_timing_is_never_a_free_speedup():
    noisy = skip(config(1.0, 1.0, [3.1, 3.5], n_skipped=3), n_layers=30)
    assert noisy.verdict is Verdict.INCONCLUSIVE and "implausible timing" in noisy.reasons[0]
    assert noisy.summary["implausible_timing"] == {"c": implausible([3.1, 3.5], compute_ratio(30, 3), 1.25)}
    assert skip(config(1.0, 1.0, [3.1, 3.5], n_skipped=20), n_layers=30).verdict is Verdict.REFUTED
    broken = skip(config(0.0, 0.0, [3.1, 3.5], n_skipped=3), n_layers=30)
    assert broken.verdict is Verdict.SUPPORTED  # broken outputs are not free whatever the clock says


unit = st.floats(0.0, 1.0)
ratio = st.floats(0.2, 3.0)


@settings(max_examples=25, deadline=None)
@given(unit, unit, st.lists(ratio, min_size=1, max_size=4), unit, st.floats(0.0, 1.0))
def test_skip_claim_never_gains_when_skipping_looks_better(overlap, agreement, speeds, bump, speed_bump):
    """The claim is negative: better-preserved outputs or more speed never move it towards supported."""
    before = skip(config(overlap, agreement, speeds)).verdict
    after = skip(config(min(1.0, overlap + bump), min(1.0, agreement + bump), [s + speed_bump for s in speeds])).verdict
    assert STRENGTH[after] <= STRENGTH[before]


QUANT = QuantPractical(kind="quant_practical", candidate="nf4", baseline="bfloat16", min_speed_ratio=0.85,
                       beats=["int8"], max_memory_ratio=0.75, max_exact_match_drop=0.05, max_kl=0.1)


def modes(speed, vs_int8, mem, em_drop, kl, smp, ref_em=0.5):
    """float32 answers right where a prompt's difficulty u < ref_em; nf4 loses the ``em_drop`` hardest of those."""
    rng = np.random.default_rng(5)
    u = {p: rng.random() for p in prompt_ids(smp)}
    ref = {p: {"exact_match": float(x < ref_em), "kl": 0.0} for p, x in u.items()}
    cand = {p: {"exact_match": float(x < ref_em - em_drop), "kl": float(kl * rng.uniform(0.5, 1.5))} for p, x in u.items()}
    return {"float32": {"memory_mb": 500.0, "speed_ratios": {}, "per_prompt": ref},
            "bfloat16": {"memory_mb": 250.0, "speed_ratios": {}, "per_prompt": ref},
            "int8": {"memory_mb": 200.0, "speed_ratios": {}, "per_prompt": ref},
            "nf4": {"memory_mb": mem, "speed_ratios": {"bfloat16": speed, "int8": vs_int8}, "per_prompt": cand}}


def quant(*args, smp=None, **kw):
    smp = smp or samples(pool=40, k=30)
    return QUANT.evaluate(PrecisionModes(modes=modes(*args, smp=smp, **kw), reference="float32", samples=smp))


def test_quant_verdicts_name_the_failing_check():
    good = quant([0.9, 0.95], [1.8, 1.9], 150.0, 0.0, 0.02)
    assert good.verdict is Verdict.SUPPORTED, good.reasons
    slow = quant([0.4, 0.5], [1.8, 1.9], 150.0, 0.0, 0.02)
    assert slow.verdict is Verdict.REFUTED and slow.reasons[0].startswith("speed vs bfloat16")
    assert quant([0.8, 0.9], [1.8, 1.9], 150.0, 0.0, 0.02).verdict is Verdict.INCONCLUSIVE  # straddles 0.85
    drifted = quant([0.9, 0.95], [1.8, 1.9], 150.0, 0.3, 0.5)
    assert drifted.verdict is Verdict.REFUTED and len(drifted.reasons) == 2
    assert {c["check"]: c["status"] for c in drifted.summary["checks"]}["KL to float32"] == FAIL


def test_quant_exact_match_at_the_floor_cannot_discriminate():
    floor = quant([0.9, 0.95], [1.8, 1.9], 150.0, 0.0, 0.02, ref_em=0.0)
    assert floor.verdict is Verdict.INCONCLUSIVE
    em = [c for c in floor.summary["checks"] if c["check"].startswith("exact-match drop")][0]
    assert em["status"] == UNCERTAIN and any("floor" in r for r in em["degenerate"])


@settings(max_examples=25, deadline=None)
@given(st.lists(ratio, min_size=1, max_size=3), st.floats(50, 400), st.floats(0, 0.3), st.floats(0, 0.5),
       st.floats(0, 1), st.floats(0, 100))
def test_quant_claim_never_loses_when_the_candidate_gets_better(speed, mem, drop, kl, up, mem_down):
    before = quant(speed, [1.5], mem, drop, kl).verdict
    # (KL stays > 0: a KL of exactly 0 on every prompt has no spread and, unbounded above, no exact
    # bound either — that evidence is degenerate, see the next test)
    after = quant([s + up for s in speed], [1.5 + up], max(1.0, mem - mem_down), max(0.0, drop - up / 3),
                  max(1e-3, kl - up)).verdict
    assert STRENGTH[after] >= STRENGTH[before]


def test_a_kl_of_zero_on_every_prompt_is_degenerate_not_a_pass():
    same = quant([0.9, 0.95], [1.8, 1.9], 150.0, 0.0, 0.0)
    kl = [c for c in same.summary["checks"] if c["check"] == "KL to float32"][0]
    assert same.verdict is Verdict.INCONCLUSIVE and kl["status"] == UNCERTAIN and "zero variance" in kl["degenerate"][0]


DRIFT = CausalDrift(kind="causal_drift", min_spearman=0.9, magnitude_ratio=(0.8, 1.25))
LAYERS = list(range(8))


def drift_evidence(ref_means, mode_means: dict, smp, sd=0.05):
    """Per-prompt, per-layer effects: the layer's mean plus a prompt effect shared by every mode."""
    rng = np.random.default_rng(9)
    out = {"float32": {}, **{m: {} for m in mode_means}}
    for p in prompt_ids(smp):
        shared = rng.normal(0, sd, len(ref_means))
        out["float32"][p] = list(np.asarray(ref_means) + shared)
        for m, means in mode_means.items():
            out[m][p] = list(np.asarray(means) + shared + rng.normal(0, sd / 5, len(means)))
    return out


REF = [0.1, 0.2, 3.0, 0.4, 0.5, 0.6, 0.7, 0.8]


def drift(mode_means: dict, ref=REF, smp=None):
    smp = smp or samples()
    return DRIFT.evaluate(DriftSweeps(per_prompt=drift_evidence(ref, mode_means, smp), reference="float32", modes=list(mode_means), layers=LAYERS, samples=smp))


def test_drift_verdicts():
    same = drift({"nf4": REF})
    assert same.verdict is Verdict.SUPPORTED, same.reasons
    assert same.summary["reference_top"] == 2 and same.summary["reference_top_separated"]
    amplified = drift({"nf4": [2 * x for x in REF]})
    assert amplified.verdict is Verdict.REFUTED and "nf4 effect magnitude" in amplified.reasons[0]
    moved = drift({"int8": [0.1, 6.0, 1.0, 0.4, 0.5, 0.6, 0.7, 0.8]})
    assert moved.verdict is Verdict.REFUTED and any(r.startswith("int8 top layer") for r in moved.reasons)
    shuffled = drift({"int8": [0.8, 0.7, 3.0, 0.5, 0.4, 0.6, 0.2, 0.1]})
    assert shuffled.verdict is Verdict.REFUTED and shuffled.reasons[0].startswith("int8 rank correlation")
    rho = shuffled.summary["checks"][0]
    assert set(rho["per_seed"]) == {"1", "2"} and "max-T" in rho["method"]


def test_a_top_layer_tied_in_the_reference_is_uncertain_not_moved():
    tied = [0.1, 2.99, 3.0, 0.4, 0.5, 0.6, 0.7, 0.8]
    swapped = [0.1, 3.0, 2.99, 0.4, 0.5, 0.6, 0.7, 0.8]
    out = drift({"int8": swapped}, ref=tied)
    assert out.verdict is Verdict.INCONCLUSIVE and any("tie at rank 1" in r for r in out.reasons)
    assert not out.summary["reference_top_separated"]


def test_drift_degenerate_and_removed_knobs():
    flat = drift({"nf4": [1.0] * 8}, ref=[1.0] * 8)
    assert flat.verdict is Verdict.INCONCLUSIVE
    with pytest.raises(ValidationError, match="top_tie_relative was removed"):
        CausalDrift(kind="causal_drift", top_tie_relative=0.1)
    with pytest.raises(ValidationError, match="low <= high"):
        CausalDrift(kind="causal_drift", magnitude_ratio=(2.0, 1.0))
