"""The prompting baseline of steering claims (controls/prompting_baseline.py) on a planted model
(tests/controls/prompting_planted.py): an instruction that asks for Z in words beats a weak
steering vector (note, confidence capped at low, verdict unchanged); a neutral instruction only
dilutes the context (effects of both signs, interval covering 0, no cap); the same claim twice
gives identical baseline evidence; bad control blocks are file:line errors."""

import pytest
from typer.testing import CliRunner

from audit.cache import EvidenceCache
from audit.cli import app
from audit.errors import ClaimFileError
from audit.runner import RunOptions, run_claim
from audit.schema import load_claim
from controls.prompting_baseline import BEATEN, NAME
from tests.conftest import byte_tokenizer, write_claim
from tests.controls.prompting_planted import ASK_FOR_Z, NEUTRAL, build
from tests.interventions.conftest import steering_claim

ALPHA = 0.1  # a weak vector: its effect is real (both nulls pass) but far below what asking for Z does


@pytest.fixture(scope="module")
def planted(tmp_path_factory):
    return build(tmp_path_factory.mktemp("prompting"))


def claim(path, planted, instruction=None, position="prefix", n=99):
    model, suite = planted
    controls = f"random_vector: {{n: {n}}}\n  shuffled_label: {{n: {n}}}"
    if instruction is not None:
        controls += f"\n  prompting_baseline: {{instruction: '{instruction}', position: {position}}}"
    p = steering_claim(path, model=model, suite=suite, alpha=ALPHA, n=n, controls=controls)
    p.write_text(p.read_text() + "stage: confirmatory\n")  # the uncapped ladder: the cap is the baseline's
    return p


def run(path, tmp_path, tag):
    return run_claim(load_claim(path), RunOptions(evidence_cache=EvidenceCache(tmp_path / f"cache-{tag}")))


@pytest.fixture(scope="module")
def bare(planted, tmp_path_factory):
    tmp = tmp_path_factory.mktemp("bare")
    return run(claim(tmp / "bare.yaml", planted), tmp, "bare")


def test_asking_in_words_beats_a_weak_vector_and_caps_confidence(tmp_path, planted, bare):
    assert bare["verdict"] == "supported" and bare["confidence"] == "medium", bare["confidence_notes"]
    rec = run(claim(tmp_path / "askz.yaml", planted, ASK_FOR_Z), tmp_path, "z")
    assert rec["verdict"] == "supported"  # never turned by the baseline
    assert rec["confidence"] == "low" and rec["confidence_cap"] == "low"
    assert any(n.startswith(f"{BEATEN}: capped at low") for n in rec["confidence_notes"])
    assert any(r.startswith(BEATEN) for r in rec["reasons"])
    pb = rec["summary"][NAME]
    prompting, steering, diff = pb["pooled"]["rows"]
    assert pb["beaten"] and diff["high"] < 0 and prompting["low"] > steering["high"]
    assert steering["estimate"] == pytest.approx(bare["summary"]["effect"], abs=1e-9)  # the same steering effect
    assert set(pb["per_seed"]) == {"1", "2", "3"} and all(v["rows"][2]["estimate"] < 0 for v in pb["per_seed"].values())
    ev = rec["evidence"][NAME]
    assert [len(x) for x in ev["effect"]] == [6, 6, 6] and min(min(x) for x in ev["effect"]) > 0
    assert ev["effect"] == [[a - b for a, b in zip(p, u)] for p, u in zip(ev["prompted"], ev["unprompted"])]
    assert NAME in rec["controls_run"]


def test_a_neutral_instruction_covers_zero_and_caps_nothing(tmp_path, planted, bare):
    rec = run(claim(tmp_path / "neutral.yaml", planted, NEUTRAL), tmp_path, "neutral")
    assert rec["verdict"] == "supported" and rec["confidence"] == bare["confidence"] == "medium"
    assert not any(BEATEN in r for r in rec["reasons"] + rec["confidence_notes"])
    pb = rec["summary"][NAME]
    prompting = pb["pooled"]["rows"][0]
    assert prompting["defined"] and prompting["low"] < 0 < prompting["high"] and not pb["beaten"]
    effects = [x for seed in rec["evidence"][NAME]["effect"] for x in seed]
    assert min(effects) < 0 < max(effects)  # it moves each prompt (dilution), in both directions


def test_a_system_instruction_is_the_same_control(tmp_path, planted):
    rec = run(claim(tmp_path / "system.yaml", planted, ASK_FOR_Z, position="system"), tmp_path, "system")
    pb = rec["summary"][NAME]
    assert pb["position"] == "system" and pb["beaten"] and rec["confidence"] == "low"


def test_same_claim_same_baseline_evidence(tmp_path, planted):
    path = claim(tmp_path / "det.yaml", planted, ASK_FOR_Z, n=8)
    a, b = run(path, tmp_path, "a"), run(path, tmp_path, "b")  # separate caches: really recomputed
    assert a["evidence"][NAME] == b["evidence"][NAME] and a["summary"][NAME] == b["summary"][NAME]
    c = run(path, tmp_path, "a")  # and the cached unit serves the same numbers
    assert c["evidence"][NAME] == a["evidence"][NAME] and c["evidence"]["resources"]["units_computed"] == 0


def test_the_report_shows_the_baseline_beside_the_steering_effect(tmp_path, planted):
    out = tmp_path / "out"
    result = CliRunner().invoke(app, ["run", str(claim(tmp_path / "rep.yaml", planted, ASK_FOR_Z)),
                                      "--out", str(out)])
    assert result.exit_code == 0, result.output  # supported, as expected: the baseline caps, it does not refute
    assert (out / "plots" / "rep-prompting-baseline.png").stat().st_size > 1000
    page = (out / "claims" / "rep.md").read_text()
    for text in ("Prompting baseline at L0@0.1", "prompting effect", "steering - prompting", "Prompting beats steering",
                 "rep-prompting-baseline.png"):
        assert text in page, text


# ------------------------------------------------------------------ claim files

def _problems(path) -> str:
    with pytest.raises(ClaimFileError) as err:
        load_claim(path)
    return str(err.value)


@pytest.mark.parametrize("block,expected", [
    ("{instruction: ''}", "at least 1 character"),
    ("{instruction: '   '}", "the instruction is blank"),
    ("{instruction: 'Say Z.', position: suffix}", "'prefix' or 'system'"),
    ("{position: prefix}", "instruction"),
])
def test_bad_baselines_are_file_line_errors(tmp_path, planted, block, expected):
    path = claim(tmp_path / "bad.yaml", planted)
    text = path.read_text().replace("shuffled_label: {n: 99}", f"shuffled_label: {{n: 99}}\n  prompting_baseline: {block}")
    path.write_text(text)
    line = text.splitlines().index(f"  prompting_baseline: {block}") + 1
    msg = _problems(path)
    assert expected in msg and f"bad.yaml:{line}:" in msg, msg


def test_a_system_instruction_needs_the_chat_template(tmp_path, planted):
    path = claim(tmp_path / "plain.yaml", planted, "Say Z.", position="system")
    path.write_text(path.read_text().replace("chat_template: true", "chat_template: false"))
    msg = _problems(path)
    assert "a system instruction needs the chat template" in msg and "position: prefix" in msg
    from audit.encoding import render

    with pytest.raises(ValueError, match="the tokenizer has none"):
        render(byte_tokenizer(), "hello", True, system="Say Z.")  # at run time: the claim ends errored


def test_only_steering_takes_the_baseline(tmp_path):
    text = write_claim(tmp_path / "hub.yaml", model="smollm2-135m").read_text()
    (tmp_path / "hub.yaml").write_text(text.replace("seeds: [1, 2, 3]", "seeds: [1, 2, 3]\n  prompting_baseline: "
                                                                        "{instruction: 'Say Z.'}"))
    msg = _problems(tmp_path / "hub.yaml")
    assert "intervention 'layer_ablation' takes no prompting_baseline control" in msg and "steering" in msg
