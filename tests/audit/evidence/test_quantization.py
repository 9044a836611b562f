"""Quantization claims on tiny models: every mode loads through the same loader; quality, speed and
drift are measured side by side; wrong claims are refuted."""

import textwrap

import pytest

from audit.cache import EvidenceCache
from audit.models import ModeUnavailable, load_model, load_variant
from audit.runner import RunOptions, run_claim
from audit.schema import load_claim
from tests.conftest import MAIN_SUITE, plant_hub, rendered, save, tiny_model


@pytest.fixture(scope="module")
def hub_model(tmp_path_factory):
    # hidden 64: bitsandbytes' CPU NF4 kernels pack weights in blocks of 64 input features
    # (init 0.05: with wider layers the unplanted ones must be quieter for the hub to dominate)
    model, tok = tiny_model("llama", n_layers=4, hidden=64, init=0.05)
    plant_hub(model, 2)
    return save(model, tok, tmp_path_factory.mktemp("qhub"))


def claim(path, model, intervention: str, acceptance: str, seeds="[1, 2]", metric="kl"):
    path.write_text(textwrap.dedent(f"""\
        id: {path.stem}
        statement: "Planted quantization test claim."
        model: {model}
        suite:
          name: {MAIN_SUITE}
          families: [arithmetic, copying]
          prompts_per_family: 3
          chat_template: false
        metric:
          kind: {metric}
        controls:
          seeds: {seeds}
        """) + textwrap.indent(textwrap.dedent(intervention), "  ").replace("  intervention:", "intervention:", 1)
        + textwrap.dedent(acceptance))
    return load_claim(path)


QUANT = """\
intervention:
  kind: quantization
  modes: [float32, bfloat16, int8, nf4]
  reference: float32
  max_new_tokens: 4
  speed: {prompts: 4, new_tokens: 4, repeats: 2}
"""


@pytest.mark.parametrize("mode,layer_class", [("int8", "Linear8bitLt"), ("nf4", "Linear4bit"), ("bfloat16", "Linear")])
def test_every_mode_loads_through_the_same_loader(hub_model, mode, layer_class):
    loaded = load_model(str(hub_model), mode)
    assert type(loaded.model.model.layers[0].mlp.down_proj).__name__ == layer_class
    assert load_variant(loaded, "float32").get_memory_footprint() > loaded.model.get_memory_footprint()


def test_unavailable_bitsandbytes_is_a_clear_error(hub_model, monkeypatch):
    import transformers

    def refuse(*a, **k):
        raise ImportError("bitsandbytes backend missing")

    loaded = load_model(str(hub_model))
    monkeypatch.setattr(transformers.AutoModelForCausalLM, "from_pretrained", refuse)
    with pytest.raises(ModeUnavailable, match="nf4 .bitsandbytes. is not available on this machine.*drop 'nf4'"):
        load_variant(loaded, "nf4")


def test_quantization_evidence_is_side_by_side_and_a_zero_kl_claim_is_refuted(tmp_path, hub_model):
    lc = claim(tmp_path / "q.yaml", hub_model, QUANT, metric="quantization_tradeoff", acceptance="""\
        acceptance:
          kind: quant_practical
          candidate: nf4
          baseline: bfloat16
          min_speed_ratio: 0.01
          max_memory_ratio: 10
          max_exact_match_drop: 1.0
          max_kl: 0.0
        """)
    rec = run_claim(lc, RunOptions(evidence_cache=EvidenceCache(tmp_path / "c")))
    ev = rec["evidence"]
    assert ev["order"] == ["float32", "bfloat16", "int8", "nf4"]
    assert all(s["kl"] == 0.0 for s in ev["modes"]["float32"]["seeds"])  # the reference against itself
    assert all(s["kl"] > 0 for s in ev["modes"]["nf4"]["seeds"])  # 4-bit weights change the model
    assert len(ev["modes"]["nf4"]["speed_ratios"]["bfloat16"]) == 2 and ev["speed"]["interleaved"]
    assert ev["modes"]["nf4"]["memory_mb"] < ev["modes"]["float32"]["memory_mb"]
    assert all(m["peak_memory"]["peak_mb"] >= m["peak_memory"]["growth_mb"] >= 0 for m in ev["modes"].values())
    assert ev["hardware"]["cpu_count"] >= 1 and "ram_gb" in ev["hardware"] and ev["hardware"]["bitsandbytes"]
    assert rec["verdict"] == "refuted" and any(r.startswith("KL to float32") for r in rec["reasons"]), rec["reasons"]
    assert rec["evidence_kinds"] == ["quantization"]
    assert set(ev["modes"]["nf4"]["per_prompt"]) == {p for fam in ev["samples"].values() for ids in fam.values() for p in ids}
    page = rendered(tmp_path, rec)
    assert "| nf4 |" in page and "Speed protocol: 4 prompts x 4 forced new tokens" in page
    assert "peak RSS during run (MB)" in page and "weights footprint (MB)" in page and "Hardware: CPU; " in page


def test_peak_memory_is_measured_per_mode_during_its_quality_pass(tmp_path, hub_model, monkeypatch):
    # plant 256 MB of working memory in nf4's exact-match/KL pass only: its growth shows it, float32's does not
    import time

    import torch

    import interventions.compute.deployment as q

    real = q.quality

    def planted(model, *args):
        if type(model.model.layers[0].mlp.down_proj).__name__ == "Linear4bit":
            buffer = torch.ones(64 * 2**20)  # written, so resident
            time.sleep(0.05)
            del buffer
        return real(model, *args)

    monkeypatch.setattr(q, "quality", planted)
    lc = claim(tmp_path / "mem.yaml", hub_model, QUANT.replace("bfloat16, int8, nf4", "nf4").replace(
        "repeats: 2}", "repeats: 1, warmup: 0}"), metric="quantization_tradeoff", acceptance="""\
        acceptance:
          kind: quant_practical
          candidate: nf4
          baseline: float32
          min_speed_ratio: 0.01
        """)
    rec = run_claim(lc, RunOptions(evidence_cache=EvidenceCache(tmp_path / "c")))
    peak = {m: v["peak_memory"] for m, v in rec["evidence"]["modes"].items()}
    assert peak["nf4"]["growth_mb"] >= 200 > peak["float32"]["growth_mb"], peak
    assert peak["nf4"]["method"].startswith("RSS sampled") and rec["evidence"]["speed"]["warmup"] == 0


def test_acceptance_naming_an_unmeasured_mode_is_invalid(tmp_path, hub_model):
    from audit.errors import ClaimFileError

    with pytest.raises(ClaimFileError, match="acceptance compares mode int8, which is not measured"):
        claim(tmp_path / "bad.yaml", hub_model, QUANT.replace("int8, nf4", "nf4"), metric="quantization_tradeoff",
              acceptance="""\
            acceptance:
              kind: quant_practical
              candidate: nf4
              baseline: bfloat16
              min_speed_ratio: 0.8
              beats: [int8]
            """)


DRIFT = """\
intervention:
  kind: quantization_drift
  modes: [bfloat16, nf4]
  reference: float32
  method: skip
"""


def test_planted_hub_survives_quantization_and_a_wrong_magnitude_claim_is_refuted(tmp_path, hub_model):
    ok = claim(tmp_path / "drift.yaml", hub_model, DRIFT, """\
        acceptance:
          kind: causal_drift
          min_spearman: 0.5
          magnitude_ratio: [0.5, 2.0]
        """)
    rec = run_claim(ok, RunOptions(evidence_cache=EvidenceCache(tmp_path / "c")))
    assert rec["verdict"] == "supported", rec["reasons"]
    assert rec["summary"]["reference_top"] == 2 and rec["summary"]["reference_top_separated"]
    assert rec["evidence_kinds"] == ["ablation"]  # quantizing builds the models; the sweep is the evidence
    assert all(len(v) == 4 for per_prompt in rec["evidence"]["per_prompt"].values() for v in per_prompt.values())
    wrong = claim(tmp_path / "amplified.yaml", hub_model, DRIFT, """\
        acceptance:
          kind: causal_drift
          min_spearman: 0.5
          magnitude_ratio: [3.0, 10.0]
        """)
    rec2 = run_claim(wrong, RunOptions(evidence_cache=EvidenceCache(tmp_path / "c")))
    assert rec2["verdict"] == "refuted" and "effect magnitude" in rec2["reasons"][0]
    assert rec2["evidence"]["units"]["nf4"]["from_cache"] > 0  # the sweeps of the first claim are reused
    page = rendered(tmp_path, rec2)
    assert "95% interval" in page and "nf4 rank correlation" in page and "Top layer under float32: L2" in page



def test_a_metric_the_intervention_does_not_measure_is_invalid(tmp_path, hub_model):
    from audit.errors import ClaimFileError

    with pytest.raises(ClaimFileError, match="measures 'quantization_tradeoff', not 'kl'.*kind: quantization_tradeoff"):
        claim(tmp_path / "metric.yaml", hub_model, QUANT, metric="kl", acceptance="""\
            acceptance:
              kind: quant_practical
              candidate: nf4
              baseline: bfloat16
              min_speed_ratio: 0.8
            """)
