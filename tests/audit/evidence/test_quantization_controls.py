"""The quantization kinds' controls end to end on the planted hub model: random_vector (same-norm
weight noise) and shuffled_label (the re-paired floor of exact match) beside a quantization claim,
shuffled_label (shuffled layer labels) beside a drift claim; reported, never turning the verdict,
cached, and drawn in the report."""

import pytest

from audit.cache import EvidenceCache
from audit.errors import ClaimFileError
from audit.runner import RunOptions, run_claim
from tests.audit.evidence.test_quantization import DRIFT, claim, hub_model  # noqa: F401
from tests.conftest import rendered

QUANT = """\
intervention:
  kind: quantization
  modes: [float32, bfloat16, nf4]
  reference: float32
  max_new_tokens: 4
  speed: {prompts: 4, new_tokens: 4, repeats: 1, warmup: 0}
"""
PRACTICAL = """\
    acceptance:
      kind: quant_practical
      candidate: nf4
      baseline: bfloat16
      min_speed_ratio: 0.01
      max_memory_ratio: 10
      max_exact_match_drop: 1.0
      max_kl: 10.0
    """
DRIFT_OK = """\
    acceptance:
      kind: causal_drift
      min_spearman: 0.5
      magnitude_ratio: [0.5, 2.0]
    """


def with_control(control: str) -> str:
    """A control line after ``seeds`` (claim() dedents its template by 8 spaces)."""
    return "\n" + " " * 10 + control


def test_weight_noise_is_reported_beside_the_verdict_and_cached(tmp_path, hub_model):
    path = tmp_path / "qn.yaml"
    lc = claim(path, hub_model, QUANT, metric="quantization_tradeoff", acceptance=PRACTICAL,
               seeds="[1, 2]" + with_control("random_vector: {n: 39}") + with_control("shuffled_label: {n: 19}"))
    cache = EvidenceCache(tmp_path / "c")
    rec = run_claim(lc, RunOptions(evidence_cache=cache))
    plain = run_claim(claim(tmp_path / "qp.yaml", hub_model, QUANT, metric="quantization_tradeoff",
                            acceptance=PRACTICAL), RunOptions(evidence_cache=EvidenceCache(tmp_path / "c2")))
    assert rec["verdict"] == plain["verdict"]  # reported, never turning it
    noise = rec["evidence"]["controls"]["random_vector"]
    assert set(noise) == {"bfloat16", "nf4"}
    for mode, r in noise.items():
        assert r["n_draws"] == 39 and r["n_seeds"] == 2 and r["error_norm"] > 0
        assert r["status"] in ("more", "less", "within") and r["null_max"] > 0
        assert r["observed"] == pytest.approx(sum(s["kl"] for s in rec["evidence"]["modes"][mode]["seeds"]) / 2)
    assert noise["nf4"]["error_norm"] > 10 * noise["bfloat16"]["error_norm"]  # 4 bits vs 8 mantissa bits
    assert any(r.startswith("random_vector (reported, not judged) nf4") for r in rec["reasons"])
    assert {"random_vector", "shuffled_label"} <= set(rec["controls_run"])
    floor = rec["evidence"]["controls"]["shuffled_label"]
    assert set(floor) == {"float32", "bfloat16", "nf4"}
    for mode, r in floor.items():  # the random tiny model answers nothing right: a tie, never a finding
        em = [s["exact_match"] for s in rec["evidence"]["modes"][mode]["seeds"]]
        assert (r["status"], max(em)) == ("inconclusive", 0.0) and "tie" in r["reason"], (em, r["reason"])
    again = run_claim(lc, RunOptions(evidence_cache=cache))  # every draw is a cached unit
    assert again["evidence"]["controls"] == rec["evidence"]["controls"]
    page = rendered(tmp_path, rec)
    assert "Control: random_vector" in page and "random weight noise" in page and "confound" in page
    assert "null-weight-noise" in page and "re-paired floor" in page and "null-repaired-match" in page


def test_shuffled_layers_are_reported_beside_the_drift_verdict(tmp_path, hub_model):
    lc = claim(tmp_path / "ds.yaml", hub_model, DRIFT, DRIFT_OK, seeds="[1, 2]" + with_control("shuffled_label: {n: 99}"))
    rec = run_claim(lc, RunOptions(evidence_cache=EvidenceCache(tmp_path / "c")))
    assert rec["verdict"] == "supported", rec["reasons"]  # as without the control
    layers = rec["evidence"]["controls"]["shuffled_label"]
    assert set(layers) == {"bfloat16", "nf4"} and layers["bfloat16"]["n_layers"] == 4
    # the planted hub: bfloat16 keeps the reference's ordering (Spearman 1 in both seeds)
    assert layers["bfloat16"]["observed"] == pytest.approx(1.0) and layers["bfloat16"]["status"] == "passed"
    assert layers["bfloat16"]["top"]["matches"] == 2 and layers["bfloat16"]["top"]["chance"] == 0.25
    assert any(r.startswith("shuffled_label (reported, not judged) bfloat16") for r in rec["reasons"])
    page = rendered(tmp_path, rec)
    assert "Control: shuffled_label" in page and "shuffled layer labels" in page and "null-shuffled-layers" in page


@pytest.mark.parametrize("intervention,control,message", [
    (DRIFT, "random_component: {n: 9}", "intervention 'quantization_drift' takes no random_component control"),
    (DRIFT.replace("reference: float32", "reference: float16"), "random_vector: {n: 9}",
     "random_vector noises the float32 weights, and the reference is float16"),
    (QUANT, "random_component: {n: 9}", "intervention 'quantization' takes no random_component control"),
    (QUANT.replace("reference: float32", "reference: bfloat16"), "random_vector: {n: 9}",
     "random_vector noises the float32 weights, and the reference is bfloat16"),
])
def test_a_control_the_kind_cannot_run_is_a_clear_error(tmp_path, hub_model, intervention, control, message):
    acceptance, metric = (DRIFT_OK, "kl") if "drift" in intervention else (PRACTICAL, "quantization_tradeoff")
    with pytest.raises(ClaimFileError, match=message):
        claim(tmp_path / "bad.yaml", hub_model, intervention, acceptance, metric=metric,
              seeds="[1, 2]" + with_control(control))


def test_undefined_and_degenerate_controls_get_a_row_and_no_plot(tmp_path):
    import numpy as np

    from audit.cards.quantization_controls import shuffled_layer_nulls, weight_noise_nulls
    from audit.evidence.quantization_controls import noise_record
    from controls.shuffled_layers import mode_record

    flat = mode_record(np.ones((2, 4)), np.arange(8.0).reshape(2, 4), [1, 2], "nf4", 9)
    zero = noise_record("float16", [0.0, 0.0], [[0.0] * 39] * 2, 0.0)
    for card, name, record in [(shuffled_layer_nulls, "shuffled_label", flat), (weight_noise_nulls, "random_vector", zero)]:
        rec = {"claim_id": "c", "evidence": {"reference": "float32", "controls": {name: {record["mode"]: record}}}}
        plots, tables, *_ = card(rec, tmp_path)
        assert plots == [] and tables[0]["rows"][0][-1].startswith("inconclusive: "), tables
        assert ("undefined" if name == "shuffled_label" else "degenerate") in tables[0]["rows"][0][-1]
