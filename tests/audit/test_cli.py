"""The CLI end to end on tiny models: planted truths, exit codes, bad files, no tracebacks."""

import json
import subprocess
import sys

import pytest
from typer.testing import CliRunner

from audit.cli import app
from audit import ledger
from tests.conftest import REPO, write_claim

runner = CliRunner()


def run(*args):
    return runner.invoke(app, [str(a) for a in args])


@pytest.fixture(scope="module")
def planted(tiny_dir):
    return {"llama": tiny_dir("llama_hub2", "llama", hub=2), "qwen2": tiny_dir("qwen_hub1", "qwen2", hub=1),
            "flat": tiny_dir("llama_silent", "llama", silent=True)}


@pytest.mark.parametrize("arch,hub", [("llama", 2), ("qwen2", 1)])
def test_planted_hub_supported_and_wrong_layer_refuted(tmp_path, planted, arch, hub):
    good = write_claim(tmp_path / "good.yaml", model=planted[arch], layer=hub)
    bad = write_claim(tmp_path / "bad.yaml", model=planted[arch], layer=3, expect="supported")
    out = tmp_path / "out"
    result = run("run", good, "--out", out)
    assert result.exit_code == 0, result.output
    result = run("run", bad, "--out", out)
    assert result.exit_code == 1, result.output  # refuted contradicts expect: supported
    records, warnings = ledger.read(out)
    assert [r["verdict"] for r in records] == ["supported", "refuted"] and not warnings
    assert records[0]["summary"]["top_layer"] == hub
    assert records[0]["confidence"] in {"low", "medium"}
    prov = records[0]["provenance"]
    for key in ("model_id", "weights_sha256", "claim_sha256", "suite_version", "seeds", "packages", "wall_time_s"):
        assert key in prov
    html = (out / "index.html").read_text()
    assert "Refuted" in html and "plots/good-layers.png" in html
    assert (out / "plots" / "good-heatmap.png").stat().st_size > 1000


def test_expect_refuted_matches(tmp_path, planted):
    claim = write_claim(tmp_path / "c.yaml", model=planted["llama"], layer=0, expect="refuted")
    assert run("run", claim, "--out", tmp_path / "o").exit_code == 0


def test_no_layer_stands_out_is_inconclusive(tmp_path, planted):
    claim = write_claim(tmp_path / "c.yaml", model=planted["flat"], layer=1)
    result = run("run", claim, "--out", tmp_path / "o")
    assert result.exit_code == 2, result.output
    (rec,) = ledger.read(tmp_path / "o")[0]
    assert rec["verdict"] == "inconclusive" and "flat" in rec["reasons"][0]


def test_zero_output_on_bias_free_model_is_flat(tmp_path, planted):
    claim = write_claim(tmp_path / "c.yaml", model=planted["llama"], layer=2, method="zero_output")
    assert run("run", claim, "--out", tmp_path / "o").exit_code == 2
    (rec,) = ledger.read(tmp_path / "o")[0]
    assert "flat" in rec["reasons"][0]


def test_missing_weights_pending_with_instructions(tmp_path):
    claim = write_claim(tmp_path / "c.yaml", model="Qwen/Qwen2.5-0.5B", layer=2)
    result = run("run", claim, "--out", tmp_path / "o")
    assert result.exit_code == 7
    (rec,) = ledger.read(tmp_path / "o")[0]
    assert rec["verdict"] == "pending" and "--model" in rec["reasons"][0]
    html = (tmp_path / "o" / "index.html").read_text()
    assert "Pending" in html and "None: every claim's evidence could be computed." in html  # not listed as errored


def test_a_broken_model_dir_is_errored_not_pending(tmp_path):
    broken = tmp_path / "m"
    broken.mkdir()
    (broken / "config.json").write_text("[1, 2]")
    (broken / "model.safetensors").write_bytes(b"x")
    claim = write_claim(tmp_path / "c.yaml", model=str(broken), layer=2)
    assert run("run", claim, "--out", tmp_path / "o").exit_code == 3
    assert ledger.read(tmp_path / "o")[0][0]["verdict"] == "errored"


def test_model_override_runs_qwen_claim_on_another_checkpoint(tmp_path, planted):
    claim = write_claim(tmp_path / "c.yaml", model="Qwen/Qwen2.5-0.5B", layer=1)
    assert run("run", claim, "--model", planted["qwen2"], "--out", tmp_path / "o").exit_code == 0


def test_out_of_range_layer_is_invalid_with_line(tmp_path, planted):
    claim = write_claim(tmp_path / "c.yaml", model=planted["llama"], layer=7)
    result = run("run", claim, "--out", tmp_path / "o")
    assert result.exit_code == 4
    assert "c.yaml:" in result.output and "out of range" in result.output
    assert not ledger.read(tmp_path / "o")[0]


def test_same_claim_same_seed_identical_evidence(tmp_path, planted):
    claim = write_claim(tmp_path / "c.yaml", model=planted["qwen2"], layer=1)
    run("run", claim, "--out", tmp_path / "o")
    run("run", claim, "--out", tmp_path / "o")
    a, b = ledger.read(tmp_path / "o")[0]
    assert a["evidence"]["effects"] == b["evidence"]["effects"]


def test_seeds_sample_different_prompts(tmp_path, planted):
    claim = write_claim(tmp_path / "c.yaml", model=planted["qwen2"], layer=1, prompts=3)
    run("run", claim, "--out", tmp_path / "o")
    (rec,) = ledger.read(tmp_path / "o")[0]
    samples = rec["evidence"]["samples"]
    assert len({tuple(s["arithmetic"]) for s in samples.values()}) > 1


BAD_FILES = {
    "syntax": "id: x\nstatement: [unclosed\n",
    "wrong_type": None,  # filled from a valid claim below
    "unknown_key": None,
    "empty": "",
    "not_mapping": "- a\n- b\n",
    "python_tag": "id: !!python/object/apply:os.system ['true']\n",
}


@pytest.mark.parametrize("kind", sorted(BAD_FILES))
def test_bad_claim_files_exit_4_with_position_and_no_traceback(tmp_path, kind):
    valid = write_claim(tmp_path / "valid.yaml", model="smollm2-135m").read_text()
    text = BAD_FILES[kind]
    if kind == "wrong_type":
        text = valid.replace("prompts_per_family: 3", "prompts_per_family: [3]")
    if kind == "unknown_key":
        text = valid.replace("expect: supported", "expect: supported\nexpcted: refuted")
    bad = tmp_path / f"{kind}.yaml"
    bad.write_text(text)
    proc = subprocess.run([sys.executable, "-m", "audit.cli", "check", str(bad)], capture_output=True, text=True,
                          cwd=REPO)
    assert proc.returncode == 4, proc.stdout + proc.stderr
    out = proc.stdout + proc.stderr
    assert "Traceback" not in out
    assert f"{kind}.yaml" in out
    if kind not in ("empty",):
        assert f"{kind}.yaml:" in out and any(ch.isdigit() for ch in out.split(f"{kind}.yaml:")[1][:3])


def test_check_accepts_shipped_claims():
    result = run("check", REPO / "claims")
    assert result.exit_code == 0, result.output


def test_schema_prints_json():
    result = run("schema")
    assert json.loads(result.stdout)["title"] == "Claim"


def test_out_of_range_head_is_invalid_with_line(tmp_path, planted):
    claim = write_claim(tmp_path / "c.yaml", model=planted["llama"], layer=2)
    text = claim.read_text().replace("  kind: layer_ablation\n  method: skip\n  layers: all",
                                     "  kind: ablation\n  target: head\n  method: zero\n  layers: [1]\n  heads: [0, 9]")
    claim.write_text(text.replace("  kind: hub\n  layer: 2\n  min_family_fraction: 0.5",
                                  "  kind: top_component\n  component: L1.H0"))
    result = run("run", claim, "--out", tmp_path / "o")
    assert result.exit_code == 4, result.output
    assert "c.yaml:" in result.output and "head 9 is out of range" in result.output
    assert "Traceback" not in result.output


def test_unknown_device_and_executor_are_invalid_without_traceback(tmp_path, tiny_dir):
    from typer.testing import CliRunner

    from audit.cli import app
    from tests.conftest import write_claim

    claim = write_claim(tmp_path / "c.yaml", model=str(tiny_dir("cli_dev", "llama", hub=2)), prompts=1)
    for flags, message in ((["--device", "gpu"], "expected one of cpu, cuda, auto"),
                           (["--executor", "dask"], "unknown executor 'dask'")):
        result = CliRunner().invoke(app, ["run", str(claim), "--out", str(tmp_path / "out"), *flags])
        assert result.exit_code == 4 and message in result.output and "Traceback" not in result.output


def test_cuda_requested_without_a_gpu_ends_errored_with_the_fix(tmp_path, tiny_dir, monkeypatch):
    import torch

    from audit.cache import EvidenceCache
    from audit.runner import RunOptions, run_claim
    from audit.schema import load_claim
    from tests.conftest import write_claim

    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)
    lc = load_claim(write_claim(tmp_path / "c.yaml", model=str(tiny_dir("cli_dev", "llama", hub=2)), prompts=4))
    rec = run_claim(lc, RunOptions(device="cuda", evidence_cache=EvidenceCache(tmp_path / "c")))
    assert rec["verdict"] == "errored" and "--device cpu or --device auto" in rec["reasons"][0]
    auto = run_claim(lc, RunOptions(device="auto", evidence_cache=EvidenceCache(tmp_path / "c")))
    assert auto["verdict"] == "supported" and auto["provenance"]["device"] == "cpu"


@pytest.mark.parametrize("args", [["run", "claims/smollm2_hub.yaml", "--batch-size", "0"], ["check"],
                                  ["run", "--no-such-option", "claims/"]])
def test_usage_errors_have_their_own_exit_code_not_inconclusive(args, tmp_path):
    """Exit 2 means inconclusive: a usage error must never look like a verdict."""
    from audit.cli import EXIT_USAGE

    result = runner.invoke(app, args + (["--out", str(tmp_path)] if args[0] == "run" else []))
    assert result.exit_code == EXIT_USAGE == 64, result.output
    assert not list(tmp_path.iterdir())  # nothing written
