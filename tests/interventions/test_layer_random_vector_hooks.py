"""The random-vector null of a layer ablation (``null_hooks``): each token's output at the ablated
site moves by the norm of what the ablation removes there, along one unit direction; replayed from
the layer (per row, or with the rows' shared prefix run once) it equals a full hooked forward pass."""

import pytest
import torch

from controls.random_vector import random_directions
from interventions.architectures import adapter_for
from interventions.engine import full_forward, replay, trace_base, trace_shared
from interventions.hooks import hooked
from interventions.layer_ablation import LayerAblation
from interventions.layer_scaling.spec import LayerScaling
from interventions.sweep import null_batch
from tests.conftest import tiny_model
from tests.interventions.test_layer_ablation import ARCHS, METHODS, encoded_batch
from tests.interventions.test_shared_prefix import SHARES, _batch


@pytest.mark.parametrize("arch", ARCHS)
@pytest.mark.parametrize("method", METHODS)
def test_null_replay_equals_full_hooked_forward(arch, method):
    model, tok = tiny_model(arch)
    adapter, batch = adapter_for(model), encoded_batch(tok)
    spec = LayerAblation(kind="layer_ablation", method=method)
    trace = trace_base(model, adapter, batch)
    u = random_directions(1, 2, 1, model.config.hidden_size)[0]
    for layer in (0, 2):
        fast = replay(model, adapter, trace, layer, spec.null_hooks(adapter, model, layer, u))
        slow = full_forward(model, batch, spec.null_hooks(adapter, model, layer, u))
        assert torch.allclose(fast, slow, atol=1e-5), float((fast - slow).abs().max())
        assert not torch.allclose(fast, trace.logprobs, atol=1e-6)  # the perturbation changed something


@pytest.mark.parametrize("method", METHODS)
def test_each_token_moves_by_the_norm_the_ablation_removes(method):
    model, tok = tiny_model("llama")
    adapter, batch = adapter_for(model), encoded_batch(tok)
    spec, layer = LayerAblation(kind="layer_ablation", method=method), 1
    u = random_directions(3, layer, 1, model.config.hidden_size)[0]
    site = spec._site(adapter, model, layer)
    got = {}

    def before(module, args, kwargs, output):  # runs before the null hook (registered first)
        x = output[0] if isinstance(output, tuple) else output
        got["x"] = x.detach().clone()
        got["removed"] = (x - (args[0] if args else kwargs["hidden_states"])) if method == "skip" else x.detach().clone()

    def after(module, args, kwargs, output):
        got["moved"] = (output[0] if isinstance(output, tuple) else output).detach().clone()

    h1 = site.register_forward_hook(before, with_kwargs=True)
    try:
        with hooked(spec.null_hooks(adapter, model, layer, u)):
            h2 = site.register_forward_hook(after, with_kwargs=True)
            full_forward(model, batch, [])
            h2.remove()
    finally:
        h1.remove()
    delta = got["moved"] - got["x"]
    size = got["removed"].norm(dim=-1, keepdim=True)
    assert torch.allclose(delta, -size * u, atol=1e-5)
    assert torch.allclose(delta.norm(dim=-1), got["removed"].norm(dim=-1), atol=1e-5)
    assert float(size[..., 0][batch.attention_mask.bool()].min()) > 0  # every real token is moved


def test_scaling_null_moves_by_the_removed_share_of_the_write():
    model, tok = tiny_model("qwen2")
    adapter, batch = adapter_for(model), encoded_batch(tok)
    u = random_directions(1, 1, 1, model.config.hidden_size)[0]
    half = LayerScaling(kind="layer_scaling", factor=0.5).null_hooks(adapter, model, 1, u)
    skip = LayerAblation(kind="layer_ablation", method="skip")
    trace = trace_base(model, adapter, batch)
    # (1 - 0.5) x the write: the same perturbation as half the skip null's, so a smaller change
    kl = lambda lp: float((trace.logprobs.exp() * (trace.logprobs - lp)).sum(-1).mean())  # noqa: E731
    assert 0 < kl(replay(model, adapter, trace, 1, half)) < kl(replay(model, adapter, trace, 1, skip.null_hooks(
        adapter, model, 1, u)))


@pytest.mark.parametrize("arch", sorted(SHARES))
def test_null_with_a_shared_prefix_equals_the_full_forward(arch):
    model, _ = tiny_model(arch)
    adapter, batch = adapter_for(model), _batch()
    shared = trace_shared(model, adapter, batch, min_shared=4)
    assert (shared is not None) == SHARES[arch]
    spec = LayerAblation(kind="layer_ablation", method="skip")
    directions = random_directions(2, 1, 3, model.config.hidden_size)
    out = null_batch(model, adapter, spec, batch, 1, directions)  # the sweep's path (shared when it can)
    for j, u in enumerate(directions):
        full = full_forward(model, batch, spec.null_hooks(adapter, model, 1, u))
        base = full_forward(model, batch, [])
        kl = (base.exp() * (base - full)).sum(-1)
        got = torch.tensor([out[pid]["metrics"]["kl"][j] for pid in batch.prompt_ids])
        assert torch.allclose(got, kl.float(), atol=1e-4), (arch, j, float((got - kl).abs().max()))
        assert float(kl.min()) > 0
    if shared is not None:
        u = directions[0]
        fast = replay(model, adapter, shared, 1, spec.null_hooks(adapter, model, 1, u))
        assert torch.allclose(fast, full_forward(model, batch, spec.null_hooks(adapter, model, 1, u)), atol=1e-5)
