"""Shared fixtures: a byte-level tokenizer and tiny random models with planted truths.

Tiny models are real transformers classes (LlamaForCausalLM, Qwen2ForCausalLM) with random
weights, saved to a temp directory so they load through the same path as any local checkpoint.
"""

from __future__ import annotations

import os
import tempfile
import textwrap
from pathlib import Path

import pytest
import torch

def _private_caches() -> None:
    """Tests never write the user's caches: the evidence cache and the model cache (weight hashes,
    dequantized aliases) are temp dirs removed at exit. Already-dequantized aliases of the user's
    cache are linked in read-only (a conversion takes minutes); new ones are made in the temp dir."""
    import atexit
    import shutil

    from audit.models import cache_root

    real = cache_root()
    if "MI_AUDIT_EVIDENCE_CACHE" not in os.environ:
        evidence = tempfile.mkdtemp(prefix="mi-audit-evidence-")
        os.environ["MI_AUDIT_EVIDENCE_CACHE"] = evidence
        atexit.register(shutil.rmtree, evidence, True)
    private = Path(tempfile.mkdtemp(prefix="mi-audit-cache-"))
    atexit.register(shutil.rmtree, private, True)
    for sub in ("models", "gguf"):
        (private / sub).mkdir()
        for entry in sorted((real / sub).iterdir()) if (real / sub).is_dir() else []:
            (private / sub / entry.name).symlink_to(entry, target_is_directory=entry.is_dir())
    os.environ["MI_AUDIT_CACHE"] = str(private)  # subprocesses of the tests inherit it


_private_caches()
# The thread policy (audit/threads.py) adapts to the machine's load; tests keep torch's count fixed
# so two runs in one test compute bit-identical numbers.
os.environ.setdefault("MI_AUDIT_THREADS", str(torch.get_num_threads()))

REPO = Path(__file__).resolve().parents[1]
MAIN_SUITE = Path(os.environ.get("MI_AUDIT_TEST_SUITE", REPO / "claims" / "suites" / "main.yaml"))


def byte_tokenizer():
    from tokenizers import Tokenizer, decoders, models, pre_tokenizers
    from transformers import PreTrainedTokenizerFast

    alphabet = sorted(pre_tokenizers.ByteLevel.alphabet())
    vocab = {ch: i for i, ch in enumerate(alphabet)}
    vocab["<pad>"], vocab["<eos>"] = len(vocab), len(vocab) + 1
    tok = Tokenizer(models.BPE(vocab=vocab, merges=[]))
    tok.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    tok.decoder = decoders.ByteLevel()
    return PreTrainedTokenizerFast(tokenizer_object=tok, pad_token="<pad>", eos_token="<eos>")


def tiny_model(arch: str = "llama", n_layers: int = 4, seed: int = 0, init: float = 0.2, hidden: int = 32):
    from transformers import (Gemma3ForCausalLM, Gemma3TextConfig, LlamaConfig, LlamaForCausalLM, Lfm2Config,
                              Lfm2ForCausalLM, Qwen2Config, Qwen2ForCausalLM)

    tok = byte_tokenizer()
    common = dict(vocab_size=len(tok), hidden_size=hidden, intermediate_size=2 * hidden, num_hidden_layers=n_layers,
                  num_attention_heads=4, num_key_value_heads=2, max_position_embeddings=1024,
                  tie_word_embeddings=False, initializer_range=init, pad_token_id=tok.pad_token_id,
                  eos_token_id=tok.eos_token_id, bos_token_id=None)
    torch.manual_seed(seed)
    if arch == "llama":
        model = LlamaForCausalLM(LlamaConfig(**common))
    elif arch == "qwen2":
        model = Qwen2ForCausalLM(Qwen2Config(**common))
    elif arch == "gemma3":
        model = Gemma3ForCausalLM(Gemma3TextConfig(**common, head_dim=8, sliding_window=16))
    elif arch == "lfm2":
        types = ["conv" if i % 2 == 0 else "full_attention" for i in range(n_layers)]
        model = Lfm2ForCausalLM(Lfm2Config(**common, layer_types=types))
    else:
        raise ValueError(arch)
    return model.eval(), tok


def plant_hub(model, layer: int, scale: float = 30.0, others: float = 0.05) -> None:
    """Make ``layer`` dominate: its writes are scaled up, every other layer's scaled down.

    On Qwen2 the planted layer also gets a large value bias: an input-independent write that
    passes through attention unchanged (the softmax weights sum to one).
    """
    with torch.no_grad():
        for i, block in enumerate(model.model.layers):
            factor = scale if i == layer else others
            for norm_name in ("post_attention_layernorm", "post_feedforward_layernorm"):
                if norm_name in dict(block.named_children()) and hasattr(block, "pre_feedforward_layernorm"):
                    weight = getattr(block, norm_name).weight  # Gemma: output norms scale by (1 + w)
                    weight.copy_((1 + weight) * factor - 1)
            mlp = getattr(block, "mlp", None) or block.feed_forward
            (getattr(mlp, "down_proj", None) or mlp.w2).weight.mul_(factor)
            operator = getattr(block, "self_attn", None) or block.conv
            (getattr(operator, "o_proj", None) or operator.out_proj).weight.mul_(factor)
        attn = getattr(model.model.layers[layer], "self_attn", None)
        bias = getattr(attn.v_proj, "bias", None) if attn is not None else None
        if bias is not None:
            bias.copy_(torch.randn_like(bias) * 3.0)


def silence_all_layers(model) -> None:
    """No layer writes anything: every ablation has the same (zero) effect."""
    with torch.no_grad():
        for block in model.model.layers:
            block.mlp.down_proj.weight.zero_()
            block.self_attn.o_proj.weight.zero_()


def save(model, tok, directory: Path) -> Path:
    directory.mkdir(parents=True, exist_ok=True)
    model.save_pretrained(directory)
    tok.save_pretrained(directory)
    return directory


@pytest.fixture(scope="session")
def tiny_dir(tmp_path_factory):
    """Factory: build (and cache per session) a saved tiny model by name."""
    built: dict[str, Path] = {}

    def make(name: str, arch: str = "llama", hub: int | None = None, silent: bool = False, n_layers: int = 4) -> Path:
        if name not in built:
            model, tok = tiny_model(arch, n_layers=n_layers)
            if hub is not None:
                plant_hub(model, hub)
            if silent:
                silence_all_layers(model)
            built[name] = save(model, tok, tmp_path_factory.mktemp(name))
        return built[name]

    return make


def write_claim(path: Path, *, model: str, layer: int = 2, method: str = "skip", families=("arithmetic", "copying"),
                seeds=(1, 2, 3), prompts: int = 3, expect: str = "supported", extra: str = "",
                stage: str = "confirmatory", selected_by: str = "", split: str = "all") -> Path:
    """A hub claim file on the main suite (absolute suite path so it works from a temp dir).

    ``stage`` is written explicitly and defaults to confirmatory here (a planted truth is fixed
    before its data is drawn), so tests see the uncapped ladder; the schema's default is exploratory.
    """
    fams = "[" + ", ".join(families) + "]"
    chosen = f"selected_by: {selected_by}\n" if selected_by else ""
    path.write_text(textwrap.dedent(f"""\
        id: {path.stem}
        statement: "Planted test claim: layer {layer} is the hub."
        model: {model}
        expect: {expect}
        stage: {stage}
        """) + chosen + textwrap.dedent(f"""\
        suite:
          name: {MAIN_SUITE}
          families: {fams}
          prompts_per_family: {prompts}
          split: {split}
          chat_template: false
        intervention:
          kind: layer_ablation
          method: {method}
          layers: all
        metric:
          kind: kl
        controls:
          seeds: [{", ".join(map(str, seeds))}]
        acceptance:
          kind: hub
          layer: {layer}
          min_family_fraction: 0.5
        """) + extra)
    return path


def rendered(tmp_path, rec) -> str:
    """The claim page of ``rec`` in a freshly rendered report (its plots must exist)."""
    from audit import ledger
    from audit.render import render_report

    out = tmp_path / "report"
    ledger.append(out, rec)
    render_report(out)
    assert list((out / "plots").glob(f"{rec['claim_id']}-*.png"))
    return (out / "claims" / f"{rec['claim_id']}.md").read_text()
