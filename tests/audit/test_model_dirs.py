"""Hostile and broken model directories: no code from a model dir ever runs, and every broken dir
ends the claim *errored* with a one-line message (never a traceback, never a prompt)."""

import builtins
import json
import os
import pty
import shutil
import subprocess
import sys
import time

import pytest

from audit import ledger
from audit.cache import EvidenceCache
from audit.models import BadModelDir, load_model
from audit.runner import RunOptions, run_claim
from audit.schema import load_claim
from tests.conftest import REPO, save, tiny_model, write_claim


@pytest.fixture(scope="module")
def base_dir(tmp_path_factory):
    model, tok = tiny_model("llama", n_layers=2, hidden=16)
    return save(model, tok, tmp_path_factory.mktemp("base") / "m")


@pytest.fixture(autouse=True)
def private_cache(tmp_path, monkeypatch):
    monkeypatch.setenv("MI_AUDIT_CACHE", str(tmp_path / "model-cache"))  # weight hashes stay in tmp


def variant(base, target, config=None, files=None, remove=()):
    """A copy of ``base`` with config.json keys overridden, extra files written, files removed."""
    shutil.copytree(base, target)
    if config is not None:
        data = json.loads((target / "config.json").read_text())
        (target / "config.json").write_text(json.dumps({**data, **config}))
    for name, text in (files or {}).items():
        (target / name).write_text(text) if isinstance(text, str) else (target / name).write_bytes(text)
    for name in remove:
        (target / name).unlink()
    return target


def evil_code(marker) -> str:
    """A module that leaves a marker file if it is ever imported."""
    return (f"import pathlib\npathlib.Path({str(marker)!r}).write_text('ran')\n"
            "class EvilConfig: pass\nclass EvilModel: pass\n")


def evil_dir(base, tmp_path, model_type="evil_net"):
    marker = tmp_path / "marker"
    auto_map = {"AutoConfig": "evil.EvilConfig", "AutoModelForCausalLM": "evil.EvilModel"}
    d = variant(base, tmp_path / "evil", config={"model_type": model_type, "auto_map": auto_map,
                                                 "architectures": ["EvilModel"]},
                files={"evil.py": evil_code(marker)})
    return d, marker


def errored(tmp_path, model) -> dict:
    lc = load_claim(write_claim(tmp_path / "c.yaml", model=str(model), layer=1, prompts=1, seeds=(1,)))
    rec = run_claim(lc, RunOptions(evidence_cache=EvidenceCache(tmp_path / "cache")))
    assert rec["verdict"] == "errored" and rec["exit_code"] == 3, rec["reasons"]
    return rec


@pytest.mark.parametrize("model_type", ["evil_net", "llama"])
def test_a_dir_with_an_auto_map_ends_errored_and_its_code_never_runs(base_dir, tmp_path, model_type, monkeypatch):
    asked = []
    monkeypatch.setattr(builtins, "input", lambda *a: asked.append(a) or "y")  # a prompt would be answered "y"
    d, marker = evil_dir(base_dir, tmp_path, model_type)
    rec = errored(tmp_path, d)
    assert "auto_map" in rec["reasons"][0] and "trust_remote_code=False" in rec["reasons"][0]
    assert not marker.exists() and not asked


def test_a_tokenizer_with_an_auto_map_is_refused(base_dir, tmp_path):
    marker = tmp_path / "marker"
    tok_config = json.loads((base_dir / "tokenizer_config.json").read_text())
    tok_config["auto_map"] = {"AutoTokenizer": ["evil.EvilTokenizer", None]}
    d = variant(base_dir, tmp_path / "m", files={"tokenizer_config.json": json.dumps(tok_config),
                                                "evil.py": evil_code(marker)})
    rec = errored(tmp_path, d)
    assert "tokenizer_config.json has an auto_map" in rec["reasons"][0] and not marker.exists()


def test_transformers_itself_is_told_not_to_run_code(base_dir, tmp_path, monkeypatch):
    """Without the pre-check, every load still passes trust_remote_code=False: no prompt, no code."""
    import audit.models as models

    asked = []
    monkeypatch.setattr(builtins, "input", lambda *a: asked.append(a) or "y")
    monkeypatch.setattr(models, "check_model_dir", lambda directory: None)
    d, marker = evil_dir(base_dir, tmp_path)
    with pytest.raises(BadModelDir, match="could not be loaded"):
        load_model(str(d))
    assert not marker.exists() and not asked


def _cli(tmp_path, model, **stdin) -> subprocess.CompletedProcess:
    claim = write_claim(tmp_path / "c.yaml", model=str(model), layer=1, prompts=1, seeds=(1,))
    env = {**os.environ, "MI_AUDIT_EVIDENCE_CACHE": str(tmp_path / "ev"), "MI_AUDIT_CACHE": str(tmp_path / "mc")}
    return subprocess.run([sys.executable, "-m", "audit.cli", "run", str(claim), "--out", str(tmp_path / "out")],
                          capture_output=True, text=True, cwd=REPO, env=env, timeout=300, **stdin)


def _on_a_terminal(tmp_path, model) -> subprocess.CompletedProcess:
    """The CLI with a pseudo-terminal on stdin that answers "y" to any prompt."""
    master, slave = pty.openpty()
    try:
        os.write(master, b"y\ny\ny\n")
        return _cli(tmp_path, model, stdin=slave)
    finally:
        os.close(master)
        os.close(slave)


def test_cli_on_a_custom_code_dir_answering_yes_on_stdin_and_on_a_terminal(base_dir, tmp_path):
    d, marker = evil_dir(base_dir, tmp_path)
    for proc in (_cli(tmp_path, d, input="y\ny\ny\n"), _on_a_terminal(tmp_path, d)):
        out = proc.stdout + proc.stderr
        assert proc.returncode == 3, out
        assert "Traceback" not in out and "Do you wish to run the custom code" not in out
        assert "auto_map" in out and not marker.exists()
    records, _ = ledger.read(tmp_path / "out")
    assert len(records) == 2 and all(r["verdict"] == "errored" for r in records)


BROKEN = {
    "garbage_config": ({"config.json": b"\x00\xff{not json"}, (), "config.json is not valid JSON"),
    "config_is_a_list": ({"config.json": "[1, 2, 3]"}, (), "expected a JSON object, got a list"),
    "config_is_a_string": ({"config.json": '"llama"'}, (), "expected a JSON object, got a str"),
    "no_tokenizer": ({}, ("tokenizer.json", "tokenizer_config.json"), "has no tokenizer"),
    "garbage_tokenizer": ({"tokenizer.json": "{]"}, (), "the tokenizer"),
    "unknown_model_type": (None, (), "model_type 'not_a_real_arch' is not an architecture"),
    "no_model_type": (None, (), "model_type None is not an architecture"),
    "bad_layer_count": (None, (), "num_hidden_layers"),
    "garbage_weights": ({"model.safetensors": b"\x00" * 64}, (), "SafetensorError"),  # weights load lazily
}
CONFIGS = {"unknown_model_type": {"model_type": "not_a_real_arch"}, "no_model_type": {"model_type": None},
           "bad_layer_count": {"num_hidden_layers": "many"}}


@pytest.mark.parametrize("case", sorted(BROKEN))
def test_broken_model_dirs_end_errored_with_a_message(base_dir, tmp_path, case):
    files, remove, message = BROKEN[case]
    d = variant(base_dir, tmp_path / "m", config=CONFIGS.get(case), files=files, remove=remove)
    rec = errored(tmp_path, d)
    assert message in rec["reasons"][0] and "\n" not in rec["reasons"][0]


def test_config_json_that_is_a_directory_or_a_device(base_dir, tmp_path):
    d = variant(base_dir, tmp_path / "m", remove=("config.json",))
    (d / "config.json").mkdir()
    assert "no config.json" in errored(tmp_path, d)["reasons"][0]
    (d / "config.json").rmdir()
    (d / "config.json").symlink_to("/dev/zero")
    t = time.perf_counter()
    assert "no config.json" in errored(tmp_path, d)["reasons"][0] and time.perf_counter() - t < 30


def test_broken_dir_through_the_cli_is_one_line_exit_3_and_recorded(base_dir, tmp_path):
    from typer.testing import CliRunner

    from audit.cli import app

    d = variant(base_dir, tmp_path / "m", files={"config.json": "[1, 2]"})
    claim = write_claim(tmp_path / "c.yaml", model=str(d), layer=1, prompts=1, seeds=(1,))
    result = CliRunner().invoke(app, ["run", str(claim), "--out", str(tmp_path / "out")])
    assert result.exit_code == 3, result.output
    assert result.exception is None or isinstance(result.exception, SystemExit)
    assert "Traceback" not in result.output and "errored" in result.output
    (rec,) = ledger.read(tmp_path / "out")[0]
    assert rec["verdict"] == "errored" and "config.json: expected a JSON object" in rec["reasons"][0]
