"""The negative-position control of patching claims on planted truths (tests/controls/patching_planted.py):
a model whose first position carries nothing passes; one where the information is at every position
is not supported; a component whose patch changes nothing is inconclusive; bad claims are refused."""

import pytest

from audit.cache import EvidenceCache
from audit.errors import ClaimFileError
from audit.runner import RunOptions, run_claim
from tests.controls.patching_planted import build, pairs_suite, patching_claim

NEGATIVE = "negative_position: {position: first}"


@pytest.fixture(scope="module")
def models(tmp_path_factory):
    return {kind: build(tmp_path_factory, kind) for kind in ("aligned", "everywhere")}


def run(tmp_path, model_dir, where="last", component="L1.mlp@last", controls=NEGATIVE, name="c", threshold=0.2):
    suite = pairs_suite(tmp_path / f"suite-{where}.yaml", where)
    lc = patching_claim(tmp_path, model_dir, suite, component, controls, name, threshold=threshold)
    return run_claim(lc, RunOptions(evidence_cache=EvidenceCache(tmp_path / f"cache-{name}")))


def test_a_patch_whose_first_position_carries_nothing_passes(tmp_path, models):
    rec = run(tmp_path, models["aligned"])
    ctl = rec["evidence"]["controls"]["negative_position"]
    assert rec["verdict"] == "supported", rec["reasons"]
    assert ctl["status"] == "passed" and ctl["null_component"] == "L1.mlp@first"
    assert ctl["null"] == 0.0 and ctl["observed"] > 0.9 and ctl["intervals"][0]["low"] > 0.9
    assert "negative_position" in rec["controls_run"]


def test_information_at_every_position_is_not_supported(tmp_path, models):
    """Planted: the answer reads the average of the component's write over every position, and the
    marker fills every position: the first position's patch recovers more than the claimed one's,
    though the claimed one clears the threshold by the criterion alone."""
    rec = run(tmp_path, models["everywhere"], where="every", threshold=0.1, name="every")
    ctl = rec["evidence"]["controls"]["negative_position"]
    assert any("above it" in r for r in rec["reasons"])  # the criterion alone would support it
    assert ctl["status"] == "refuted" and rec["verdict"] == "refuted", (ctl["reason"], rec["reasons"])
    assert ctl["null"] > ctl["observed"] and ctl["intervals"][0]["high"] < 0


def test_a_component_whose_patch_changes_nothing_is_inconclusive(tmp_path, models):
    rec = run(tmp_path, models["aligned"], component="L0.mlp@last", name="silent")
    ctl = rec["evidence"]["controls"]["negative_position"]
    assert rec["verdict"] == "inconclusive" and ctl["status"] == "inconclusive"
    assert "zero variance" in ctl["reason"] and ctl["observed"] == ctl["null"] == 0.0


def test_the_report_draws_the_negative_position_contrast(tmp_path, models):
    from tests.conftest import rendered

    rec = run(tmp_path, models["aligned"], name="drawn")
    page = rendered(tmp_path, rec)
    assert "negative_position: " in page and "null-negative_position" in page


@pytest.mark.parametrize("component, controls, message", [
    ("L1.mlp", NEGATIVE, r"acceptance\.component.*L1\.mlp patches every position"),
    ("L1.mlp@last", "negative_position: {position: answer}", r"controls\.negative_position\.position.*own position"),
])
def test_a_negative_position_that_cannot_contrast_is_refused_with_its_line(tmp_path, models, component, controls,
                                                                           message):
    positions = "[all]" if "@" not in component else "[last]"
    with pytest.raises(ClaimFileError, match=message) as err:
        patching_claim(tmp_path, models["aligned"], pairs_suite(tmp_path / "s.yaml", "last"), component, controls,
                       "bad", positions=positions)
    assert "bad.yaml:" in str(err.value)


def test_negative_position_needs_a_claimed_component(tmp_path, models):
    from audit.schema import load_claim
    from tests.interventions.test_ablation import claim_file

    spec = "  kind: patching\n  target: mlp\n  positions: [last]\n  min_gap: 0.01"
    lc = claim_file(tmp_path, models["aligned"], spec, "  kind: exceeds\n  greater: [L1.mlp@last]\n  than: [L0.mlp@last]", name="top")
    lc.path.write_text(lc.path.read_text().replace("controls: {seeds: [1, 2, 3]}",
                                                   f"controls: {{seeds: [1, 2, 3], {NEGATIVE}}}"))
    with pytest.raises(ClaimFileError, match="negative_position judges one claimed component"):
        load_claim(lc.path)
