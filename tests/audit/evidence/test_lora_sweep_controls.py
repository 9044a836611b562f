"""The controls of ``lora_sweep`` on the planted LoRA model (tests/lora_planted.py, ``mapped``: the
answer depends on the prompt's letter; only layer 3 is live).

- shuffled_answers: the first point trained again on answers permuted among its training prompts
  cannot learn the letter-to-answer pairing: its held-out exact match stays below the real point's
  on every seed (reported beside it, not judged: the verdict is the same without the control), and
  the report shows it;
- random component: a point ``random_matched`` to the live point has as many trainable parameters on
  other modules, cannot learn, and the claim that the live point is best over it is supported;
- bad input: an unknown point, a min_margin the sweep ignores, a point on a lora claim, a
  random_matched point at another rank or matching nothing."""

import pytest

from audit.cache import EvidenceCache
from audit.errors import ClaimFileError
from audit.runner import RunOptions, run_claim
from audit.schema import load_claim
from tests.conftest import rendered
from tests.lora_planted import PLACEMENTS, build_planted, lora_claim

LIVE = "[layers.3.self_attn.o_proj, layers.3.mlp.down_proj]"
POINTS = f"""\
points:
  - {{label: live, placement: {{placement: modules, modules: {LIVE}}}}}
  - {{label: random, placement: {{placement: random_matched, reference: live}}}}
"""
BEST = "{kind: sweep_best, best: live, metric: final_loss}"
GENTLE = "{rank: 4, alpha: 8, steps: 100, batch_size: 8, learning_rate: 0.01}"


@pytest.fixture(scope="module")
def planted(tmp_path_factory):
    return build_planted(tmp_path_factory.mktemp("sweep_controls") / "p", mapped=True)


def _sweep(d, name, controls: str = "", points: str = POINTS, seeds: str = "[1, 2, 3]", **kw):
    lc = lora_claim(d, name, points, BEST, kind="lora_sweep", metric="lora_training_loss", seeds=seeds, **kw)
    if controls:
        lc.path.write_text(lc.path.read_text().replace(f"controls: {{seeds: {seeds}}}",
                                                       f"controls: {{seeds: {seeds}, {controls}}}"))
    return load_claim(lc.path)


def _run(d, lc):
    return run_claim(lc, RunOptions(evidence_cache=EvidenceCache(d / "cache")))


def test_the_shuffled_answers_point_does_not_reach_the_real_points_exact_match(tmp_path, planted):
    rec = _run(planted, _sweep(planted, "shuf", "shuffled_answers: {}", training=GENTLE))
    ctl = rec["evidence"]["controls"]["shuffled_answers"]
    assert ctl["point"] == "live" and len(ctl["rows"]) == 3 and "shuffled_answers" in rec["controls_run"]
    exact = ctl["metrics"]["exact_match"]
    assert all(real > shuffled for real, shuffled in exact["per_seed"].values()), exact
    assert exact["real"] - exact["shuffled"] > 0.2, exact  # the pairing is learned, not only the format
    assert ctl["metrics"]["answer_nll"]["real"] < ctl["metrics"]["answer_nll"]["shuffled"]
    assert all(ctl["metrics"][m]["shuffled"] is not None for m in ("final_loss", "kl_drift"))
    assert any(r.startswith("shuffled_answers (reported, not judged): point live") for r in rec["reasons"])
    bare = _run(planted, _sweep(planted, "bare", training=GENTLE))
    assert bare["verdict"] == rec["verdict"] and "controls" not in bare["evidence"]
    page = rendered(tmp_path, rec)
    for text in ("Control: shuffled_answers", "live on shuffled answers", "not learning which answer belongs"):
        assert text in page, text


def test_a_named_point_is_the_one_retrained(planted):
    lc = _sweep(planted, "named", "shuffled_answers: {point: random}")
    from controls.shuffled_answers import sweep_point

    assert sweep_point(lc.claim.intervention, lc.claim.controls.shuffled_answers) == "random"
    assert sweep_point(lc.claim.intervention, _sweep(planted, "first", "shuffled_answers: {}").claim.controls
                       .shuffled_answers) == "live"


def test_a_random_matched_point_is_the_sweeps_random_component(planted):
    rec = _run(planted, _sweep(planted, "rand", seeds="[1, 2, 3, 4]"))
    live, rand = rec["evidence"]["results"]["live"], rec["evidence"]["results"]["random"]
    assert all(a["trainable_params"] == b["trainable_params"] for a, b in zip(live, rand))
    assert all(a["final_loss"] < b["final_loss"] for a, b in zip(live, rand))
    assert rec["verdict"] == "supported", rec["reasons"]
    assert "random_placement" in rec["controls_run"]


@pytest.mark.parametrize("controls,points,message", [
    ("shuffled_answers: {point: liev}", POINTS, "point 'liev' is not a grid point"),
    ("shuffled_answers: {min_margin: 0.2}", POINTS, "min_margin has no effect here"),
    ("", POINTS.replace("reference: live", "reference: nothing"), "matches 'nothing', which is not another sweep point"),
    ("", POINTS.replace("reference: live}", "reference: live}, rank: 8"), "parameter counts match only at the same rank"),
])
def test_bad_sweep_controls_are_errors_with_a_hint(planted, controls, points, message):
    with pytest.raises(ClaimFileError, match=message) as err:
        _sweep(planted, "bad", controls, points=points)
    assert "bad.yaml:" in str(err.value)


def test_a_point_on_a_lora_claim_is_an_error(planted):
    lc = lora_claim(planted, "lora_point", PLACEMENTS, "{kind: lora_efficiency, candidate: atlas, reference: all, "
                    "min_param_ratio: 5}")
    lc.path.write_text(lc.path.read_text().replace("controls: {seeds: [1, 2, 3]}",
                                                   "controls: {seeds: [1, 2, 3], shuffled_answers: {point: atlas}}"))
    with pytest.raises(ClaimFileError, match="point names a lora_sweep grid point"):
        load_claim(lc.path)
