"""A prefix every row of a batch shares (a chat template's header) runs once as a batch of one and
the rest of each row attends to its keys and values: the same log-probs as the per-row base trace
and replay, for every layer ablated, on the architectures whose layers all attend through a plain
key/value cache; the others (sliding windows, recurrent convolutions) fall back to the per-row path."""

import pytest
import torch

from audit.encoding import batches, encode
from interventions.architectures import adapter_for
from interventions.engine import full_forward, replay, shared_length, trace_base, trace_shared
from interventions.layer_ablation import LayerAblation
from interventions.sweep import sweep_batches
from tests.conftest import byte_tokenizer, tiny_model

HEADER = "SYSTEM: answer briefly. "
PROMPTS = [("a", HEADER + "12+7=", "19"), ("b", HEADER + "copy: xyz ->", "xyz"),
           ("c", HEADER + "Paris is in", "France"), ("d", HEADER + "hi", "there")]
SHARES = {"llama": True, "qwen2": True, "gemma3": False, "lfm2": False}


def _batch(prompts=PROMPTS):
    tok = byte_tokenizer()
    return batches(tok, [encode(tok, pid, prompt, answer, False) for pid, prompt, answer in prompts],
                   batch_size=len(prompts))[0]


def test_shared_length_is_the_common_start_of_the_real_tokens():
    batch = _batch()
    assert shared_length(batch) >= len(HEADER)  # the byte tokenizer adds a start token
    assert shared_length(_batch([("x", "abc", "d"), ("y", "xbc", "d")])) <= 1  # only the start token
    same = _batch([("x", "abc", "d"), ("y", "abc", "e")])
    assert shared_length(same) == int(same.attention_mask[0].sum()) - 1  # never the answer position


@pytest.mark.parametrize("arch", sorted(SHARES))
def test_every_layer_skip_with_a_shared_prefix_equals_the_per_row_replay(arch):
    model, _ = tiny_model(arch)
    adapter = adapter_for(model)
    batch = _batch()
    shared = trace_shared(model, adapter, batch, min_shared=4)
    assert (shared is not None) == SHARES[arch]
    if shared is None:
        return
    base = trace_base(model, adapter, batch)
    assert torch.allclose(shared.logprobs, base.logprobs, atol=1e-5)
    spec = LayerAblation(kind="layer_ablation", method="skip")
    for layer in range(len(adapter.layers(model))):
        fast = replay(model, adapter, shared, layer, spec.hooks(adapter, model, layer))
        full = full_forward(model, batch, spec.hooks(adapter, model, layer))
        assert torch.allclose(fast, full, atol=1e-5), (arch, layer, float((fast - full).abs().max()))
        assert not torch.allclose(fast, base.logprobs, atol=1e-3)  # the ablation did something
    # the recorded trace is not consumed by a run: replaying again gives the same answer
    again = replay(model, adapter, shared, 0, spec.hooks(adapter, model, 0))
    assert torch.equal(again, replay(model, adapter, shared, 0, spec.hooks(adapter, model, 0)))


@pytest.mark.parametrize("arch", sorted(SHARES))
def test_the_sweep_gives_the_per_row_numbers_whichever_path_it_takes(arch, monkeypatch):
    model, _ = tiny_model(arch)
    adapter = adapter_for(model)
    spec = LayerAblation(kind="layer_ablation", method="zero_mlp")
    assert spec.tokenwise
    layers = list(range(len(adapter.layers(model))))
    (shared,) = sweep_batches(model, adapter, spec, [_batch()], layers)
    monkeypatch.setattr(LayerAblation, "tokenwise", False)
    (per_row,) = sweep_batches(model, adapter, spec, [_batch()], layers)
    for pid, unit in per_row.items():
        for metric, values in unit["metrics"].items():
            assert shared[pid]["metrics"][metric] == pytest.approx(values, abs=1e-4), (pid, metric)
