"""`audit history`: how a claim's verdict changed across synthetic runs, and why."""

import json

from typer.testing import CliRunner

from audit import ledger
from audit.cli import app
from audit.history import field_diff, history, story
from tests.audit.synthetic import append, fake_weights
from tests.conftest import write_claim

runner = CliRunner()


def three_runs(tmp_path):
    """Run 1 supported; run 2 after a threshold change, inconclusive; run 3 on new weights, refuted."""
    model = fake_weights(tmp_path / "model")
    c = write_claim(tmp_path / "c.yaml", model=str(model))
    out = tmp_path / "out"
    append(out, c, "supported")
    c.write_text(c.read_text().replace("min_family_fraction: 0.5", "min_family_fraction: 0.75"))
    append(out, c, "inconclusive")
    fake_weights(model, b"retrained")
    append(out, c, "refuted", hub=1)
    return c, out


def test_history_explains_threshold_model_and_verdict_changes(tmp_path):
    _, out = three_runs(tmp_path)
    entries = history(ledger.read(out)[0], "c")
    assert [e.verdict for e in entries] == ["supported", "inconclusive", "refuted"]
    assert entries[0].changes == []
    second = [ch.text for ch in entries[1].changes]
    assert "threshold change: acceptance.min_family_fraction 0.5 → 0.75" in second
    assert "verdict supported → inconclusive" in second
    assert any(line.startswith("-  min_family_fraction: 0.5") for line in entries[1].diff)
    assert any(line.startswith("+  min_family_fraction: 0.75") for line in entries[1].diff)
    third = {ch.category: ch.text for ch in entries[2].changes}
    assert "weights sha256" in third["model"] and third["verdict"] == "verdict inconclusive → refuted"
    assert entries[2].diff == []  # the claim file did not change


def test_history_cli_text_and_json(tmp_path):
    _, out = three_runs(tmp_path)
    result = runner.invoke(app, ["history", "c", "--out", str(out)])
    assert result.exit_code == 0, result.output
    text = result.output
    assert "3 run(s)" in text and "#1" in text and "#3" in text
    assert "threshold change: acceptance.min_family_fraction 0.5 → 0.75" in text
    assert "model change: weights sha256" in text
    assert "+  min_family_fraction: 0.75" in text
    data = json.loads(runner.invoke(app, ["history", "c", "--out", str(out), "--json"]).stdout)["runs"]
    assert [d["verdict"] for d in data] == ["supported", "inconclusive", "refuted"]
    assert data[1]["why"].startswith("threshold change")


def test_unknown_claim_is_5_with_a_hint(tmp_path):
    _, out = three_runs(tmp_path)
    result = runner.invoke(app, ["history", "cc", "--out", str(out)])
    assert result.exit_code == 5 and "did you mean 'c'" in result.output


def test_same_inputs_new_outcome_is_new_evidence(tmp_path):
    model = fake_weights(tmp_path / "model")
    c = write_claim(tmp_path / "c.yaml", model=str(model))
    out = tmp_path / "out"
    append(out, c, "supported", summary={"top_layer": 2, "margin": 0.5})
    append(out, c, "supported", summary={"top_layer": 2, "margin": 0.5})
    append(out, c, "inconclusive", summary={"top_layer": 2, "margin": 0.01})
    entries = history(ledger.read(out)[0], "c")
    assert [ch.category for ch in entries[1].changes] == ["rerun"]
    texts = [ch.text for ch in entries[2].changes]
    assert any(t.startswith("new evidence from the same claim, model and suite") and "margin 0.5 → 0.01" in t
               for t in texts)


def test_story_lists_verdict_changes_newest_first(tmp_path):
    _, out = three_runs(tmp_path)
    s = story(ledger.read(out)[0])
    assert [(x["from"], x["to"]) for x in s] == [("inconclusive", "refuted"), ("supported", "inconclusive")]
    assert "threshold change" in s[1]["why"]


def test_field_diff_ignores_fields_added_with_empty_defaults():
    from audit.history import claim_changes

    assert field_diff({"a": {"b": 1}}, {"a": {"b": 2}}) == [("a.b", 1, 2)]
    assert claim_changes({"x": 1}, {"x": 1, "retired": False, "superseded_by": ""}) == []
