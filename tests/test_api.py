"""The README's Python API example runs as written on a tiny in-memory model and on a PeftModel."""

import re
from pathlib import Path

import pytest

from audit import Result, check, run
from tests.conftest import write_claim

REPO = Path(__file__).resolve().parents[1]


def readme_example() -> str:
    text = (REPO / "README.md").read_text()
    section = text[text.index("## Python API"):]
    return re.search(r"```python\n(.*?)```", section, re.S).group(1)


def run_example(model_dir: Path, claim: Path, out: Path) -> dict:
    code = (readme_example().replace('"path/to/checkpoint"', repr(str(model_dir)))
            .replace('"claims/smollm2_hub.yaml"', repr(str(claim))).replace('"audit-out"', repr(str(out))))
    scope: dict = {}
    exec(compile(code, "README.md:python-api", "exec"), scope)
    return scope


def test_readme_example_on_an_in_memory_model(tmp_path, tiny_dir):
    model_dir = tiny_dir("api_llama_hub2", "llama", hub=2)
    claim = write_claim(tmp_path / "c.yaml", model="not-used-here/any", layer=2, prompts=1, families=("arithmetic",))
    scope = run_example(model_dir, claim, tmp_path / "out")
    result = scope["result"]
    assert isinstance(result, Result) and result.verdict in ("supported", "inconclusive")
    assert result.provenance["model_requested"].startswith("object:LlamaForCausalLM:")
    assert result.provenance["model_object"]["state_sha256"] and (tmp_path / "out" / "ledger.jsonl").is_file()
    again = run(claim, model=scope["model"], tokenizer=scope["tokenizer"])
    assert again.evidence["effects"] == result.evidence["effects"], "same object, same evidence"
    assert again.evidence["n_prompts"]["from_cache"] == 3, "content-addressed: the second run hits the cache"


def test_a_peft_model_is_audited_merged_and_left_unchanged(tmp_path, tiny_dir):
    import torch
    from peft import LoraConfig, PeftModel, get_peft_model
    from transformers import AutoModelForCausalLM, AutoTokenizer

    model_dir = tiny_dir("api_llama_hub2", "llama", hub=2)
    claim = write_claim(tmp_path / "c.yaml", model="not-used-here/any", layer=2, prompts=1, families=("arithmetic",))
    tok = AutoTokenizer.from_pretrained(model_dir)
    base = AutoModelForCausalLM.from_pretrained(model_dir)
    plain = run(claim, model=base, tokenizer=tok)
    torch.manual_seed(0)
    peft = get_peft_model(AutoModelForCausalLM.from_pretrained(model_dir),
                          LoraConfig(r=4, target_modules=["o_proj"], init_lora_weights=False))
    result = run(claim, model=peft, tokenizer=tok)
    obj = result.provenance["model_object"]
    assert obj["object_class"].startswith("PeftModel") and obj["peft"]["target_modules"] == ["o_proj"]
    assert obj["state_sha256"] != plain.provenance["model_object"]["state_sha256"]
    assert result.evidence["effects"] != plain.evidence["effects"], "the adapter changes what is measured"
    assert isinstance(peft, PeftModel) and any("lora_A" in n for n, _ in peft.named_parameters())


def test_check_returns_problems_not_exceptions(tmp_path):
    bad = tmp_path / "bad.yaml"
    bad.write_text("id: x\nstatement: too short\n")
    problems = check(bad)
    assert problems and all(p.file.endswith("bad.yaml") for p in problems)


def test_a_non_model_object_is_a_clear_error(tmp_path):
    claim = write_claim(tmp_path / "c.yaml", model="x/y")
    with pytest.raises(TypeError, match="expected an alias"):
        run(claim, model=3.5)
