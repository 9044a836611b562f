"""The static report from synthetic ledgers: sections, ordering, card pages, relative plots, escaping."""

import re

import pytest
from typer.testing import CliRunner

from audit import ledger
from audit.cli import app
from audit.render import render_report
from tests.audit.synthetic import append, demo_site, fake_weights, gate_and_render
from tests.conftest import write_claim

runner = CliRunner()


def claim(tmp_path, name, **kw):
    model = fake_weights(tmp_path / "model")
    (tmp_path / "claims").mkdir(exist_ok=True)
    return write_claim(tmp_path / "claims" / f"{name}.yaml", model=str(model), **kw)


@pytest.fixture(scope="module")
def site(tmp_path_factory):
    """A ledger with one claim of each kind of outcome, gated and rendered (shared: tests only read it)."""
    root = tmp_path_factory.mktemp("site")
    out = demo_site(root)
    gate_and_render(root, out)
    return out


def test_index_sections_order_and_links(site):
    html = (site / "index.html").read_text()
    for section in ('id="gate"', 'id="changes"', 'id="claims"', 'id="refuted"', 'id="negative"', 'id="open"',
                    'id="story"', 'id="not-claimed"'):
        assert section in html, section
    assert "Gate: failed (exit 3)" in html
    table = html.split('<section id="claims">')[1].split("</section>")[0]
    order = re.findall(r'href="claims/([a-z_]+)\.html"', table)
    # holds (high, then low), negative result, against expectation, inconclusive, errored
    assert order == ["strong_hub", "weak_hub", "zero_output_hub", "wrong_layer", "flat_sweep", "missing_weights"]
    refuted = html.split('<section id="refuted">')[1].split("</section>")[0]
    assert "wrong_layer" in refuted and "zero_output_hub" in refuted and "Published as a refutation on purpose" in refuted
    assert 'src="plots/wrong_layer-layers.png"' in refuted
    assert "zero_output_hub" in html.split('<section id="negative">')[1].split("</section>")[0]
    story = html.split('<section id="story">')[1].split("</section>")[0]
    assert "wrong_layer" in story and "supported</span> → <span class=\"v refuted\">refuted" in story
    not_claimed = html.split('<section id="not-claimed">')[1].split("</section>")[0]
    assert not_claimed.count("Short synthetic prompts only.") == 1 and "strong_hub" in not_claimed
    assert "the sweep is flat" in html and "weights missing" in html


def test_empty_sections_are_still_present(tmp_path):
    out = tmp_path / "reports"
    c = claim(tmp_path, "only")
    append(out, c, "supported")
    html = render_report(out).read_text()
    assert "No claim is refuted by the latest evidence." in html
    assert "No negative result is recorded yet." in html
    assert "Gate: not evaluated" in html and "No published baseline yet" in html
    assert "No verdict has changed yet" in html


def test_claim_pages_have_the_card_fields_and_relative_plots(site):
    page = (site / "claims" / "wrong_layer.html").read_text()
    for field in ("statement", "intervention", "metric", "controls", "threshold", "falsifier", "Evidence per seed",
                  "Control: seeds", "Caveats", "History", "Provenance", "claim file as run"):
        assert field in page, field
    assert 'src="../plots/wrong_layer-layers.png"' in page and 'src="../plots/wrong_layer-heatmap.png"' in page
    assert (site / "plots" / "wrong_layer-layers.png").stat().st_size > 1000
    assert "verdict supported → refuted" in page  # history
    for img in re.findall(r'<img src="([^"]+)"', page):
        assert not img.startswith(("/", "http", "file:")), img
        assert (site / "claims" / img).resolve().is_file(), img
    md = (site / "claims" / "wrong_layer.md").read_text()
    assert "](../plots/wrong_layer-layers.png)" in md and "## History" in md


def test_html_and_markdown_escape_claim_text(site):
    for page in ("index.html", "claims/strong_hub.html", "claims/zero_output_hub.html", "claims/missing_weights.html"):
        html = (site / page).read_text()
        assert "<script>" not in html, page
        assert "&lt;script&gt;" in html, page
    md = (site / "index.md").read_text() + (site / "claims" / "strong_hub.md").read_text()
    assert "<script>" not in md and "&lt;script&gt;" in md


def test_changes_since_baseline_and_gate_box_after_publish(tmp_path):
    out = tmp_path / "reports"
    c = claim(tmp_path, "c")
    append(out, c, "supported")
    assert runner.invoke(app, ["publish", str(tmp_path / "claims"), "--out", str(out)]).exit_code == 0
    html = (out / "index.html").read_text()
    assert "Gate: passed" in html and "Nothing changed since the baseline" in html
    append(out, c, "refuted", hub=1)
    html = render_report(out).read_text()  # `audit report`: nothing recomputed, the gate marked outdated
    changes = html.split('<section id="changes">')[1].split("</section>")[0]
    assert "verdict supported → refuted" in changes
    assert "The ledger has changed since this gate ran" in html


def test_report_renders_records_written_before_new_fields(tmp_path):
    out = tmp_path / "reports"
    ledger.append(out, {"claim_id": "legacy", "statement": "An old record without claim_text.", "expect": "supported",
                        "verdict": "errored", "confidence": "none", "reasons": ["weights missing"],
                        "evidence": {"error": "weights missing"}, "provenance": {"claim_sha256": "0" * 64},
                        "claim": {"id": "legacy", "statement": "An old record without claim_text."}})
    html = render_report(out).read_text()
    assert "legacy" in html and (out / "claims" / "legacy.html").exists()


def test_report_command_rerenders_without_recomputing(site):
    before = ledger.ledger_path(site).read_bytes()
    (site / "index.html").unlink()
    result = runner.invoke(app, ["report", "--out", str(site)])
    assert result.exit_code == 0 and (site / "index.html").exists()
    assert ledger.ledger_path(site).read_bytes() == before
