"""Layer ablation on tiny models: replay equals a full hooked forward pass, hooks never leak."""

import pytest
import torch

from audit.encoding import batches, encode
from interventions.architectures import adapter_for
from interventions.engine import full_forward, replay, trace_base
from interventions.hooks import Hook, InterventionNotApplied, hooked, require_fired
from interventions.layer_ablation import LayerAblation
from tests.conftest import plant_hub, tiny_model

ARCHS = ["llama", "qwen2", "gemma3", "lfm2"]
METHODS = ["skip", "zero_output", "zero_attn", "zero_mlp"]


def encoded_batch(tok, n=5):
    enc = [encode(tok, f"p{i}", f"What is {i} plus {i * 7}?" + " x" * i, str(8 * i), False) for i in range(n)]
    return batches(tok, enc, batch_size=n)[0]


@pytest.mark.parametrize("arch", ARCHS)
@pytest.mark.parametrize("method", METHODS)
def test_replay_from_layer_equals_full_hooked_forward(arch, method):
    model, tok = tiny_model(arch)
    adapter, batch = adapter_for(model), encoded_batch(tok)
    spec = LayerAblation(kind="layer_ablation", method=method)
    trace = trace_base(model, adapter, batch)
    for layer in range(4):
        fast = replay(model, adapter, trace, layer, spec.hooks(adapter, model, layer))
        slow = full_forward(model, batch, spec.hooks(adapter, model, layer))
        assert torch.allclose(fast, slow, atol=1e-5)
        assert not torch.allclose(fast, trace.logprobs, atol=1e-6)  # the ablation changed something


def test_left_padding_matches_unpadded():
    model, tok = tiny_model("llama")
    adapter, batch = adapter_for(model), encoded_batch(tok)
    padded = trace_base(model, adapter, batch).logprobs
    for row in range(batch.input_ids.shape[0]):
        keep = batch.attention_mask[row].bool()
        single = type(batch)(batch.input_ids[row:row + 1, keep], batch.attention_mask[row:row + 1, keep],
                             batch.target_ids[row:row + 1], [batch.prompt_ids[row]])
        assert torch.allclose(trace_base(model, adapter, single).logprobs[0], padded[row], atol=1e-4)


def test_skip_of_planted_layer_dominates():
    model, tok = tiny_model("qwen2")
    plant_hub(model, 2)
    adapter, batch = adapter_for(model), encoded_batch(tok)
    spec = LayerAblation(kind="layer_ablation", method="skip")
    trace = trace_base(model, adapter, batch)
    kl = []
    for layer in range(4):
        ablated = replay(model, adapter, trace, layer, spec.hooks(adapter, model, layer))
        kl.append(float((trace.logprobs.exp() * (trace.logprobs - ablated)).sum(-1).mean()))
    assert max(range(4), key=kl.__getitem__) == 2


def test_hooks_removed_even_after_error():
    model, tok = tiny_model("llama")
    layer = model.model.layers[0]
    with pytest.raises(RuntimeError):
        with hooked([Hook(layer, lambda m, a, k, o: o, "noop")]):
            raise RuntimeError("boom")
    assert not layer._forward_hooks


def test_hook_that_never_fires_is_an_error():
    model, _ = tiny_model("llama")
    hook = Hook(model.model.layers[0], lambda m, a, k, o: o, "layers.0")
    with pytest.raises(InterventionNotApplied):
        require_fired([hook])


@pytest.mark.parametrize("arch", ARCHS)
def test_planted_hub_found_on_every_architecture(arch):
    model, tok = tiny_model(arch)
    plant_hub(model, 1)
    adapter, batch = adapter_for(model), encoded_batch(tok)
    spec = LayerAblation(kind="layer_ablation", method="skip")
    trace = trace_base(model, adapter, batch)
    kl = [float((trace.logprobs.exp() * (trace.logprobs - replay(model, adapter, trace, layer,
                                                                  spec.hooks(adapter, model, layer)))).sum(-1).mean())
          for layer in range(4)]
    assert max(range(4), key=kl.__getitem__) == 1, kl
