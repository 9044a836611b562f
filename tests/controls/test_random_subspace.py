"""The random-subspace control of patching claims on planted truths (tests/controls/patching_planted.py):
a path in one direction passes, a component any random slice of which recovers as much is not
supported, a dormant pathway is flagged, a silent component ties."""

import pytest

from audit.cache import EvidenceCache
from audit.runner import RunOptions, run_claim
from tests.controls.patching_planted import build, pairs_suite, patching_claim

SUBSPACE = "random_subspace: {n: 39, dim: 2}"  # 39 draws: p can reach 1/40 <= 0.05


@pytest.fixture(scope="module")
def models(tmp_path_factory):
    return {kind: build(tmp_path_factory, kind) for kind in ("aligned", "generic", "dormant")}


def run(tmp_path, model_dir, component="L1.mlp@last", controls=SUBSPACE, name="c"):
    lc = patching_claim(tmp_path, model_dir, pairs_suite(tmp_path / "late.yaml", "last"), component, controls, name)
    return run_claim(lc, RunOptions(evidence_cache=EvidenceCache(tmp_path / f"cache-{name}")))


def test_a_path_in_one_direction_beats_every_random_subspace(tmp_path, models):
    rec = run(tmp_path, models["aligned"])
    ctl = rec["evidence"]["controls"]["random_subspace"]
    assert rec["verdict"] == "supported", rec["reasons"]
    assert ctl["status"] == "passed" and ctl["p"] == pytest.approx(1 / 40) and ctl["dim"] == 2 and ctl["width"] == 32
    # the whole patch recovers nearly all; a random 2-of-32-dimensional slice of it little
    assert ctl["observed"] > 0.9 and ctl["null_max"] < ctl["observed"] and ctl["median"] < 0.25
    assert not ctl["dormant_pathway"]["flagged"] and "random_subspace" in rec["controls_run"]
    assert len(ctl["null_per_seed"]) == 3 and all(len(row) == 39 for row in ctl["null_per_seed"])


def test_a_component_random_subspaces_recover_as_much_as_is_not_supported(tmp_path, models):
    """Planted: the component's write is mostly a large direction the answer does not read; random
    slices of it reach the read-out with either sign and any size, so the whole component's recovery
    (about 0.94, above the threshold by the criterion alone) sits inside the subspace null's bulk."""
    rec = run(tmp_path, models["generic"])
    ctl = rec["evidence"]["controls"]["random_subspace"]
    assert any("above it" in r for r in rec["reasons"])  # the criterion alone would support it
    assert ctl["status"] == "refuted" and rec["verdict"] == "refuted", (ctl["reason"], rec["reasons"])
    assert ctl["observed"] <= ctl["q75"] and ctl["null_max"] > ctl["observed"] and ctl["null_min"] < 0
    assert not ctl["dormant_pathway"]["flagged"]


def test_a_dormant_pathway_is_flagged_and_never_support(tmp_path, models):
    """Planted: the whole component's patch changes nothing the model reads; any random slice of it
    writes into a direction an even detector downstream reads (Makelov et al. 2024)."""
    rec = run(tmp_path, models["dormant"])
    ctl = rec["evidence"]["controls"]["random_subspace"]
    dormant = rec["summary"]["dormant_pathway"]
    assert dormant["flagged"] and ctl["dormant_pathway"]["flagged"] and dormant["p"] == pytest.approx(1 / 40)
    assert abs(ctl["observed"]) < 1e-3 and ctl["null_min"] > 0.05  # whole ~0; every subspace patch moves it
    assert rec["verdict"] == "refuted" and rec["reasons"][0].startswith("dormant pathway")
    assert any("Dormant pathway flagged" in n for n in rec["evidence"]["notes"])


def test_a_component_whose_patch_changes_nothing_ties_and_is_inconclusive(tmp_path, models):
    rec = run(tmp_path, models["aligned"], component="L0.mlp@last", name="silent")
    ctl = rec["evidence"]["controls"]["random_subspace"]
    assert rec["verdict"] == "inconclusive"
    assert ctl["status"] == "inconclusive" and "tie" in ctl["reason"] and ctl["null_max"] == ctl["null_min"] == 0
    assert not ctl["dormant_pathway"]["flagged"]


def test_a_dormant_flag_turns_support_into_inconclusive():
    from audit.verdict import Outcome, Verdict
    from controls.random_subspace import flag_dormant

    flagged = {"check": "dormant_pathway", "flagged": True, "p": 0.01, "reason": "dormant pathway: ..."}
    out = flag_dormant(Outcome(Verdict.SUPPORTED, ["effect above"], {"strong": True}), flagged)
    assert out.verdict is Verdict.INCONCLUSIVE and out.summary["strong"] is False
    assert out.reasons[0] == "dormant pathway: ..." and out.summary["dormant_pathway"] is flagged
    kept = flag_dormant(Outcome(Verdict.REFUTED, ["below"], {"strong": True}), flagged)
    assert kept.verdict is Verdict.REFUTED and kept.summary["strong"] is True


def test_a_subspace_as_wide_as_the_site_is_an_error_with_its_line(tmp_path, models):
    rec = run(tmp_path, models["aligned"], controls="random_subspace: {n: 39, dim: 32}", name="wide")
    assert rec["verdict"] == "errored"
    assert "wide.yaml:" in rec["reasons"][0] and "controls.random_subspace.dim" in rec["reasons"][0]
    assert "dim <= 31" in rec["reasons"][0]


def test_the_report_draws_the_random_subspace_null(tmp_path, models):
    from tests.conftest import rendered

    rec = run(tmp_path, models["aligned"], name="drawn")
    page = rendered(tmp_path, rec)
    assert "random_subspace: pooled null" in page and "null-random_subspace" in page
