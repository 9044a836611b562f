"""Dotted module paths (an ablation's ``module``, a LoRA placement's ``modules``) are checked
against the model's module tree, built from its config on the meta device: before a run computes
anything, and by ``audit check --deep`` — never an AttributeError at run time."""

import pytest

from audit.errors import ClaimFileError
from interventions.components import module_path_problems
from interventions.skeleton import module_types
from tests.audit.synthetic import cli
from tests.conftest import save, tiny_model
from tests.interventions.test_ablation import claim_file, run

ARCHS = ["llama", "qwen2", "gemma3", "lfm2"]


@pytest.mark.parametrize("arch", ARCHS)
def test_the_skeleton_is_the_real_module_tree(arch):
    model, _ = tiny_model(arch)
    real = {n: "linear" if type(m).__name__ == "Linear" else type(m).__name__ for n, m in model.named_modules() if n}
    assert module_types(model.config) == real


@pytest.mark.parametrize("arch", ARCHS)
def test_every_real_path_passes_and_a_typo_gets_the_real_one(arch):
    model, _ = tiny_model(arch)
    modules = module_types(model.config)
    for name in modules:
        assert module_path_problems(("x",), name, modules) == []
    last = max(n for n, k in modules.items() if k == "linear" and ".layers.1." in n)
    typo = last[:-2] + last[-1:]  # one letter dropped
    [(loc, message, hint)] = module_path_problems(("x",), typo, modules)
    assert loc == ("x",) and typo in message and hint == f"did you mean '{last}'?"


def test_placement_names_must_be_linear_modules_inside_a_decoder_layer():
    model, _ = tiny_model("llama")
    modules = module_types(model.config)
    ok = dict(suffix=True, linear_in_layer=True)
    assert module_path_problems(("x",), "o_proj", modules, **ok) == []
    assert module_path_problems(("x",), "layers.2.mlp.down_proj", modules, **ok) == []
    [(_, message, _)] = module_path_problems(("x",), "layers.2.input_layernorm", modules, **ok)
    assert "not a linear module inside a decoder layer" in message
    [(_, message, _)] = module_path_problems(("x",), "lm_head", modules, **ok)  # linear, but outside the layers
    assert "not a linear module inside a decoder layer" in message
    [(_, _, hint)] = module_path_problems(("x",), "o_prj", modules, **ok)
    assert hint == "did you mean 'o_proj'?"


@pytest.fixture(scope="module")
def model_dir(tmp_path_factory):
    return save(*tiny_model("qwen2"), tmp_path_factory.mktemp("paths"))


BAD_ABLATION = "  kind: ablation\n  target: module\n  method: zero\n  module: model.layers.2.mlp.down_prj"
ACCEPT = "  kind: effect_at_least\n  component: model.layers.2.mlp.down_prj\n  threshold: 0.1"


def test_a_run_rejects_an_unknown_module_path_before_computing_anything(tmp_path, model_dir):
    lc = claim_file(tmp_path, model_dir, BAD_ABLATION, ACCEPT)
    with pytest.raises(ClaimFileError) as e:
        run(lc, tmp_path)
    text = str(e.value)
    assert "c.yaml:" in text and "intervention.module" in text and "did you mean 'model.layers.2.mlp.down_proj'?" in text
    assert not [f for f in (tmp_path / "cache-x").rglob("*") if f.is_file()]  # nothing computed, nothing stored


def test_a_lora_placement_naming_no_module_is_invalid_for_the_model_not_an_errored_run(tmp_path):
    from tests.lora_planted import build_planted, lora_claim

    d = build_planted(tmp_path / "p")
    lc = lora_claim(d, "typo", "placements:\n  a: {placement: modules, modules: [layers.3.self_attn.o_prj]}\n"
                    "  all: {placement: all_linear}\n", "{kind: lora_efficiency, candidate: a, reference: all, "
                    "min_param_ratio: 1}", seeds="[1]")
    with pytest.raises(ClaimFileError, match=r"intervention\.placements\.a\.modules\.0.*did you mean "
                                             r"'layers\.3\.self_attn\.o_proj'"):
        run(lc, tmp_path)


def test_audit_check_deep_checks_against_the_config_and_says_when_it_cannot(tmp_path, model_dir):
    bad = claim_file(tmp_path, model_dir, BAD_ABLATION, ACCEPT, name="bad").path
    good = claim_file(tmp_path, model_dir, BAD_ABLATION.replace("prj", "proj"), ACCEPT.replace("prj", "proj"),
                      name="good").path
    assert cli("check", bad).exit_code == 0  # the file alone cannot tell
    result = cli("check", "--deep", bad, good)
    assert result.exit_code == 4, result.output
    assert "bad.yaml:" in result.output and "did you mean 'model.layers.2.mlp.down_proj'?" in result.output
    assert "ok " in result.output and "good (checked against" in result.output and "qwen2, 4 layers" in result.output
    absent = claim_file(tmp_path, tmp_path / "no-such-model", BAD_ABLATION, ACCEPT, name="absent").path
    result = cli("check", "--deep", absent)
    assert result.exit_code == 0 and "not checked against the model" in result.output, result.output
