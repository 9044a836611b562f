"""quantization_drift + random_vector end to end on the planted hub model: each mode's Spearman with
the reference's sweep against the sweeps of same-norm random weight noise, reported beside the
verdict (never turning it), every draw a cached unit, drawn in the report."""

import pytest

from audit.cache import EvidenceCache
from audit.runner import RunOptions, run_claim
from audit.unit_ops import OPS
from tests.audit.evidence.test_quantization import DRIFT, claim, hub_model  # noqa: F401
from tests.audit.evidence.test_quantization_controls import DRIFT_OK, with_control
from tests.conftest import rendered


def test_drift_noise_is_reported_beside_the_verdict_cached_and_drawn(tmp_path, hub_model, monkeypatch):
    lc = claim(tmp_path / "dn.yaml", hub_model, DRIFT, DRIFT_OK, seeds="[1, 2]" + with_control("random_vector: {n: 39}"))
    cache = EvidenceCache(tmp_path / "c")
    rec = run_claim(lc, RunOptions(evidence_cache=cache))
    plain = run_claim(claim(tmp_path / "dp.yaml", hub_model, DRIFT, DRIFT_OK),
                      RunOptions(evidence_cache=EvidenceCache(tmp_path / "c2")))
    assert rec["verdict"] == plain["verdict"] == "supported"  # reported, never turning it
    assert rec["evidence"]["per_seed_layer_effects"] == plain["evidence"]["per_seed_layer_effects"]
    noise = rec["evidence"]["controls"]["random_vector"]
    assert set(noise) == {"bfloat16", "nf4"} and "random_vector" in rec["controls_run"]
    for mode, r in noise.items():
        assert r["n_draws"] == 39 and r["n_seeds"] == 2 and r["n_layers"] == 4 and r["error_norm"] > 0, r["reason"]
        assert r["status"] in ("more", "less", "within", "inconclusive") and not r.get("degenerate")
        assert -1 <= r["null_min"] <= r["median"] <= r["null_max"] <= 1 and r["magnitude"] is not None
    # the planted hub keeps its ordering under both modes and under every noise draw: a tie, never a finding
    assert noise["bfloat16"]["observed"] == pytest.approx(1.0) and "a tie" in noise["bfloat16"]["meaning"]
    assert noise["nf4"]["error_norm"] > 10 * noise["bfloat16"]["error_norm"]
    assert any(r.startswith("random_vector (reported, not judged) nf4") for r in rec["reasons"])

    def boom(ctx, **kw):
        raise AssertionError("a cached draw was recomputed")

    monkeypatch.setitem(OPS._items, "quantization_drift.weight_noise", boom)
    again = run_claim(lc, RunOptions(evidence_cache=cache))  # every draw is a cached unit
    assert again["evidence"]["controls"] == rec["evidence"]["controls"]
    page = rendered(tmp_path, rec)
    assert "Control: random_vector" in page and "same-norm random weight noise" in page and "null-drift-noise" in page
    assert "magnitude ratio vs null" in page and "confound" in page


def test_degenerate_and_undefined_drift_noise_get_a_row_and_no_plot(tmp_path):
    from audit.cards.quantization_controls import drift_noise_nulls
    from controls.drift_noise import record

    ref = [[0.3, 0.1, 0.2, 0.05]]
    zero = record("bfloat16", ref, ref, [ref] * 39, [1], 0.0)
    flat = record("nf4", [[0.1] * 4], ref, [ref] * 39, [1], 1.0)
    rec = {"claim_id": "c", "evidence": {"reference": "float32", "controls": {"random_vector": {"bfloat16": zero,
                                                                                               "nf4": flat}}}}
    plots, tables, notes = drift_noise_nulls(rec, tmp_path)
    assert plots == [] and [r[-1].split(":")[:2] for r in tables[0]["rows"]] == [["inconclusive", " degenerate"],
                                                                                  ["inconclusive", " undefined"]]
    assert "confound" in notes[0]
