"""Layer skipping: removing layers for real equals the skip ablation; planted identity layers are
free to skip, a planted hub is not."""

import torch

from interventions.architectures import adapter_for
from interventions.generation import greedy, timed_side_by_side
from interventions.hooks import Hook, hidden_input, hooked, replace_output
from interventions.layer_skip import least_important, removed_layers
from tests.conftest import plant_hub, tiny_model


def make_identity(model, layers):
    """These layers write nothing: their output equals their input exactly."""
    with torch.no_grad():
        for i in layers:
            model.model.layers[i].mlp.down_proj.weight.zero_()
            model.model.layers[i].self_attn.o_proj.weight.zero_()


def test_removed_layers_equal_the_skip_ablation_and_are_restored():
    model, tok = tiny_model("llama", n_layers=4)
    adapter = adapter_for(model.config)
    ids = torch.tensor([tok("abc def")["input_ids"]])
    layer = adapter.layers(model)[1]
    with hooked([Hook(layer, lambda m, a, k, out: replace_output(out, hidden_input(a, k)), "skip")]):
        hooked_logits = model(ids).logits
    with removed_layers(model, adapter, [1]):
        assert len(adapter.layers(model)) == 3 and model.config.num_hidden_layers == 3
        removed_logits = model(ids).logits
    assert torch.allclose(hooked_logits, removed_logits, atol=1e-5)
    assert len(adapter.layers(model)) == 4 and model.config.num_hidden_layers == 4
    assert [l.self_attn.layer_idx for l in adapter.layers(model)] == [0, 1, 2, 3]


def test_generation_with_skipped_layer_zero_uses_a_consistent_cache():
    # skipping layer 0 is where a cache addressed by the old indices would break positions
    model, tok = tiny_model("qwen2", n_layers=4)
    make_identity(model, [0])
    adapter = adapter_for(model.config)
    prompts = [tok("hello there")["input_ids"], tok("x")["input_ids"]]
    base = greedy(model, tok, prompts, 8, 2, exact_length=True)
    with removed_layers(model, adapter, [0]):
        skipped = greedy(model, tok, prompts, 8, 2, exact_length=True)
    assert skipped == base


def test_gemma3_sliding_layer_types_follow_the_kept_layers():
    model, tok = tiny_model("gemma3", n_layers=4)
    adapter = adapter_for(model.config)
    types = list(model.config.layer_types)
    with removed_layers(model, adapter, [0, 2]):
        assert model.config.layer_types == [types[1], types[3]]
        greedy(model, tok, [tok("abc")["input_ids"]], 4, 1)
    assert model.config.layer_types == types


def test_planted_hub_changes_generation_when_skipped():
    model, tok = tiny_model("llama", n_layers=4)
    plant_hub(model, 2)
    adapter = adapter_for(model.config)
    prompts = [tok(t)["input_ids"] for t in ("the cat", "a dog ran", "42 + 1")]
    base = greedy(model, tok, prompts, 6, 3, exact_length=True)
    with removed_layers(model, adapter, [2]):
        assert greedy(model, tok, prompts, 6, 3, exact_length=True) != base


def test_least_important_takes_the_smallest_effects():
    assert least_important([5.0, 0.1, 3.0, 0.1, 2.0], [0, 1, 2, 3, 4], 3) == [1, 3, 4]
    assert least_important([1.0, 2.0], [7, 9], 1) == [7]


def test_side_by_side_timing_runs_the_declared_warmups_untimed():
    runs = []
    times = timed_side_by_side({"a": None, "b": None}, runs.append, repeats=2, warmup=3)
    assert runs.count("a") == runs.count("b") == 5 and all(len(t) == 2 for t in times.values())
    assert runs[:2] == ["a", "b"] and runs[2:4] == ["b", "a"]  # interleaved, rotating order
