"""The random_component control of layer-skip claims (audit/evidence/layer_skip_random.py) on a
planted 8-layer model: layers 2 and 5 write nothing and layer 3 writes 30x more than the rest.

- skipping {2, 5} keeps every top-5 token; 19 random pairs of other layers cannot: passed;
- skipping {3, 6} drops the planted writer; most random pairs keep it: at the null's bottom, refuted
  ("no better than random");
- a model whose every layer writes nothing: every set keeps everything, a tie: inconclusive.
The skip verdict is the same with and without the control (reported, never judged)."""

import math

import pytest
import torch

from audit.cache import EvidenceCache
from audit.runner import RunOptions, run_claim
from controls.random_component import draw_layer_sets
from tests.audit.evidence.test_layer_skip import skip_claim
from tests.conftest import rendered, save, tiny_model
from tests.interventions.test_layer_skip import make_identity

LAYERS = 8
CONFIGS = "[{layers: [2, 5]}, {layers: [3, 6]}]"


def _model(root, dead):
    model, tok = tiny_model("llama", n_layers=LAYERS, seed=3)
    make_identity(model, dead)
    if 3 not in dead:
        with torch.no_grad():
            for p in (model.model.layers[3].self_attn.o_proj, model.model.layers[3].mlp.down_proj):
                p.weight.mul_(30.0)
    return save(model, tok, root)


@pytest.fixture(scope="module")
def planted(tmp_path_factory):
    return _model(tmp_path_factory.mktemp("skip_rc"), [2, 5])


def _run(tmp_path, model, name, controls=True):
    lc = skip_claim(tmp_path / f"{name}.yaml", model, CONFIGS, min_speedup=0.01, timing_tolerance=100, prompts=4)
    if controls:
        lc.path.write_text(lc.path.read_text().replace("seeds: [1, 2]", "seeds: [1, 2]\n  random_component: {n: 19}"))
        from audit.schema import load_claim
        lc = load_claim(lc.path)
    return run_claim(lc, RunOptions(evidence_cache=EvidenceCache(tmp_path / "cache")))


@pytest.mark.parametrize("k,n", [(1, 3), (2, 19), (2, 40), (4, 19)])
def test_the_drawn_sets_are_distinct_of_the_same_size_and_never_the_config(k, n):
    own = list(range(k))
    sets = draw_layer_sets(own, LAYERS, seed=7, n=n, label="x")
    assert len(sets) == min(n, math.comb(LAYERS, k) - 1)
    assert all(len(s) == k and s == sorted(s) and s != own for s in sets)
    assert len({tuple(s) for s in sets}) == len(sets)
    assert sets == draw_layer_sets(own, LAYERS, seed=7, n=n, label="x") != draw_layer_sets(own, LAYERS, 8, n, "x")


def test_dead_layers_beat_random_sets_and_a_planted_writer_does_not(tmp_path, planted):
    rec = _run(tmp_path, planted, "rc")
    nulls = rec["evidence"]["controls"]["random_component"]
    dead, writer = nulls["L2,5"], nulls["L3,6"]
    assert dead["observed"] == 1.0 and dead["status"] == "passed" and dead["p"] <= 0.05, dead["reason"]
    assert all(all(sorted(s) != [2, 5] for s in sets) for sets in dead["draws"].values())
    assert writer["status"] == "refuted" and writer["observed"] <= writer["q75"], writer["reason"]
    assert "random_component" in rec["controls_run"]
    assert any("no better than random" in r for r in rec["reasons"])
    bare = _run(tmp_path, planted, "bare", controls=False)
    assert rec["verdict"] == bare["verdict"] and rec["summary"]["config_status"] == bare["summary"]["config_status"]
    page = rendered(tmp_path, rec)
    for text in ("Control: random_component", "null-random-layers-0", "no better than random layers"):
        assert text in page, text


def test_when_every_layer_writes_nothing_the_control_ties(tmp_path):
    model = _model(tmp_path / "m", list(range(LAYERS)))
    rec = _run(tmp_path, model, "tie")
    for ctl in rec["evidence"]["controls"]["random_component"].values():
        assert ctl["status"] == "inconclusive" and "tie" in ctl["reason"], ctl["reason"]


@pytest.mark.parametrize("arch", ["llama", "qwen2", "gemma3", "lfm2"])
def test_the_null_scores_top5_exactly_as_the_config_does(arch):
    """The null's cheap path (teacher forcing only) gives the config metric's top-5 overlap, bit for bit."""
    from interventions.architectures import adapter_for
    from interventions.compute.deployment import per_prompt_metrics, top5_overlaps
    from interventions.generation import greedy, score

    model, tok = tiny_model(arch, n_layers=4, seed=5)
    adapter = adapter_for(model.config)
    pairs = {f"p{i}": (tok(text)["input_ids"], tok(" x")["input_ids"][-1:]) for i, text in
             enumerate(["abc def", "ghi", "jk lm no pq", "rs"])}
    ids = sorted(pairs)
    gen = greedy(model, tok, [pairs[i][0] for i in ids], 6, 3, exact_length=True)
    forced = score(model, tok, [(pairs[i][0], g) for i, g in zip(ids, gen)], 3)
    base = {i: {"continuation": g, "topk": f.topk, "answer_nll": 0.0} for i, g, f in zip(ids, gen, forced)}
    spec = type("Spec", (), {"max_new_tokens": 6})()
    for skip in ([1], [0, 2], [3]):
        full = per_prompt_metrics(model, adapter, tok, pairs, base, skip, spec, 3)
        assert top5_overlaps(model, adapter, tok, pairs, base, skip, 3) == {i: full[i]["top5_overlap"] for i in ids}
    assert set(top5_overlaps(model, adapter, tok, pairs, base, [1], 3).values()) != {1.0}  # skipping moves top-5
