"""`audit run --executor ray` end to end in a subprocess (its own local Ray instance)."""

import importlib.util
import json

import pytest

from tests.audit.test_durability import audit, ledger_lines
from tests.conftest import write_claim

pytestmark = pytest.mark.skipif(importlib.util.find_spec("ray") is None,
                                reason="needs the optional extra mi-audit[ray] (make test installs it)")


def test_the_cli_runs_claims_on_ray_and_rejects_an_unknown_executor(tmp_path, tiny_dir):
    model = tiny_dir("ray_cli_qwen", "qwen2", hub=1)
    claim = write_claim(tmp_path / "cli.yaml", model=model, layer=1, seeds=(1,), prompts=4)
    proc = audit(["run", claim, "--out", tmp_path / "out", "--executor", "ray", "--ray-workers", "2",
                  "--ray-cpus", "0.5"], tmp_path / "cache")
    try:
        _, stderr = proc.communicate(timeout=600)
    finally:
        proc.kill()
    assert proc.returncode == 0, stderr
    (rec,) = [json.loads(line) for line in ledger_lines(tmp_path / "out")]
    assert rec["verdict"] == "supported"
    assert rec["provenance"]["executor"] == {"executor": "ray", "address": "local", "max_retries": 2,
                                             "resources": {"num_cpus": 0.5, "num_gpus": 0.0}, "workers_per_model": 2}
    bad = audit(["run", claim, "--out", tmp_path / "out2", "--executor", "dask"], tmp_path / "cache")
    try:
        _, stderr = bad.communicate(timeout=120)
    finally:
        bad.kill()
    assert bad.returncode == 4 and "unknown executor 'dask'; known: local, processes, ray" in stderr
