"""The work a claim implies is bounded at validation; repeated problems are capped."""

import shutil
import subprocess
import sys
from pathlib import Path

import pytest
import yaml
from typer.testing import CliRunner

from audit.cli import app
from audit.errors import MAX_PROBLEMS
from audit.schema import load_claim
from audit.validation import MAX_WORK, WORK_ENV, work_terms, work_total
from audit.verdict import EXIT_INVALID, EXIT_OK

ROOT = Path(__file__).resolve().parents[2]
CLAIMS = ROOT / "claims"


@pytest.fixture
def claims_dir(tmp_path):
    shutil.copytree(CLAIMS / "suites", tmp_path / "suites")
    return tmp_path


def _variant(directory: Path, name: str, edit) -> Path:
    data = yaml.safe_load((CLAIMS / name).read_text())
    edit(data)
    path = directory / f"variant_{name}"
    path.write_text(yaml.safe_dump(data, sort_keys=False))
    return path


def _check(path: Path):
    return CliRunner().invoke(app, ["check", str(path)])


@pytest.mark.parametrize("path", sorted(CLAIMS.glob("*.yaml")), ids=lambda p: p.name)
def test_shipped_claims_are_under_the_limit(path):
    assert work_total(work_terms(load_claim(path))) <= MAX_WORK / 4  # with room to spare


def _nulls(data):
    data["controls"]["seeds"] = list(range(64))
    data["controls"]["random_vector"] = {"n": 4096}
    data["controls"]["shuffled_label"] = {"n": 4096}


def _alphas(data):
    data["intervention"]["alphas"] = [0.001 * (i + 1) for i in range(10_000)]


@pytest.mark.parametrize("edit,field,line_key", [(_nulls, "controls.random_vector.n", "random_vector"),
                                                   (_alphas, "intervention.alphas", "alphas")])
def test_huge_steering_claim_is_refused_at_the_dominant_field(claims_dir, monkeypatch, edit, field, line_key):
    monkeypatch.delenv(WORK_ENV, raising=False)
    path = _variant(claims_dir, "smollm2_steering_refusal.yaml", edit)
    result = _check(path)
    assert result.exit_code == EXIT_INVALID, result.output
    line = next(x for x in result.output.splitlines() if "forward passes" in x)
    assert str(path) in line and f" {field}:" in line and WORK_ENV in line, line
    row = next(i for i, text in enumerate(path.read_text().splitlines(), 1) if line_key in text)
    assert f"{path}:{row}:" in line or f"{path}:{row + 1}:" in line, (line, row)


def test_override_admits_the_claim(claims_dir, monkeypatch):
    path = _variant(claims_dir, "smollm2_steering_refusal.yaml", _nulls)
    monkeypatch.setenv(WORK_ENV, "none")
    assert _check(path).exit_code == EXIT_OK
    monkeypatch.setenv(WORK_ENV, "1e12")
    assert _check(path).exit_code == EXIT_OK
    monkeypatch.setenv(WORK_ENV, "lots")
    result = _check(path)
    assert result.exit_code == EXIT_INVALID and WORK_ENV in result.output and "lots" in result.output


def test_lower_override_refuses_a_shipped_claim(monkeypatch):
    monkeypatch.setenv(WORK_ENV, "10")
    result = _check(CLAIMS / "smollm2_hub.yaml")
    assert result.exit_code == EXIT_INVALID and "forward passes" in result.output, result.output


def test_lora_steps_dominate(claims_dir, monkeypatch):
    monkeypatch.delenv(WORK_ENV, raising=False)

    def edit(data):
        data["controls"]["seeds"] = list(range(60))
        data["intervention"].setdefault("training", {}).update(steps=2000, batch_size=512)

    result = _check(_variant(claims_dir, "smollm2_json_lora_efficiency.yaml", edit))
    assert result.exit_code == EXIT_INVALID
    assert " intervention.training.steps:" in result.output and "forward passes" in result.output, result.output


def test_forty_thousand_unknown_keys_are_capped_and_fast(claims_dir):
    path = claims_dir / "many.yaml"
    path.write_text((CLAIMS / "smollm2_hub.yaml").read_text() + "".join(f"zz_{i}: 1\n" for i in range(40_000)))
    import resource

    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    proc = subprocess.run([sys.executable, "-m", "audit.cli", "check", str(path)], capture_output=True, text=True,
                          timeout=120, cwd=ROOT)
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    elapsed = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)  # CPU s: not the machine's load
    output = proc.stdout + proc.stderr
    lines = [x for x in output.splitlines() if x.strip()]
    assert proc.returncode == EXIT_INVALID, output[-2000:]
    assert "Traceback" not in output
    assert len(lines) <= MAX_PROBLEMS + 1 and len(output) < 20_000, len(output)
    assert f"and {40_000 - MAX_PROBLEMS} more problem" in lines[-1], lines[-1]
    assert elapsed < 10, elapsed
