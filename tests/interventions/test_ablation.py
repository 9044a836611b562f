"""The general ablation (targets x methods x positions) on tiny models with planted truths."""

import pytest
import torch

from audit.cache import EvidenceCache
from audit.runner import RunOptions, run_claim
from audit.schema import load_claim
from tests.conftest import MAIN_SUITE, save, tiny_model


def claim_file(tmp_path, model_dir, intervention: str, acceptance: str, seeds="[1, 2, 3]", prompts=3,
               families="[arithmetic, copying]", name="c", suite=MAIN_SUITE, controls=""):
    """A planted claim; ``controls``: further entries of the controls mapping (``"random_component: {n: 3}"``)."""
    path = tmp_path / f"{name}.yaml"
    path.write_text(f"""\
id: {name}
statement: "Planted component claim for a test."
model: {model_dir}
suite: {{name: {suite}, families: {families}, prompts_per_family: {prompts}, chat_template: false}}
intervention:
{intervention}
metric: {{kind: kl}}
controls: {{seeds: {seeds}{", " + controls if controls else ""}}}
acceptance:
{acceptance}
""")
    return load_claim(path)


def run(lc, tmp_path, tag="x"):
    return run_claim(lc, RunOptions(evidence_cache=EvidenceCache(tmp_path / f"cache-{tag}")))


@pytest.fixture(scope="module")
def planted_head(tmp_path_factory):
    """Llama where only head 2 of layer 1 writes anything large; every other write is tiny."""
    model, tok = tiny_model("llama")
    with torch.no_grad():
        for i, block in enumerate(model.model.layers):
            block.mlp.down_proj.weight.mul_(0.05)
            w = block.self_attn.o_proj.weight  # [hidden, heads * head_dim]
            w.mul_(0.05)
            if i == 1:
                w[:, 2 * 8:3 * 8].mul_(600.0)
    return save(model, tok, tmp_path_factory.mktemp("planted_head"))


@pytest.fixture(scope="module")
def planted_mlp(tmp_path_factory):
    model, tok = tiny_model("qwen2")
    with torch.no_grad():
        for i, block in enumerate(model.model.layers):
            block.self_attn.o_proj.weight.mul_(0.05)
            block.mlp.down_proj.weight.mul_(30.0 if i == 2 else 0.05)
    return save(model, tok, tmp_path_factory.mktemp("planted_mlp"))


@pytest.fixture(scope="module")
def constant_attention(tmp_path_factory):
    """Qwen2 whose layer-1 attention output is input-independent: o_proj(v_bias), v weights zeroed."""
    model, tok = tiny_model("qwen2")
    with torch.no_grad():
        attn = model.model.layers[1].self_attn
        attn.v_proj.weight.zero_()
        attn.v_proj.bias.copy_(torch.randn_like(attn.v_proj.bias) * 3)
        attn.o_proj.weight.mul_(10)
    return save(model, tok, tmp_path_factory.mktemp("constant_attention"))


HEADS = "  kind: ablation\n  target: head\n  method: zero\n  layers: [0, 1, 2]"


def test_planted_head_is_found_and_wrong_head_refuted(tmp_path, planted_head):
    good = run(claim_file(tmp_path, planted_head, HEADS, "  kind: top_component\n  component: L1.H2"), tmp_path)
    assert good["verdict"] == "supported", good["reasons"]
    assert good["summary"]["top_layer"] == "L1.H2"
    bad = run(claim_file(tmp_path, planted_head, HEADS, "  kind: top_component\n  component: L1.H0", name="bad"), tmp_path)
    assert bad["verdict"] == "refuted"


def test_planted_mlp_beats_attention(tmp_path, planted_mlp):
    spec = "  kind: ablation\n  target: mlp\n  method: zero"
    rec = run(claim_file(tmp_path, planted_mlp, spec, "  kind: top_component\n  component: L2.mlp"), tmp_path)
    assert rec["verdict"] == "supported", rec["reasons"]
    rank = run(claim_file(tmp_path, planted_mlp, spec, "  kind: rank_top_k\n  component: L0.mlp\n  k: 1", name="r"), tmp_path)
    assert rank["verdict"] == "refuted"


def test_positions_respect_causality(tmp_path, planted_mlp):
    # After the last layer only the answer position reaches the logits: first-token ablation there
    # changes nothing, last-token ablation changes everything.
    spec = "  kind: ablation\n  target: residual\n  method: zero\n  layers: [3]\n  positions: [first, middle, last]"
    ok = run(claim_file(tmp_path, planted_mlp, spec, "  kind: exceeds\n  greater: [L3@last]\n  than: [L3@first, L3@middle]"), tmp_path)
    assert ok["verdict"] == "supported"
    effects = ok["summary"]["pooled"]
    assert effects["L3@first"] == pytest.approx(0.0, abs=1e-6) and effects["L3@last"] > 0.1
    wrong = run(claim_file(tmp_path, planted_mlp, spec, "  kind: exceeds\n  greater: [L3@first]\n  than: [L3@last]", name="w"), tmp_path)
    assert wrong["verdict"] == "refuted"


def test_mean_ablation_of_a_constant_does_nothing_but_zeroing_does(tmp_path, constant_attention):
    def effect(method, tag):
        spec = f"  kind: ablation\n  target: attn\n  method: {method}\n  layers: [1]"
        rec = run(claim_file(tmp_path, constant_attention, spec, "  kind: effect_at_least\n  component: L1.attn\n  threshold: 0.01",
                             name=tag), tmp_path, tag)
        return rec
    mean_rec, zero_rec = effect("mean", "m"), effect("zero", "z")
    assert mean_rec["summary"]["pooled"] == pytest.approx(0.0, abs=1e-5)
    assert mean_rec["verdict"] == "refuted" and zero_rec["verdict"] == "supported"


def test_resample_is_deterministic_per_seed_and_differs_across_seeds(tmp_path, planted_mlp):
    spec = "  kind: ablation\n  target: mlp\n  method: resample\n  layers: [2]"
    acc = "  kind: effect_at_least\n  component: L2.mlp\n  threshold: 0.0"
    a = run(claim_file(tmp_path, planted_mlp, spec, acc, seeds="[5, 6]", name="a"), tmp_path, "a")
    b = run(claim_file(tmp_path, planted_mlp, spec, acc, seeds="[5, 6]", name="b"), tmp_path, "b")
    assert a["evidence"]["effects"] == b["evidence"]["effects"]
    per_seed = list(a["summary"]["per_seed"].values())
    assert per_seed[0] != per_seed[1] and all(v > 0 for v in per_seed)


def test_mean_ablation_without_values_fails_loudly(planted_mlp):
    from interventions.ablation import Ablation, AblationValuesMissing
    from interventions.architectures import adapter_for
    from interventions.components import Component

    model, _ = tiny_model("llama")
    spec = Ablation(kind="ablation", target="mlp", method="mean")
    with pytest.raises(AblationValuesMissing):
        spec.hooks(adapter_for(model), model, Component("mlp", 0), torch.ones(1, 3, dtype=torch.long), None)


def test_resample_needs_two_prompts_per_family(tmp_path, planted_mlp):
    spec = "  kind: ablation\n  target: mlp\n  method: resample\n  layers: [2]"
    rec = run(claim_file(tmp_path, planted_mlp, spec, "  kind: effect_at_least\n  component: L2.mlp\n  threshold: 0.0",
                         prompts=1), tmp_path)
    assert rec["verdict"] == "errored" and "resample" in rec["reasons"][0]


def test_module_target_by_dotted_path(tmp_path, planted_mlp):
    spec = "  kind: ablation\n  target: module\n  method: zero\n  module: model.layers.2.mlp.down_proj"
    rec = run(claim_file(tmp_path, planted_mlp, spec,
                         "  kind: effect_at_least\n  component: model.layers.2.mlp.down_proj\n  threshold: 0.1"), tmp_path)
    assert rec["verdict"] == "supported", rec["reasons"]


AGREE = "  kind: effect_at_least\n  component: L1.attn\n  threshold: 0.01"


def _agreement_claim(tmp_path, model_dir, method, others, name):
    lc = claim_file(tmp_path, model_dir, f"  kind: ablation\n  target: attn\n  method: {method}\n  layers: [1]",
                    AGREE, name=name)
    path = lc.path
    path.write_text(path.read_text().replace("controls: {seeds: [1, 2, 3]}",
                                             f"controls: {{seeds: [1, 2, 3], method_agreement: {{methods: {others}}}}}"))
    return load_claim(path)


def test_an_effect_only_zeroing_shows_is_method_dependent(tmp_path, constant_attention):
    """Planted: layer 1's attention writes a constant. Zeroing removes it (a large effect); mean and
    resample ablation put the same constant back (no effect). The claim must not be supported."""
    rec = run(_agreement_claim(tmp_path, constant_attention, "zero", "[mean, resample]", "dep"), tmp_path, "dep")
    assert rec["verdict"] == "inconclusive", rec["reasons"]
    assert rec["reasons"][0].startswith("method-dependent: zero supported, mean refuted, resample refuted")
    matrix = {row["method"]: row for row in rec["evidence"]["controls"]["method_agreement"]}
    assert matrix["mean"]["pooled"] == pytest.approx(0.0, abs=1e-5) and matrix["zero"]["pooled"] > 0.01
    assert "method_agreement" in rec["controls_run"]
    from tests.conftest import rendered

    page = rendered(tmp_path, rec)
    assert "**Method-dependent** (zero supported, mean refuted, resample refuted)" in page
    assert "**Control: method_agreement**" in page and "| mean | refuted |" in page


def test_an_effect_every_method_shows_keeps_its_verdict(tmp_path, planted_mlp):
    lc = claim_file(tmp_path, planted_mlp, "  kind: ablation\n  target: mlp\n  method: zero\n  layers: [2]",
                    "  kind: effect_at_least\n  component: L2.mlp\n  threshold: 0.01", name="agree")
    lc.path.write_text(lc.path.read_text().replace("controls: {seeds: [1, 2, 3]}",
                                                   "controls: {seeds: [1, 2, 3], method_agreement: {methods: [mean]}}"))
    rec = run(load_claim(lc.path), tmp_path, "agree")
    assert rec["verdict"] == "supported", rec["reasons"]
    assert "method agreement: zero, mean all give supported" in rec["reasons"]


@pytest.mark.parametrize("controls, message", [
    ("{seeds: [1, 2, 3], method_agreement: {methods: [zero]}}", "'zero' is the claim's own method"),
    ("{seeds: [1, 2, 3], method_agreement: {methods: [mean, mean]}}", "'mean' listed more than once"),
])
def test_bad_method_agreement_is_invalid(tmp_path, planted_mlp, controls, message):
    from audit.errors import ClaimFileError

    lc = claim_file(tmp_path, planted_mlp, "  kind: ablation\n  target: mlp\n  method: zero\n  layers: [2]",
                    "  kind: effect_at_least\n  component: L2.mlp\n  threshold: 0.01", name="bad")
    lc.path.write_text(lc.path.read_text().replace("controls: {seeds: [1, 2, 3]}", f"controls: {controls}"))
    with pytest.raises(ClaimFileError, match=message):
        load_claim(lc.path)


def test_method_agreement_on_a_kind_that_takes_none_names_the_kinds_that_do(tmp_path):
    from audit.errors import ClaimFileError
    from tests.conftest import write_claim

    path = write_claim(tmp_path / "hub.yaml", model="smollm2-135m")
    path.write_text(path.read_text().replace("seeds: [1, 2, 3]", "seeds: [1, 2, 3]\n  method_agreement: {methods: [mean]}"))
    with pytest.raises(ClaimFileError, match="takes no method_agreement control.*kinds that take it: ablation"):
        load_claim(path)


def _deep_mlp(tmp_path_factory, claimed_scale: float, others: float, name: str):
    """A 24-layer Qwen2 whose MLP at layer 5 is scaled by ``claimed_scale`` and every other MLP by
    ``others`` (attention writes made small): 23 same-kind alternatives, enough for p <= 0.05."""
    model, tok = tiny_model("qwen2", n_layers=24)
    with torch.no_grad():
        for i, block in enumerate(model.model.layers):
            block.self_attn.o_proj.weight.mul_(0.05)
            block.mlp.down_proj.weight.mul_(claimed_scale if i == 5 else others)
    return save(model, tok, tmp_path_factory.mktemp(name))


def _null_claim(tmp_path, model_dir, name, n=199, threshold=0.001):
    lc = claim_file(tmp_path, model_dir, "  kind: ablation\n  target: mlp\n  method: zero\n  layers: [5]",
                    f"  kind: effect_at_least\n  component: L5.mlp\n  threshold: {threshold}", name=name)
    lc.path.write_text(lc.path.read_text().replace("controls: {seeds: [1, 2, 3]}",
                                                   f"controls: {{seeds: [1, 2, 3], random_component: {{n: {n}}}}}"))
    return load_claim(lc.path)


def test_a_component_stronger_than_every_random_one_passes_the_random_component_control(tmp_path, tmp_path_factory):
    rec = run(_null_claim(tmp_path, _deep_mlp(tmp_path_factory, 30.0, 0.05, "specific"), "specific"), tmp_path, "s")
    ctl = rec["evidence"]["controls"]["random_component"]
    assert rec["verdict"] == "supported", rec["reasons"]
    assert ctl["status"] == "passed" and ctl["n_draws"] == 23 and ctl["p"] == pytest.approx(1 / 24)
    assert sorted(ctl["draws"]["1"]) == sorted(f"L{i}.mlp" for i in range(24) if i != 5)  # exhaustive: 23 < 199
    assert "random_component" in rec["controls_run"]
    from tests.conftest import rendered

    assert "random_component: pooled null" in rendered(tmp_path, rec)


def test_a_component_any_random_one_outdoes_is_refuted_by_the_control(tmp_path, tmp_path_factory):
    """Planted: the claimed MLP has a real effect above the threshold, but every other layer's MLP
    does far more: the effect is not specific to it, so the claim must not be supported."""
    rec = run(_null_claim(tmp_path, _deep_mlp(tmp_path_factory, 3.0, 30.0, "generic"), "generic", threshold=1e-4),
              tmp_path, "g")
    ctl = rec["evidence"]["controls"]["random_component"]
    assert ctl["observed"] > 1e-4 and rec["summary"]["interval"][0] > 1e-4  # the main criterion alone: supported
    assert rec["verdict"] == "refuted" and ctl["status"] == "refuted", rec["reasons"]
    assert rec["reasons"][0].startswith("random_component: pooled effect")


def test_too_few_random_components_can_never_pass(tmp_path, planted_mlp):
    rec = run(_few(tmp_path, planted_mlp), tmp_path, "f")
    ctl = rec["evidence"]["controls"]["random_component"]
    assert ctl["n_draws"] == 3 and ctl["status"] == "inconclusive" and rec["verdict"] == "inconclusive"
    assert "cannot reach p <= 0.05" in ctl["reason"]


def _few(tmp_path, model_dir):
    lc = claim_file(tmp_path, model_dir, "  kind: ablation\n  target: mlp\n  method: zero\n  layers: [2]",
                    "  kind: effect_at_least\n  component: L2.mlp\n  threshold: 0.001", name="few")
    lc.path.write_text(lc.path.read_text().replace("controls: {seeds: [1, 2, 3]}",
                                                   "controls: {seeds: [1, 2, 3], random_component: {n: 199}}"))
    return load_claim(lc.path)


@pytest.mark.parametrize("intervention, acceptance, message", [
    ("  kind: ablation\n  target: mlp\n  method: zero\n  layers: [1, 2]",
     "  kind: exceeds\n  greater: [L2.mlp]\n  than: [L1.mlp]", "acceptance 'exceeds' names none"),
    ("  kind: ablation\n  target: module\n  method: zero\n  module: model.layers.2.mlp",
     "  kind: effect_at_least\n  component: model.layers.2.mlp\n  threshold: 0.1", "needs a residual, attn, mlp or head"),
])
def test_random_component_where_it_cannot_apply_is_invalid(tmp_path, planted_mlp, intervention, acceptance, message):
    from audit.errors import ClaimFileError

    lc = claim_file(tmp_path, planted_mlp, intervention, acceptance, name="rc")
    lc.path.write_text(lc.path.read_text().replace("controls: {seeds: [1, 2, 3]}",
                                                   "controls: {seeds: [1, 2, 3], random_component: {n: 19}}"))
    with pytest.raises(ClaimFileError, match=message):
        load_claim(lc.path)
