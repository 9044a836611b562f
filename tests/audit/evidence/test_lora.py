"""LoRA training claims on tiny models with planted truths (the planted model: tests/lora_planted.py)."""

import pytest
import torch

from audit.cache import EvidenceCache
from audit.runner import RunOptions, run_claim
from tests.conftest import rendered, tiny_model
from tests.lora_planted import HARD, LAYERS, LIVE, PLACEMENTS, build_planted, lora_claim


@pytest.fixture(scope="module")
def planted(tmp_path_factory):
    return build_planted(tmp_path_factory.mktemp("lora"))


def test_atlas_placement_wins_where_only_the_live_layer_can_learn(planted, tmp_path):
    from interventions.lora_training import TRAININGS

    # margin 0.3: with the seed as the unit, 3 seeds resolve ~0.3 here (each seed draws other unlearnable prompts)
    lc = lora_claim(planted, "efficiency", PLACEMENTS, "{kind: lora_efficiency, candidate: atlas, reference: all, "
                    "control: random, min_param_ratio: 5, max_exact_match_gap: 0.2, min_margin_over_control: 0.3}")
    options = RunOptions(evidence_cache=EvidenceCache(tmp_path / "c"))
    before = TRAININGS["count"]
    rec = run_claim(lc, options)
    ev = rec["evidence"]
    assert rec["verdict"] == "supported", rec["reasons"]
    assert rec["evidence_kinds"] == ["training"]  # training the adapters is one kind, not one per placement
    assert ev["dependencies"][0]["layers"] == [LIVE]
    assert all(m.startswith(f"model.layers.{LIVE}.") for m in ev["modules"]["atlas"]["1"])
    hard = {r["seed"]: [p for p, v in r["exact_by_prompt"]["zz"].items() if int(p[3:]) % HARD == HARD - 1]
            for r in ev["results"]["atlas"]}
    for r in ev["results"]["atlas"]:  # the zz prompts learned, the unlearnable ones not: no ceiling
        assert len(r["exact_by_prompt"]["zz"]) == 24 and len(r["train_loss_by_prompt"]["zz"]) == 16
        assert all(v == float(p not in hard[r["seed"]]) for p, v in r["exact_by_prompt"]["zz"].items())
        assert len(r["drift_by_prompt"]["other"]) == 3 and r["loss_noise"] > 0
    assert all(r["exact_match"] == 0.0 for r in ev["results"]["random"])  # zero inputs: nothing learned
    checks = {c["check"]: c for c in rec["summary"]["checks"]}
    assert checks["exact match atlas - random"]["low"] > 0.3 and rec["summary"]["strong"] in (True, False)
    assert ev["results"]["random"][0]["trainable_params"] == ev["results"]["atlas"][0]["trainable_params"]
    assert all(r["losses"][-1] < r["losses"][0] for r in ev["results"]["atlas"])
    assert TRAININGS["count"] - before == 9  # 3 placements x 3 seeds (the seed is the unit of the intervals)
    assert [b["exact_match"] for b in ev["baseline"]] == [0.0, 0.0, 0.0]  # untrained, the model never says zz
    assert all(r["train_memory"]["peak_mb"] > 0 for rows in ev["results"].values() for r in rows)
    assert all(r["json_parse_rate"] is None for r in ev["results"]["atlas"])  # zz is no JSON answer
    again = run_claim(lc, options)  # adapters come from the cache: nothing is retrained
    assert TRAININGS["count"] - before == 9
    assert again["evidence"]["results"] == {k: [{**r, "from_cache": True} for r in v] for k, v in ev["results"].items()}
    page = rendered(tmp_path, rec)
    assert "Placements (per seed)" in page and "Declared budget per run: 40 steps" in page
    assert "no adapter (base model)" in page and "9 of 9 adapters trained now" in page
    assert "95% interval" in page and "exact match atlas - random" in page and "Within-run loss noise" in page


def test_qlora_claim_trains_on_an_nf4_base_end_to_end(tmp_path):
    from tests.lora_planted import build_planted

    d = build_planted(tmp_path / "q", hidden=64)  # NF4 on CPU packs blocks of 64 inputs
    lc = lora_claim(d, "qlora", PLACEMENTS.replace("  random: {placement: random_matched, reference: atlas}\n", ""),
                    "{kind: lora_efficiency, candidate: atlas, reference: all, min_param_ratio: 2, "
                    "max_exact_match_gap: 0.5}", seeds="[1]", training="{rank: 4, alpha: 8, steps: 40, batch_size: 8, "
                    "learning_rate: 0.02, qlora: true}")
    rec = run_claim(lc, RunOptions(evidence_cache=EvidenceCache(tmp_path / "c")))
    ev = rec["evidence"]
    assert rec["verdict"] != "errored", rec["reasons"]  # computed (whatever the intervals say)
    assert ev["training"]["qlora"] is True
    assert all(r["losses"][-1] < r["losses"][0] for r in ev["results"]["atlas"])  # the live layer learns on NF4
    assert "QLoRA (NF4 base)" in rendered(tmp_path, rec)


def test_a_placement_at_a_dead_layer_is_refuted(planted, tmp_path):
    lc = lora_claim(planted, "dead", """\
        placements:
          dead: {placement: modules, modules: [layers.0.self_attn.o_proj, layers.0.mlp.down_proj]}
          all: {placement: all_linear}
        """, "{kind: lora_efficiency, candidate: dead, reference: all, min_param_ratio: 5, max_exact_match_gap: 0.2}")
    rec = run_claim(lc, RunOptions(evidence_cache=EvidenceCache(tmp_path / "c")))
    assert rec["verdict"] == "refuted" and rec["reasons"][0].startswith("exact match dead - all"), rec["reasons"]


def test_random_matched_has_exactly_the_reference_parameter_count():
    from interventions.lora import Atlas, Modules, RandomMatched
    from interventions.lora_training import resolve

    model, _ = tiny_model("qwen2", n_layers=4)
    placements = {"ref": Modules(placement="modules", modules=["layers.2.mlp.down_proj", "layers.1.self_attn.q_proj"]),
                  "rnd": RandomMatched(placement="random_matched", reference="ref")}
    shapes = {n: (m.in_features, m.out_features) for n, m in model.named_modules() if isinstance(m, torch.nn.Linear)}
    for seed in range(5):
        got = resolve(placements, model, seed, lambda claim, k: [])
        assert sorted(shapes[n] for n in got["rnd"]) == sorted(shapes[n] for n in got["ref"])
        assert not set(got["rnd"]) & set(got["ref"])
    assert resolve(placements, model, 1, None) == resolve(placements, model, 1, None)  # the seed decides
    with pytest.raises(ValueError, match="no linear module matches 'nope'"):
        resolve({"a": Atlas(placement="atlas", claim="x", top_k=1, modules=["nope"])}, model, 0, lambda c, k: [1])


def test_adapter_ablation_finds_the_live_layer(planted, tmp_path):
    every = ", ".join(f"layers.{i}.self_attn.o_proj, layers.{i}.mlp.down_proj" for i in range(LAYERS))
    lc = lora_claim(planted, "ablate", f"placement: {{placement: modules, modules: [{every}]}}\n",
                    "{kind: adapter_concentration, min_correlation: 0.9, max_p: 0.5, min_late_share: 0.5}",
                    kind="lora_adapter_ablation", metric="lora_adapter_effect", extra="  permutations: 200\n")
    rec = run_claim(lc, RunOptions(evidence_cache=EvidenceCache(tmp_path / "c")))
    assert rec["verdict"] == "supported", rec["reasons"]
    assert rec["evidence_kinds"] == ["ablation"]  # training builds the adapter; the ablation is the evidence
    assert rec["summary"]["permutation_p"] < 0.5 and rec["summary"]["checks"][0]["check"] == "norm-effect correlation"
    for s in rec["evidence"]["per_seed"]:
        assert len(s["effects_by_prompt"]["zz"]) == 24
        assert all(len(by_layer) == LAYERS for by_layer in s["effects_by_prompt"]["zz"].values())
        assert max(s["effects"], key=lambda k: s["effects"][k]) == str(LIVE)
        assert all(s["norms"][k] == 0.0 for k in s["norms"] if k != str(LIVE))  # zero input: B stays at its zero init
    assert "Pearson r (norm, effect)" in rendered(tmp_path, rec)


def test_sweep_finds_the_learning_rate_that_learns_and_refutes_the_one_that_cannot(planted, tmp_path):
    points = """\
        points:
          - {label: learns, learning_rate: 0.02}
          - {label: frozen, learning_rate: 1.0e-7}
        """
    options = RunOptions(evidence_cache=EvidenceCache(tmp_path / "c"))
    good = run_claim(lora_claim(planted, "lr_good", points, "{kind: sweep_best, metric: final_loss, best: learns, "
                                "margin_relative: 0.5}", kind="lora_sweep", metric="lora_training_loss"), options)
    assert good["verdict"] == "supported", good["reasons"]
    bad = run_claim(lora_claim(planted, "lr_bad", points, "{kind: sweep_best, metric: final_loss, best: frozen}",
                               kind="lora_sweep", metric="lora_training_loss"), options)
    assert bad["verdict"] == "refuted"
    assert "Loss is not quality" in rendered(tmp_path, bad)
    assert bad["evidence"]["results"] == good["evidence"]["results"] | {
        k: [{**r, "from_cache": True} for r in v] for k, v in good["evidence"]["results"].items()}


def test_data_formats_render_the_same_example_four_ways():
    from types import SimpleNamespace

    from interventions.lora_training import examples
    from tests.conftest import byte_tokenizer

    tok = byte_tokenizer()
    prompts = [SimpleNamespace(prompt="first question", answer="A1"), SimpleNamespace(prompt="second question", answer="B2")]
    formats = {f: examples(tok, prompts, f, 512) for f in ("plain", "chat", "chat_multiturn_verbose", "bad")}
    for fmt, exs in formats.items():
        ids, n_prompt = exs[1]
        answer = tok.decode(ids[n_prompt:], skip_special_tokens=True)
        assert answer.strip() == "B2", fmt  # the loss is always on the same answer tokens
    assert "B2" in tok.decode(formats["bad"][1][0][:formats["bad"][1][1]])  # the bad control leaks the answer
    assert "second question" in tok.decode(formats["plain"][1][0][:formats["plain"][1][1]])


def test_an_acceptance_naming_an_untrained_placement_is_invalid_with_a_hint(planted):
    from audit.errors import ClaimFileError

    with pytest.raises(ClaimFileError, match="acceptance names 'atlaz', which this claim does not train.*'atlas'"):
        lora_claim(planted, "typo", PLACEMENTS, "{kind: lora_efficiency, candidate: atlaz, reference: all, "
                   "min_param_ratio: 5}")
