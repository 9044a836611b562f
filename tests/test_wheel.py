"""The built wheel works on its own: installed into a fresh venv (dependencies borrowed from this
one, the repository not on the path), `audit run` runs a claim from a directory outside the
repository on a tiny model, using the built-in suite by name."""

import subprocess
import sys
import sysconfig
import venv
from pathlib import Path

import pytest

from tests.conftest import write_claim

REPO = Path(__file__).resolve().parents[1]

pytestmark = pytest.mark.slow


def _build_wheel(tmp: Path) -> Path:
    """The wheel built from a copy of the sources (the checkout gets no build/ or egg-info)."""
    import shutil

    src = tmp / "src"
    skip = shutil.ignore_patterns("__pycache__", "*.pyc")
    for name in ("pyproject.toml", "README.md", "LICENSE"):
        shutil.copy(REPO / name, src / name) if src.exists() else (src.mkdir(), shutil.copy(REPO / name, src / name))
    for package in ("audit", "interventions", "controls"):
        shutil.copytree(REPO / package, src / package, ignore=skip)
    proc = subprocess.run([sys.executable, "-c", "import sys; from setuptools import build_meta as b; "
                           "print(b.build_wheel(sys.argv[1]))", str(tmp / "dist")], capture_output=True, text=True,
                          cwd=src, timeout=600)
    assert proc.returncode == 0, proc.stderr[-2000:]
    return tmp / "dist" / proc.stdout.strip().splitlines()[-1]


def test_wheel_runs_a_claim_outside_the_repository_with_the_builtin_suite(tmp_path, tiny_dir):
    import zipfile

    wheel = _build_wheel(tmp_path)
    names = zipfile.ZipFile(wheel).namelist()
    assert "audit/suites/main.yaml" in names and "audit/suites/steering.yaml" in names
    assert "audit/templates/index.html.j2" in names
    env_dir = tmp_path / "venv"
    venv.EnvBuilder(with_pip=False).create(env_dir)
    py = env_dir / "bin" / "python"
    site = subprocess.run([str(py), "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])"],
                          capture_output=True, text=True, check=True).stdout.strip()
    # dependencies come from this venv as a plain path entry (its .pth files, e.g. the editable
    # install of this repository, are not processed), after the wheel's own files
    Path(site, "zz_deps.pth").write_text(sysconfig.get_paths()["purelib"] + "\n")
    proc = subprocess.run([sys.executable, "-m", "pip", "--python", str(py), "install", "--no-deps", "-q",
                           str(wheel)], capture_output=True, text=True, timeout=600)
    assert proc.returncode == 0, proc.stderr[-2000:]

    work = tmp_path / "elsewhere"
    work.mkdir()
    model = tiny_dir("wheel_llama_hub2", "llama", hub=2)
    claim = write_claim(work / "hub.yaml", model=str(model), layer=2, prompts=1, families=("arithmetic",))
    text = claim.read_text()
    suite_line = next(line for line in text.splitlines() if line.strip().startswith("name:"))
    claim.write_text(text.replace(suite_line, "  name: main"))
    where = subprocess.run([str(py), "-c", "import audit, audit.suite; print(audit.__file__); "
                            "print(audit.suite.BUILTIN)"], capture_output=True, text=True, cwd=work)
    assert str(REPO) not in where.stdout and "site-packages" in where.stdout, where.stdout + where.stderr
    run = subprocess.run([str(env_dir / "bin" / "audit"), "run", "hub.yaml", "--out", "out"], capture_output=True,
                         text=True, cwd=work, timeout=600)
    assert run.returncode in (0, 2), run.stdout[-2000:] + run.stderr[-2000:]  # supported or inconclusive
    import json

    (rec,) = [json.loads(line) for line in (work / "out" / "ledger.jsonl").read_text().splitlines()]
    assert rec["verdict"] in ("supported", "inconclusive") and rec["evidence"]["kind"] == "layer_sweep"
    assert rec["provenance"]["suite"] == "main" and (work / "out" / "index.html").is_file()
