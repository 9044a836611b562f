"""The answer-position run (prefix keys and values reused, only the answer token recomputed) gives
the log-probs of a whole forward pass with the same intervention at the answer position, on the
four architectures; an intervention that also changes earlier positions would not be exact, which
is why the hooks see only the answer token."""

import pytest
import torch

from audit.encoding import batches, encode
from interventions.architectures import adapter_for
from interventions.engine import answer_position_run, full_forward, trace_prefix
from interventions.hooks import Hook
from tests.conftest import byte_tokenizer, tiny_model

PROMPTS = [("a", "12+7=", "19"), ("b", "copy: xyz ->", "xyz"), ("c", "Paris is in", "France"), ("d", "hi", "there")]


def _batch(tok):
    enc = [encode(tok, pid, prompt, answer, False) for pid, prompt, answer in PROMPTS]
    return batches(tok, enc, batch_size=len(enc))[0]


def _scale_last(module, factor: float) -> Hook:
    def scale(mod, args, kwargs):
        x = args[0].clone()
        x[:, -1] = x[:, -1] * factor
        return (x, *args[1:]), kwargs
    return Hook(module, scale, "scale@answer", pre=True)


@pytest.mark.parametrize("arch", ["llama", "qwen2", "gemma3", "lfm2"])
def test_answer_position_run_equals_a_full_forward_with_the_same_hook(arch):
    model, tok = tiny_model(arch)
    adapter = adapter_for(model)
    batch = _batch(byte_tokenizer())
    prefix = trace_prefix(model, adapter, batch)
    base_full = full_forward(model, batch, [])
    base_fast = answer_position_run(model, adapter, prefix, 0, [])
    assert torch.allclose(base_fast, base_full, atol=1e-5) and torch.allclose(prefix.logprobs, base_full, atol=1e-5)
    for layer in range(len(adapter.layers(model))):
        module = adapter.mlp(adapter.layers(model)[layer])
        full = full_forward(model, batch, [_scale_last(module, 0.0)])
        for start in (0, layer):  # from the bottom, or from the intervened layer (the recorded input)
            fast = answer_position_run(model, adapter, prefix, start, [_scale_last(module, 0.0)])
            assert torch.allclose(fast, full, atol=1e-5), (arch, layer, start, float((fast - full).abs().max()))
        assert not torch.allclose(full, base_full, atol=1e-4)  # the intervention did something
    # the prefix cache is cropped back after every run: reusing it again gives the same answer
    assert torch.equal(answer_position_run(model, adapter, prefix, 0, []), base_fast)
