"""`audit gate` / `audit publish` on synthetic ledgers (no model): every failure reason, its exit code
and its one-line explanation; baselines, acknowledgements, retired claims; JUnit and JSON output."""

import json
import shutil
import xml.etree.ElementTree as ET

import pytest
from typer.testing import CliRunner

from audit import gate as g
from audit import ledger
from audit.cli import app
from tests.audit.synthetic import cli, append, fake_weights
from tests.conftest import MAIN_SUITE, write_claim



@pytest.fixture
def ws(tmp_path):
    """A workspace: claims/ with a fake model, reports/ for the ledger."""

    class W:
        claims = tmp_path / "claims"
        out = tmp_path / "reports"
        model = fake_weights(tmp_path / "model")

        def claim(self, name, **kw):
            self.claims.mkdir(exist_ok=True)
            return write_claim(self.claims / f"{name}.yaml", model=str(self.model), **kw)

        def gate(self, *extra, report=False):  # the report (plots) only where a test looks at it
            return cli("gate", self.claims, "--out", self.out, *extra, *(("--write",) if report else ()))

        def failures(self, result):
            return [line for line in result.output.splitlines() if line.startswith("FAIL")]

    return W()


def test_matching_verdicts_pass(ws):
    good = ws.claim("good")
    neg = ws.claim("neg", layer=0, expect="refuted")
    append(ws.out, good, "supported")
    append(ws.out, neg, "refuted", hub=2)
    result = ws.gate(report=True)
    assert result.exit_code == 0, result.output
    assert "gate PASSED" in result.output and not ws.failures(result)
    assert (ws.out / "gate.json").exists() and (ws.out / "index.html").exists()


@pytest.mark.parametrize("verdict,code,reason", [("refuted", 1, "contradicts"), ("inconclusive", 2, "inconclusive"),
                                                 ("errored", 3, "errored")])
def test_verdict_failures(ws, verdict, code, reason):
    c = ws.claim("c")
    append(ws.out, c, verdict, hub=1)
    result = ws.gate()
    assert result.exit_code == code, result.output
    (line,) = ws.failures(result)
    assert f"[{code}] c: {reason}:" in line


def test_too_few_seeds_is_4_and_control_not_run_is_3(ws):
    few = ws.claim("few", seeds=(1, 2))
    append(ws.out, few, "supported")
    result = ws.gate()
    assert result.exit_code == 4, result.output
    assert "needs seed replication over >= 3 seeds; the claim declares 2" in result.output
    shutil.rmtree(ws.out)
    c = ws.claim("few", seeds=(1, 2, 3))
    append(ws.out, c, "supported", controls_run=())
    result = ws.gate()
    assert result.exit_code == 3, result.output
    assert "required control(s) did not run: seeds" in result.output


def test_steering_requires_random_vector_and_shuffled_label():
    assert {"random_vector", "shuffled_label", "seeds"} <= g.required_controls("steering")
    assert g.required_controls("layer_ablation") == {"seeds"}


def test_invalid_claim_file_is_4(ws):
    ws.claim("good")
    (ws.claims / "bad.yaml").write_text("id: bad\nstatement: [unclosed\n")
    append(ws.out, ws.claims / "good.yaml", "supported")
    result = ws.gate()
    assert result.exit_code == 4
    assert "bad.yaml:" in result.output


def test_nothing_matched_is_5(ws, tmp_path):
    (tmp_path / "empty").mkdir()
    assert cli("gate", tmp_path / "empty", "--out", ws.out).exit_code == 5
    assert cli("run", tmp_path / "empty", "--out", ws.out).exit_code == 5
    assert cli("check", str(tmp_path / "nothing-*.yaml")).exit_code == 5


def test_globs_and_directories_expand(ws):
    ws.claim("a_hub")
    ws.claim("b_hub")
    ws.claim("other")
    result = cli("check", str(ws.claims / "*_hub.yaml"))
    assert result.exit_code == 0 and "a_hub" in result.output and "b_hub" in result.output
    assert "other" not in result.output


def test_missing_evidence_is_6(ws):
    ws.claim("never")
    result = ws.gate()
    assert result.exit_code == 6
    assert "never: missing: never run" in result.output


def test_stale_after_editing_claim_file(ws):
    c = ws.claim("c")
    append(ws.out, c, "supported")
    assert ws.gate().exit_code == 0
    c.write_text(c.read_text().replace("min_family_fraction: 0.5", "min_family_fraction: 0.75"))
    result = ws.gate()
    assert result.exit_code == 6, result.output
    (line,) = ws.failures(result)
    assert "stale: claim file changed since run" in line
    assert "threshold change: acceptance.min_family_fraction 0.5 → 0.75" in line
    append(ws.out, c, "supported")  # re-run: fresh again
    assert ws.gate().exit_code == 0


def test_a_comment_only_edit_is_not_stale(ws):
    c = ws.claim("c")
    append(ws.out, c, "supported")
    c.write_text("# a comment\n" + c.read_text())
    assert ws.gate().exit_code == 0
    c.write_text(c.read_text().replace("prompts_per_family: 3", "prompts_per_family: 2"))
    result = ws.gate()
    assert result.exit_code == 6 and "suite.prompts_per_family 3 → 2" in result.output


def test_stale_after_suite_or_model_change(ws, tmp_path):
    suite = tmp_path / "suite.yaml"
    shutil.copy(MAIN_SUITE, suite)
    c = ws.claim("c")
    c.write_text(c.read_text().replace(str(MAIN_SUITE), str(suite)))
    append(ws.out, c, "supported")
    assert ws.gate().exit_code == 0
    text = suite.read_text()
    version = next(line for line in text.splitlines() if line.startswith("version:"))
    suite.write_text(text.replace(version, "version: 99"))
    result = ws.gate()
    assert result.exit_code == 6 and "suite" in result.output and "is v99 now" in result.output
    suite.write_text(text + "\n# edited without a version bump\n")
    result = ws.gate()
    assert result.exit_code == 6 and "changed without a version bump" in result.output
    suite.write_text(text)
    assert ws.gate().exit_code == 0
    fake_weights(ws.model, b"weights-v2")  # the checkpoint was replaced
    result = ws.gate()
    assert result.exit_code == 6 and "weights changed" in result.output


def test_evidence_from_another_checkpoint_does_not_count(ws, tmp_path):
    c = ws.claim("c")
    other = fake_weights(tmp_path / "other", b"other")
    append(ws.out, c, "supported", model_requested=str(other))
    result = ws.gate()
    assert result.exit_code == 6 and "--model" in result.output
    assert cli("gate", ws.claims, "--out", ws.out, "--model", other).exit_code == 0


def test_publish_then_regression_fails_and_expect_change_acknowledges(ws):
    c = ws.claim("c")
    append(ws.out, c, "supported")
    result = cli("publish", ws.claims, "--out", ws.out)
    assert result.exit_code == 0, result.output
    published = json.loads((ws.out / "published.json").read_text())
    assert published["claims"]["c"]["verdict"] == "supported" and published["ledger"]["bytes"] > 0
    append(ws.out, c, "refuted", hub=1)
    result = ws.gate()
    assert result.exit_code == 1
    (line,) = ws.failures(result)
    assert "c: regressed: published as supported" in line and "now refuted" in line
    assert "verdict supported → refuted" in result.output  # listed among the changes
    # the author logs the miss: expect: refuted; the re-run matches, the change is acknowledged
    c.write_text(c.read_text().replace("expect: supported", "expect: refuted"))
    append(ws.out, c, "refuted", hub=1)
    result = ws.gate()
    assert result.exit_code == 0, result.output
    assert "acknowledged" in result.output


@pytest.mark.parametrize("now,code", [("inconclusive", 2), ("errored", 3)])
def test_published_claim_becoming_inconclusive_or_errored(ws, now, code):
    c = ws.claim("c")
    append(ws.out, c, "supported")
    assert cli("publish", ws.claims, "--out", ws.out).exit_code == 0
    append(ws.out, c, now)
    result = ws.gate()
    assert result.exit_code == code
    assert "regressed: published as supported" in result.output and f"now {now}" in result.output


def test_publish_refuses_when_gate_fails(ws):
    c = ws.claim("c")
    append(ws.out, c, "inconclusive")
    result = cli("publish", ws.claims, "--out", ws.out)
    assert result.exit_code == 2 and "not published" in result.output
    assert not (ws.out / "published.json").exists()


def test_ledger_rewritten_or_baseline_unreadable_is_6(ws):
    c = ws.claim("c")
    append(ws.out, c, "supported")
    assert cli("publish", ws.claims, "--out", ws.out).exit_code == 0
    path = ledger.ledger_path(ws.out)
    original = path.read_text()
    path.write_text(original.replace('"verdict": "supported"', '"verdict": "supported" '))  # rewritten in place
    result = ws.gate()
    assert result.exit_code == 6 and "ledger was rewritten since publication" in result.output
    path.write_text(original)
    assert ws.gate().exit_code == 0
    (ws.out / "published.json").write_text("{not json")
    result = ws.gate()
    assert result.exit_code == 6 and "not a readable baseline" in result.output


def test_deleted_published_claim_is_6_retired_is_kept(ws):
    a, b = ws.claim("a"), ws.claim("b")
    append(ws.out, a, "supported")
    append(ws.out, b, "supported")
    assert cli("publish", ws.claims, "--out", ws.out).exit_code == 0
    b.unlink()
    result = ws.gate()
    assert result.exit_code == 6 and "b: baseline: published claim's file" in result.output
    b = ws.claim("b", extra="retired: true\n")
    result = ws.gate(report=True)
    assert result.exit_code == 0, result.output
    assert "retired" in result.output  # a change since the baseline
    gate = json.loads((ws.out / "gate.json").read_text())
    assert {c["claim_id"]: c["status"] for c in gate["claims"]} == {"a": "pass", "b": "retired"}
    html = (ws.out / "index.html").read_text()
    assert 'id="retired"' in html and "claims/b.html" in html


def test_superseded_by_unknown_claim_is_4(ws):
    ws.claim("old", extra="superseded_by: nowhere\n")
    result = ws.gate()
    assert result.exit_code == 4 and "superseded_by: 'nowhere'" in result.output
    new = ws.claim("nowhere")
    append(ws.out, new, "supported")
    assert ws.gate().exit_code == 0


def test_run_skips_retired_claims_found_in_a_directory(ws):
    ws.claim("old", extra="retired: true\n")
    result = cli("run", ws.claims, "--out", ws.out)
    assert result.exit_code == 0 and "skipped" in result.output
    assert not ledger.read(ws.out)[0]


def test_most_serious_failure_wins(ws):
    ok, bad, stale = ws.claim("ok"), ws.claim("bad"), ws.claim("stale")
    append(ws.out, ok, "supported")
    append(ws.out, bad, "refuted", hub=1)
    append(ws.out, stale, "supported")
    stale.write_text(stale.read_text().replace("layer: 2", "layer: 1"))
    result = ws.gate()
    assert result.exit_code == 6  # 6 (stale) outranks 1 (contradicts)
    assert len(ws.failures(result)) == 2


def test_json_and_junit(ws, tmp_path):
    ok, bad, err = ws.claim("ok"), ws.claim("bad"), ws.claim("err")
    ws.claim("old", extra="retired: true\n")
    append(ws.out, ok, "supported")
    append(ws.out, bad, "refuted", hub=1, reasons=["layer 1 beats <layer 2> & co"])
    append(ws.out, err, "errored")
    junit = tmp_path / "ci" / "gate.xml"
    result = cli("gate", ws.claims, "--out", ws.out, "--json", "--junit", junit)
    assert result.exit_code == 3
    data = json.loads(result.stdout)
    assert data["passed"] is False and data["exit_code"] == 3
    assert {f["claim_id"]: f["reason"] for f in data["failures"]} == {"bad": "contradicts", "err": "errored"}
    suite = ET.parse(junit).getroot().find("testsuite")
    cases = {c.get("name"): c for c in suite.findall("testcase")}
    assert set(cases) == {"ok", "bad", "err", "old"}
    assert suite.get("tests") == "4" and suite.get("failures") == "1" and suite.get("errors") == "1"
    assert cases["ok"].find("failure") is None and cases["ok"].find("error") is None
    assert "<layer 2> & co" in cases["bad"].find("failure").get("message")  # escaped by the XML writer, read back
    assert cases["err"].find("error") is not None
    assert cases["old"].find("skipped") is not None


def test_evaluate_is_pure_over_records(ws):
    """The library API: no CLI, model hash injected."""
    c = ws.claim("c")
    rec = append(ws.out, c, "supported", model_sha="11" * 32)
    claims, invalid = g.load_claims([c])
    same = g.evaluate([rec], claims, model_hash=lambda name: "11" * 32)
    assert same.passed and not invalid
    moved = g.evaluate([rec], claims, model_hash=lambda name: "22" * 32)
    assert moved.exit_code == 6 and moved.failures[0].reason == "stale"
    unknown = g.evaluate([rec], claims, model_hash=lambda name: None)
    assert unknown.passed and "not verified" in unknown.notes[0]


def test_run_a_directory_then_gate_end_to_end(tmp_path, tiny_dir):
    """Real records from `audit run` on a tiny planted model: the gate recomputes the same hashes."""
    model = tiny_dir("gate_llama_hub2", "llama", hub=2)
    claims, out = tmp_path / "claims", tmp_path / "reports"
    claims.mkdir()
    c = write_claim(claims / "hub.yaml", model=str(model), layer=2, prompts=2)
    assert cli("run", claims, "--out", out).exit_code == 0
    (rec,) = ledger.read(out)[0]
    assert rec["claim_text"] == c.read_text()
    assert cli("gate", claims, "--out", out, "--no-report").exit_code == 0
    assert cli("publish", claims, "--out", out).exit_code == 0
    c.write_text(c.read_text().replace("min_family_fraction: 0.5", "min_family_fraction: 0.6"))
    result = cli("gate", claims, "--out", out, "--no-report")
    assert result.exit_code == 6 and "threshold change" in result.output
    assert cli("run", claims, "--out", out).exit_code == 0  # evidence units come from the cache
    assert cli("gate", claims, "--out", out).exit_code == 0
    result = cli("history", "hub", "--out", out)
    assert "threshold change: acceptance.min_family_fraction 0.5 → 0.6" in result.output
