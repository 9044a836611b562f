"""Patching in a claimed subspace (interventions/subspace.py) on the planted models of
tests/controls/patching_planted.py: the subspace the path lives in recovers it and beats random
subspaces of its dimension; an orthogonal one recovers nothing; a subspace whose patch wakes a
path the whole component does not use is flagged (Makelov et al. 2024); bad files and claims fail
with their file and line."""

import numpy as np
import pytest

from audit.cache import EvidenceCache
from audit.errors import ClaimFileError
from audit.runner import RunOptions, run_claim
from tests.controls.patching_planted import build, directions, pairs_suite, patching_claim


@pytest.fixture(scope="module")
def models(tmp_path_factory):
    return {kind: build(tmp_path_factory, kind) for kind in ("aligned", "dormant")}


def basis(tmp_path, name: str, rows) -> str:
    np.save(tmp_path / f"{name}.npy", np.stack([np.asarray(r, dtype=np.float32) for r in rows]))
    return f"{name}.npy"


def claim(tmp_path, model_dir, file: str, controls="random_subspace: {n: 39}", name="c", layers="[1]"):
    return patching_claim(tmp_path, model_dir, pairs_suite(tmp_path / "late.yaml", "last"), "L1.mlp@last", controls,
                          name, intervention=f"\n  layers: {layers}\n  subspace: {{path: {file}}}")


def run(lc, tmp_path):
    return run_claim(lc, RunOptions(evidence_cache=EvidenceCache(tmp_path / f"cache-{lc.claim.id}")))


def test_the_subspace_the_path_lives_in_recovers_it_and_beats_random_ones(tmp_path, models):
    d = directions()
    rec = run(claim(tmp_path, models["aligned"], basis(tmp_path, "r", [d["r"]])), tmp_path)
    sub, ctl = rec["evidence"]["subspace"], rec["evidence"]["controls"]["random_subspace"]
    assert rec["verdict"] == "supported", rec["reasons"]
    assert sub["dim"] == 1 and sub["width"] == 32 and len(sub["sha256"]) == 64 and sub["path"] == "r.npy"
    # the path is one direction: its 1-dimensional subspace carries the whole patch
    assert sub["dormant_pathway"]["subspace"] == pytest.approx(sub["dormant_pathway"]["whole"], abs=1e-4)
    assert not sub["dormant_pathway"]["flagged"]
    assert ctl["dim"] == 1 and ctl["status"] == "passed" and ctl["observed"] > 0.9 and ctl["median"] < 0.25
    assert any("claimed 1-dimensional subspace" in n for n in rec["evidence"]["notes"])


def test_a_subspace_orthogonal_to_the_path_recovers_nothing(tmp_path, models):
    d = directions()
    rec = run(claim(tmp_path, models["aligned"], basis(tmp_path, "other", [d["big"], d["z"]]), name="o"), tmp_path)
    assert rec["verdict"] == "refuted", rec["reasons"]
    assert abs(rec["evidence"]["subspace"]["dormant_pathway"]["subspace"]) < 0.05
    assert rec["evidence"]["subspace"]["dormant_pathway"]["whole"] > 0.9  # the component itself carries it


def test_a_subspace_that_wakes_a_dormant_path_is_flagged_never_support(tmp_path, models):
    """Planted: the component writes a direction nothing reads; the claimed subspace mixes it with
    one a downstream detector reads, so its patch moves the output though the whole patch does not."""
    d = directions()
    mixed = (d["big"] + d["z"]) / np.sqrt(2.0)
    rec = run(claim(tmp_path, models["dormant"], basis(tmp_path, "mixed", [mixed]), name="d"), tmp_path)
    dormant = rec["evidence"]["subspace"]["dormant_pathway"]
    assert dormant["flagged"] and abs(dormant["whole"]) < 1e-3 and dormant["subspace"] > 0.05, dormant
    assert rec["verdict"] != "supported" and rec["reasons"][0].startswith("dormant pathway"), rec["reasons"]


@pytest.mark.parametrize("rows, message", [
    ([np.ones(16)], "the patched site is 32 wide"),
    ([np.ones(32), 2 * np.ones(32)], "linearly dependent"),
])
def test_a_basis_that_cannot_span_a_subspace_of_the_site_is_an_error(tmp_path, models, rows, message):
    rec = run(claim(tmp_path, models["aligned"], basis(tmp_path, "bad", rows), name="b"), tmp_path)
    assert rec["verdict"] == "errored" and "subspace file" in rec["reasons"][0] and message in rec["reasons"][0]


@pytest.mark.parametrize("file, controls, layers, message", [
    ("r.npy", "random_subspace: {n: 39}", "[1, 2]", "a claimed subspace belongs to one site"),
    ("r.npy", "random_component: {n: 3}", "[1]", "random_component patches whole components"),
    ("missing.npy", "random_subspace: {n: 39}", "[1]", "subspace file .*missing.npy not found"),
    ("r.txt", "random_subspace: {n: 39}", "[1]", "subspace file must be"),
])
def test_a_claimed_subspace_claim_is_checked_in_the_claim_file(tmp_path, models, file, controls, layers, message):
    basis(tmp_path, "r", [directions()["r"]])
    with pytest.raises(ClaimFileError, match=message):
        claim(tmp_path, models["aligned"], file, controls=controls, layers=layers, name="bad")
