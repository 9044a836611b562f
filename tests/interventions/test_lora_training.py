"""LoRA training pieces: exact-match and JSON schema scoring, QLoRA on an NF4 base, the base model restored."""

import torch

from audit.models import load_model, load_variant
from interventions.lora import Training
from interventions.lora_training import exact_match, json_answer, linear_modules, run_adapter
from tests.conftest import save, tiny_model


def test_exact_match_scores_the_answer_not_the_ramble():
    answer = '{"name": "Jack", "age": 48, "city": "Tokyo"}'
    assert exact_match('Sure! {"age": 48, "name": "Jack", "city": "Tokyo"} Hope that helps', answer)
    assert not exact_match('{"name": "Jack", "age": "48", "city": "Tokyo"}', answer)  # a string is not 48
    assert not exact_match('{"name": "Jack", "age": 48', answer)  # unparseable
    assert exact_match("25\nbecause the loop adds five", "25") and not exact_match("It prints 25", "25")


def test_json_answers_are_parsed_then_checked_against_the_reference_schema_then_compared():
    ref = {"name": "Jack", "age": 48, "city": "Tokyo"}
    assert json_answer('ok {"name": "Jack", "age": 48, "city": "Tokyo"}', ref) == (True, True, True)
    assert json_answer('{"name": "Ann", "age": 3, "city": "Rome"}', ref) == (True, True, False)  # right shape, wrong values
    assert json_answer('{"name": "Jack", "age": "48", "city": "Tokyo"}', ref) == (True, False, False)  # age a string
    assert json_answer('{"name": "Jack", "age": 48}', ref) == (True, False, False)  # a key missing
    assert json_answer('{"name": "Jack", "age": 48, "city": "Tokyo", "x": 1}', ref) == (True, False, False)  # extra key
    assert json_answer('{"name": "Jack", "age": true, "city": "Tokyo"}', ref) == (True, False, False)  # bool is no number
    assert json_answer('{"name": "Jack", "age": 48', ref) == (False, False, False)
    assert json_answer("no json here", ref) == (False, False, False)


def test_qlora_trains_adapters_on_an_nf4_base_and_the_base_is_restored(tmp_path):
    model, tok = tiny_model("llama", n_layers=2, hidden=64)  # NF4 on CPU packs blocks of 64 inputs
    base = load_variant(load_model(str(save(model, tok, tmp_path / "m"))), "nf4")
    modules = sorted(linear_modules(base))[:2]
    assert type(base.get_submodule(modules[0])).__name__ == "Linear4bit"
    data = [(tok("hello world zz")["input_ids"], 5)] * 4
    training = Training(rank=2, alpha=4, steps=4, batch_size=2, learning_rate=0.01, qlora=True)
    result = run_adapter(base, tok, modules, training, 1, data, lambda m: {"exact_match": 0.0}, None)
    shapes = linear_modules(base)
    assert result["trainable_params"] == sum(2 * (shapes[m][0] + shapes[m][1]) for m in modules)  # rank 2: peft's count
    assert result["losses"][-1] < result["losses"][0]
    assert not any("lora" in n for n, _ in base.named_modules())  # unload() removed every adapter module


def test_a_cached_adapter_measured_again_for_an_analysis_is_not_retrained(tmp_path):
    from interventions.lora_training import TRAININGS

    model, tok = tiny_model("llama", n_layers=2)
    modules = sorted(linear_modules(model))[:2]
    data = [(tok("hello world zz")["input_ids"], 5)] * 4
    training = Training(rank=2, alpha=4, steps=3, batch_size=2, learning_rate=0.01)

    def measure(m):
        return {"exact_match": 0.0, "schema_valid_rate": None}

    before = TRAININGS["count"]
    first = run_adapter(model, tok, modules, training, 1, data, measure, tmp_path / "a")
    again = run_adapter(model, tok, modules, training, 1, data, measure, tmp_path / "a", analyze=lambda m: {"x": 1})
    assert TRAININGS["count"] - before == 1
    assert first["from_cache"] is False and again["from_cache"] is True  # trained earlier, analysed now
    assert again["analysis"] == {"x": 1} and again["losses"] == first["losses"]


def test_a_cached_adapter_missing_a_new_per_prompt_metric_is_measured_again_not_retrained(tmp_path):
    from interventions.lora_training import TRAININGS

    model, tok = tiny_model("llama", n_layers=2)
    modules = sorted(linear_modules(model))[:2]
    data = [(tok("hello world zz")["input_ids"], 5)] * 4
    training = Training(rank=2, alpha=4, steps=3, batch_size=2, learning_rate=0.01)
    before = TRAININGS["count"]
    run_adapter(model, tok, modules, training, 1, data, lambda m: {"exact_match": 0.0}, tmp_path / "a")
    again = run_adapter(model, tok, modules, training, 1, data, lambda m: {"exact_match": 0.0, "exact_by_prompt": {}},
                        tmp_path / "a", required=("exact_by_prompt",))
    assert TRAININGS["count"] - before == 1 and again["from_cache"] is True and again["exact_by_prompt"] == {}


def test_example_losses_fall_with_training_and_layer_effects_are_per_prompt():
    from peft import LoraConfig, get_peft_model

    from interventions.lora_training import example_losses, layer_ablation_effects, train

    model, tok = tiny_model("llama", n_layers=2)
    data = [(tok(f"item {i} zz")["input_ids"], 4) for i in range(4)]
    ids = [f"p{i}" for i in range(4)]
    peft_model = get_peft_model(model, LoraConfig(r=2, lora_alpha=4, target_modules=sorted(linear_modules(model)),
                                                  lora_dropout=0.0))
    before = example_losses(peft_model, tok, data, ids, 2, "fam")
    train(peft_model, tok, data, Training(rank=2, alpha=4, steps=20, batch_size=4, learning_rate=0.05), 1)
    after = example_losses(peft_model, tok, data, ids, 2, "fam")
    assert set(after["fam"]) == set(ids) and all(after["fam"][i] < before["fam"][i] for i in ids)
    pairs = [(seq[:n], seq[n:]) for seq, n in data]
    effects = layer_ablation_effects(peft_model, tok, pairs, 2)
    assert sorted(effects) == [0, 1] and all(len(v) == len(pairs) for v in effects.values())
    assert sum(sum(v) for v in effects.values()) > 0  # removing the trained adapter hurts the trained answers
    peft_model.unload()
