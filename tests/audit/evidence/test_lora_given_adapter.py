"""LoRA claims that start from an adapter the researcher already has (``placement: adapter``),
on the planted model of tests/lora_planted.py: only layer LIVE can learn the task."""

import json
import shutil

import pytest

from audit.cache import EvidenceCache
from audit.runner import RunOptions, run_claim
from tests.lora_planted import LAYERS, LIVE, build_planted, lora_claim

LIVE_MODULES = f"[layers.{LIVE}.self_attn.o_proj, layers.{LIVE}.mlp.down_proj]"
EVERY = "[" + ", ".join(f"layers.{i}.self_attn.o_proj, layers.{i}.mlp.down_proj" for i in range(LAYERS)) + "]"
EFFICIENCY = "{kind: lora_efficiency, candidate: %s, reference: %s, min_param_ratio: 1, max_exact_match_gap: 0.5}"


@pytest.fixture(scope="module")
def planted(tmp_path_factory):
    return build_planted(tmp_path_factory.mktemp("given"))


@pytest.fixture(scope="module")
def learned(planted, tmp_path_factory):
    """A claim that trains adapters at the live layer and at every layer (one seed), and copies of
    those adapter directories as a researcher would have them (``mine``, ``mine_every``)."""
    cache = EvidenceCache(tmp_path_factory.mktemp("cache"))
    lc = lora_claim(planted, "source", f"placements:\n  live: {{placement: modules, modules: {LIVE_MODULES}}}\n"
                    f"  every: {{placement: modules, modules: {EVERY}}}\n  all: {{placement: all_linear}}\n",
                    EFFICIENCY % ("live", "all"), seeds="[1]")
    rec = run_claim(lc, RunOptions(evidence_cache=cache))
    assert rec["verdict"] != "errored", rec["reasons"]
    for name, copy in (("live", "mine"), ("every", "mine_every")):
        modules = rec["evidence"]["modules"][name]["1"]
        found = [d for d in (cache.root / "adapters").iterdir()
                 if sorted(json.loads((d / "adapter_config.json").read_text())["target_modules"]) == sorted(modules)]
        assert len(found) == 1
        shutil.copytree(found[0], planted / copy)
    return rec


def _run(planted, tmp_path, name, placements, acceptance, seeds="[1]", **kw):
    from interventions.lora_training import TRAININGS

    before = TRAININGS["count"]
    rec = run_claim(lora_claim(planted, name, placements, acceptance, seeds=seeds, **kw),
                    RunOptions(evidence_cache=EvidenceCache(tmp_path / "c")))
    assert rec["verdict"] != "errored", rec["reasons"]
    return rec, TRAININGS["count"] - before


def test_a_given_adapter_measured_as_given_reproduces_its_own_evidence(planted, learned, tmp_path):
    rec, trained_now = _run(planted, tmp_path, "as_given", "placements:\n  mine: {placement: adapter, path: mine, "
                            "train: false}\n  all: {placement: all_linear}\n", EFFICIENCY % ("mine", "all"))
    mine, source = rec["evidence"]["results"]["mine"][0], learned["evidence"]["results"]["live"][0]
    assert trained_now == 1  # only the all-linear arm is trained; the given adapter is measured
    assert rec["evidence"]["modules"]["mine"]["1"] == learned["evidence"]["modules"]["live"]["1"]
    assert mine["exact_by_prompt"] == source["exact_by_prompt"]  # the same weights on the same held-out prompts
    assert mine["train_loss_by_prompt"] == source["train_loss_by_prompt"]
    assert mine["trainable_params"] == source["trainable_params"] and mine["losses"] == []
    given = mine["given_adapter"]
    assert given["path"] == "mine" and given["train"] is False and len(given["sha256"]) == 64 and given["r"] == 4


def test_a_given_adapter_trained_further_starts_where_it_left_off(planted, learned, tmp_path):
    rec, trained_now = _run(planted, tmp_path, "further", "placements:\n  mine: {placement: adapter, path: mine}\n"
                            "  all: {placement: all_linear}\n", EFFICIENCY % ("mine", "all"))
    mine, source = rec["evidence"]["results"]["mine"][0], learned["evidence"]["results"]["live"][0]
    assert trained_now == 2 and len(mine["losses"]) == 40
    # from scratch the first loss is the untrained model's; from the given adapter it is already low
    assert mine["losses"][0] < source["losses"][0] / 2, (mine["losses"][:3], source["losses"][:3])
    assert mine["losses"][0] < 2 * max(source["losses"][-5:]) + 0.05


def test_an_identity_adapter_changes_nothing(planted, tmp_path):
    from peft import LoraConfig, get_peft_model
    from transformers import AutoModelForCausalLM

    base = AutoModelForCausalLM.from_pretrained(str(planted / "model"))
    config = LoraConfig(r=2, lora_alpha=4, target_modules=["o_proj"], lora_dropout=0.0)
    get_peft_model(base, config).save_pretrained(str(planted / "identity"))  # B = 0 at init: the identity
    rec, trained_now = _run(planted, tmp_path, "identity", "placements:\n  id: {placement: adapter, path: identity, "
                            "train: false}\n  all: {placement: all_linear}\n", EFFICIENCY % ("id", "all"))
    row, base_row = rec["evidence"]["results"]["id"][0], rec["evidence"]["baseline"][0]
    assert row["exact_match"] == base_row["exact_match"] and all(
        v == 0.0 for by_id in row["drift_by_prompt"].values() for v in by_id.values())
    assert len(rec["evidence"]["modules"]["id"]["1"]) == 4  # o_proj of each of the 4 layers


def test_random_placement_matched_to_a_given_adapter_has_its_rank_and_parameter_count(planted, learned, tmp_path):
    rec, _ = _run(planted, tmp_path, "matched", "placements:\n  mine: {placement: adapter, path: mine, train: false}\n"
                  "  random: {placement: random_matched, reference: mine}\n",
                  "{kind: lora_efficiency, candidate: mine, reference: random, min_param_ratio: 1, "
                  "max_exact_match_gap: 0.5}", training="{rank: 16, alpha: 8, steps: 5, batch_size: 8, "
                  "learning_rate: 0.02}")
    results = rec["evidence"]["results"]
    assert results["random"][0]["trainable_params"] == results["mine"][0]["trainable_params"]  # r=4, not the claim's 16


def test_adapter_ablation_of_a_given_adapter_finds_its_layer(planted, learned, tmp_path):
    rec, trained_now = _run(planted, tmp_path, "ablate_given", "placement: {placement: adapter, path: mine, "
                            "train: false}\n", "{kind: adapter_concentration, min_correlation: 0.9, max_p: 0.5, "
                            "min_late_share: 0.5}", kind="lora_adapter_ablation", metric="lora_adapter_effect",
                            extra="  permutations: 200\n")
    seed = rec["evidence"]["per_seed"][0]
    assert trained_now == 0 and list(seed["effects"]) == [str(LIVE)]  # only the live layer carries the adapter


def test_adapter_ablation_of_a_given_every_layer_adapter_is_judged_without_training_noise(planted, learned, tmp_path):
    rec, trained_now = _run(planted, tmp_path, "ablate_every", "placement: {placement: adapter, path: mine_every, "
                            "train: false}\n", "{kind: adapter_concentration, min_correlation: 0.9, max_p: 0.5, "
                            "min_late_share: 0.5}", kind="lora_adapter_ablation", metric="lora_adapter_effect",
                            extra="  permutations: 200\n", seeds="[1, 2, 3]")  # seeds: three held-out splits
    assert trained_now == 0
    for seed in rec["evidence"]["per_seed"]:
        assert len(seed["effects"]) == LAYERS and max(seed["effects"], key=seed["effects"].get) == str(LIVE)
    assert not any("noise" in r for r in rec["reasons"]), rec["reasons"]  # not trained here: no loss noise gate
    assert rec["verdict"] == "supported", rec["reasons"]  # LIVE = 3 of 4 is late, and the only layer with a norm


@pytest.mark.parametrize("setup, message", [
    (lambda d: None, "adapter directory .*nowhere not found"),
    (lambda d: (d / "nowhere").mkdir(), "has no adapter_config.json"),
    (lambda d: ((d / "nowhere").mkdir(), (d / "nowhere" / "adapter_config.json").write_text(
        '{"peft_type": "IA3", "target_modules": ["o_proj"]}')), "peft_type is 'IA3'"),
    (lambda d: ((d / "nowhere").mkdir(), (d / "nowhere" / "adapter_config.json").write_text(
        '{"peft_type": "LORA", "r": 4, "lora_alpha": 8, "target_modules": ["o_proj"]}')), "has no adapter weights"),
])
def test_a_bad_adapter_path_is_caught_at_check_with_its_location(tmp_path, setup, message):
    from audit.errors import ClaimFileError

    d = build_planted(tmp_path / "p")
    setup(d)
    with pytest.raises(ClaimFileError, match=message) as e:
        lora_claim(d, "bad", "placements:\n  mine: {placement: adapter, path: nowhere}\n  all: {placement: all_linear}\n",
                   EFFICIENCY % ("mine", "all"))
    assert "bad.yaml:" in str(e.value) and "intervention.placements.mine.path" in str(e.value)


def test_an_adapter_for_another_architecture_fails_with_a_clear_error(planted, tmp_path):
    import torch

    from interventions.lora_training import resolve
    from interventions.lora import GivenAdapter
    from transformers import AutoModelForCausalLM

    d = planted / "foreign"
    d.mkdir(exist_ok=True)
    (d / "adapter_config.json").write_text(json.dumps({"peft_type": "LORA", "r": 2, "lora_alpha": 4,
                                                       "target_modules": ["c_attn"]}))
    torch.save({}, d / "adapter_model.bin")
    model = AutoModelForCausalLM.from_pretrained(str(planted / "model"))
    with pytest.raises(ValueError, match="matches no module of this model.*another architecture"):
        resolve({"f": GivenAdapter(placement="adapter", path="foreign")}, model, 1, None, planted)
