"""The publication path: runs write a working dir, `audit publish` merges and gates, pending claims,
acknowledging a result by editing ``expect``, and the project's ``[tool.mi-audit]`` settings."""

import json

import pytest

from audit import gate as g
from audit import ledger
from audit.project import ProjectConfigError, load
from tests.audit.synthetic import cli, append, fake_weights
from tests.conftest import write_claim



@pytest.fixture
def ws(tmp_path):
    class W:
        claims = tmp_path / "claims"
        work = tmp_path / "work"
        pub = tmp_path / "reports"
        model = fake_weights(tmp_path / "model")

        def claim(self, name, **kw):
            self.claims.mkdir(exist_ok=True)
            return write_claim(self.claims / f"{name}.yaml", model=kw.pop("model", str(self.model)), **kw)

        def gate(self, *extra, out=None):
            return cli("gate", self.claims, "--out", out or self.pub, *extra)

        def publish(self, *extra):
            return cli("publish", self.claims, "--from", self.work, "--to", self.pub, *extra)

    return W()


# ----------------------------------------------------------------------------- pending


def test_a_claim_whose_weights_are_not_here_is_pending_not_errored(ws):
    ws.claim("q", model="no-such-org/not-on-this-machine")
    result = cli("run", ws.claims, "--out", ws.work)
    assert result.exit_code == 7, result.output
    (rec,) = ledger.read(ws.work)[0]
    assert rec["verdict"] == "pending" and rec["confidence"] == "none"
    assert rec["reasons"][0].startswith("not run: weights for model 'no-such-org/not-on-this-machine'")


def test_pending_policy_decides_the_gate_and_is_stated(ws):
    c = ws.claim("q")
    append(ws.pub, c, "pending", reasons=["not run: weights not on this machine"])
    failed = ws.gate("--pending", "fail")
    assert failed.exit_code == 7 and "pending: not run" in failed.output and "pending claims fail" in failed.output
    allowed = ws.gate("--pending", "allow", "--json")
    assert allowed.exit_code == 0, allowed.output
    data = json.loads(allowed.stdout)
    assert data["policy"] == {"pending": "allow", "source": "--pending"}
    assert [c["status"] for c in data["claims"]] == ["pending"]
    assert "pending claims allowed (--pending)" in allowed.output
    assert cli("gate", ws.claims, "--out", ws.pub, "--pending", "maybe").exit_code == 4


def test_a_pending_claim_is_never_counted_as_passing(ws):
    good, pend = ws.claim("good"), ws.claim("pend")
    append(ws.pub, good, "supported")
    append(ws.pub, pend, "pending", reasons=["not run: weights not on this machine"])
    data = json.loads(ws.gate("--pending", "allow", "--json").stdout)
    assert {c["claim_id"]: c["status"] for c in data["claims"]} == {"good": "pass", "pend": "pending"}


# ----------------------------------------------------------------------------- acknowledging


def test_editing_expect_acknowledges_a_refutation_without_making_evidence_stale(ws):
    c = ws.claim("c")
    append(ws.pub, c, "refuted", hub=3)
    assert ws.gate().exit_code == 1
    c.write_text(c.read_text().replace("expect: supported", "expect: refuted"))
    result = ws.gate("--json")
    assert result.exit_code == 0, result.output
    (ack,) = [ch for ch in json.loads(result.stdout)["changes"] if ch["kind"] == "acknowledged"]
    assert ack["acknowledged"] and "expect supported → refuted" in ack["text"] and "which found refuted" in ack["text"]
    history = cli("history", "c", "--out", ws.pub)
    assert "claim file now: expect supported → refuted" in history.output and "acknowledges" in history.output


def test_an_edit_the_evidence_depends_on_is_still_stale(ws):
    c = ws.claim("c")
    append(ws.pub, c, "supported")
    c.write_text("# a comment only\n" + c.read_text())
    assert ws.gate().exit_code == 0, "comments do not change what the evidence means"
    c.write_text(c.read_text().replace("min_family_fraction: 0.5", "min_family_fraction: 0.75"))
    result = ws.gate()
    assert result.exit_code == 6 and "threshold change" in result.output


def test_expect_inconclusive_is_a_published_position_the_gate_accepts(ws):
    c = ws.claim("c", expect="inconclusive")
    append(ws.pub, c, "inconclusive")
    assert ws.gate().exit_code == 0
    c2 = ws.claim("d")
    append(ws.pub, c2, "inconclusive")
    assert ws.gate().exit_code == 2


# ----------------------------------------------------------------------------- publish


def test_runs_never_touch_the_published_dir_and_publish_merges_only_when_the_gate_passes(ws):
    good = ws.claim("good")
    append(ws.pub, good, "supported")
    before = ledger.data(ws.pub)
    bad = ws.claim("bad")
    append(ws.work, good, "supported")
    append(ws.work, bad, "refuted", hub=3)
    refused = ws.publish()
    assert refused.exit_code == 1 and "not published" in refused.output
    assert ledger.data(ws.pub) == before and not (ws.pub / g.BASELINE_NAME).exists()
    bad.write_text(bad.read_text().replace("expect: supported", "expect: refuted"))
    dry = ws.publish("--dry-run")
    assert dry.exit_code == 0 and "would publish 2 new record(s)" in dry.output
    assert ledger.data(ws.pub) == before
    done = ws.publish()
    assert done.exit_code == 0, done.output
    after = ledger.data(ws.pub)
    assert after.startswith(before) and len(ledger.read(ws.pub)[0]) == 3
    baseline = json.loads((ws.pub / g.BASELINE_NAME).read_text())
    assert baseline["ledger"]["bytes"] == len(after) and set(baseline["claims"]) == {"good", "bad"}
    assert ws.publish().exit_code == 0 and ledger.data(ws.pub) == after, "nothing new: nothing appended"


def test_gate_is_read_only_unless_asked(ws):
    c = ws.claim("c")
    append(ws.pub, c, "supported")
    names = sorted(p.name for p in ws.pub.iterdir())
    assert ws.gate().exit_code == 0
    assert sorted(p.name for p in ws.pub.iterdir()) == names
    assert ws.gate("--write").exit_code == 0 and (ws.pub / g.GATE_NAME).exists()


# ----------------------------------------------------------------------------- project settings


def test_project_settings_from_pyproject(tmp_path, monkeypatch):
    (tmp_path / "pyproject.toml").write_text('[tool.mi-audit]\nwork_dir = "w"\n[tool.mi-audit.gate]\npending = "allow"\n')
    (tmp_path / "sub").mkdir()
    p = load(tmp_path / "sub")
    assert p.work_dir == tmp_path / "w" and p.published_dir == tmp_path / "reports" and p.pending == "allow"
    (tmp_path / "pyproject.toml").write_text('[tool.mi-audit.gate]\npending = "sometimes"\n')
    with pytest.raises(ProjectConfigError, match="expected \"allow\" or \"fail\""):
        load(tmp_path)
    (tmp_path / "pyproject.toml").write_text('[tool.mi-audit]\nwork_dri = "w"\n')
    with pytest.raises(ProjectConfigError, match="unknown key"):
        load(tmp_path)
    monkeypatch.chdir(tmp_path)
    result = cli("gate")
    assert result.exit_code == 4 and "unknown key(s) work_dri" in result.output


def test_run_defaults_to_the_work_dir(tmp_path, monkeypatch):
    (tmp_path / "pyproject.toml").write_text('[tool.mi-audit]\nwork_dir = "scratch"\n')
    claims = tmp_path / "claims"
    claims.mkdir()
    write_claim(claims / "q.yaml", model="no-such-org/not-on-this-machine")
    monkeypatch.chdir(tmp_path)
    result = cli("run", "claims")
    assert result.exit_code == 7, result.output
    assert ledger.read(tmp_path / "scratch")[0] and not (tmp_path / "reports").exists()
