"""Hostile ledgers (issue 20, items 1, 7, 8): a record never writes outside --out, a corrupt line never
crashes report / gate / history / run (it is listed, the ledger stays byte-identical), and the Markdown
report stays text when rendered by a CommonMark renderer."""

from __future__ import annotations

import json
import os
import sys
import tempfile
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from markdown_it import MarkdownIt

from audit import ledger
from audit.render import render_report
from tests.audit.synthetic import cli, fake_weights, record_for
from tests.conftest import write_claim



@pytest.fixture
def ws(tmp_path):
    """claims/good.yaml on a fake model, and reports/ holding one good record of it."""
    model = fake_weights(tmp_path / "model")
    (tmp_path / "claims").mkdir()
    claim = write_claim(tmp_path / "claims" / "good.yaml", model=str(model))
    out = tmp_path / "reports"
    ledger.append(out, record_for(claim, "supported"))
    return tmp_path, claim, out


def add_line(out: Path, line: bytes) -> bytes:
    """Append a raw line to the ledger (as a hand edit or a disk fault would); return the ledger's bytes."""
    with open(ledger.ledger_path(out), "ab") as f:
        f.write(line + b"\n")
    return ledger.ledger_path(out).read_bytes()


# ------------------------------------------------------------------------------------------------
# 1. path traversal


def test_traversal_id_writes_nothing_outside_out(ws):
    root, _, out = ws
    (root / "README.md").write_text("the project's readme\n")
    bad = {"claim_id": "../../README", "verdict": "supported", "statement": "overwrite the readme"}
    before = add_line(out, json.dumps(bad).encode())
    result = cli("report", "--out", out)
    assert result.exit_code == 0, result.output
    assert (root / "README.md").read_text() == "the project's readme\n"
    assert not (root / "README.html").exists() and not list(root.glob("*.png"))
    index = (out / "index.md").read_text()
    assert "claim_id '../../README' is not a claim id" in index and "overwrite the readme" not in index
    assert ledger.ledger_path(out).read_bytes() == before


@pytest.mark.parametrize("claim_id", ["a/b", "/etc/passwd", "..", "nul\x00byte", "x" * 5000, "Ümlaut", "CAPS"])
def test_ids_that_are_no_file_name_are_listed_not_rendered(ws, claim_id):
    _, _, out = ws
    add_line(out, json.dumps({"claim_id": claim_id, "verdict": "supported"}).encode())
    render_report(out)
    assert sorted(p.name for p in (out / "claims").iterdir()) == ["good.html", "good.md"]
    assert "Ledger lines not used" in (out / "index.md").read_text()


def test_slug_is_a_file_name_for_any_id():
    for claim_id in ["../../README", "a/b", "..", "", "\x00", "x" * 500, "Ümlaut", 5, None, ["a"], ".hidden"]:
        s = ledger.slug(claim_id)
        assert s and "/" not in s and "\x00" not in s and not s.startswith(".") and len(s) <= 60, (claim_id, s)
    assert ledger.slug("a/b") != ledger.slug("a-b") != ledger.slug("a_b")
    assert ledger.slug("good_claim.v2") == "good_claim.v2"


def test_claim_id_rule_is_the_claim_files_rule():
    from audit.schema import Claim

    prop = Claim.model_json_schema()["properties"]["id"]
    assert prop["pattern"] == ledger.CLAIM_ID_PATTERN and prop["maxLength"] == ledger.CLAIM_ID_MAX


# A record of arbitrary contents: ids with /, .., NUL, very long or unicode, any JSON in any field.
_json = st.recursive(st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=20),
                     lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=8), inner, max_size=3),
                     max_leaves=8)
_hostile_text = st.sampled_from(["../../README", "a/b", "/abs", "..", "nul\x00", "x" * 300, "Ümlaut/..", "<script>",
                                 "`<img onerror=alert(1)>`", "$\\frac{1}{$", "line\n## Refuted", "good", "ok.v1", "",
                                 "[x](http://evil.example)", "![i](http://evil.example/i.png)", "<http://e.example>"])
_ids = _hostile_text | st.text(max_size=40) | _json
_fields = st.fixed_dictionaries({}, optional={
    "verdict": st.sampled_from(["supported", "refuted", "inconclusive", "errored"]) | _json,
    "statement": _hostile_text | _json, "reasons": st.lists(_hostile_text, max_size=2) | _json,
    "provenance": st.fixed_dictionaries({}, optional={"model_requested": _hostile_text, "suite": _hostile_text,
                                                      "weights_sha256": _hostile_text | _json}) | _json,
    "claim": st.fixed_dictionaries({}, optional={
        "selected_by": _hostile_text, "superseded_by": _hostile_text, "caveats": st.lists(_hostile_text, max_size=2),
        "suite": _json, "controls": _json, "intervention": _json, "acceptance": _json, "retired": _json}) | _json,
    "claim_text": _hostile_text | _json, "confidence": st.sampled_from(["low", "very_high"]) | _json,
    "evidence": st.fixed_dictionaries({"kind": st.sampled_from(["layer_sweep", "steering", "lora", "nope"])}) | _json,
    "finished_at": _hostile_text | _json, "summary": _json})
_records = st.builds(lambda cid, rest: {"claim_id": cid, **rest}, _ids, _fields)
# Records the reader accepts, full of hostile text: what the renderer itself must keep inside --out.
_text = _hostile_text | st.text(max_size=30)
_valid = st.builds(lambda cid, rest: {"claim_id": cid, **rest}, st.sampled_from(["good", "ok.v1", "a..b", "x" * 100]),
                   st.fixed_dictionaries({}, optional={
                       "verdict": st.sampled_from(["supported", "refuted", "inconclusive", "errored"]),
                       "expect": st.sampled_from(["supported", "refuted"]), "statement": _text,
                       "reasons": st.lists(_text, max_size=2), "finished_at": _text, "run_id": _text,
                       "provenance": st.fixed_dictionaries({}, optional={"model_requested": _text, "suite": _text,
                                                                         "weights_sha256": _text, "claim_file": _text}),
                       "claim": st.fixed_dictionaries({}, optional={
                           "caveats": st.lists(_text, max_size=2), "falsifier": _text, "retired": st.booleans(),
                           "suite": st.fixed_dictionaries({"name": _text, "families": st.lists(_text, max_size=2)}),
                           "intervention": st.dictionaries(_text, _text, max_size=2)}),
                       "evidence": st.fixed_dictionaries({"kind": st.sampled_from(["layer_sweep", "steering", "x"]),
                                                          "error": _text}),
                       "summary": st.dictionaries(_text, _json, max_size=2)}))
_lines = st.lists(st.one_of(_valid, _records).map(lambda r: json.dumps(r).encode())
                  | st.binary(max_size=30).filter(lambda b: b"\n" not in b), min_size=1, max_size=5)

_WRITES: list[str] | None = None


def _audit(event, args):
    """Record every path opened for writing (or created) while a render is watched."""
    if _WRITES is None:
        return
    if event == "open" and isinstance(args[0], (str, bytes, os.PathLike)):
        mode, flags = args[1] or "", args[2] or 0
        if any(m in mode for m in "wax+") or flags & (os.O_WRONLY | os.O_RDWR | os.O_CREAT):
            _WRITES.append(os.fsdecode(args[0]))
    elif event in ("os.mkdir", "os.rename", "os.replace", "os.remove", "os.symlink"):
        _WRITES.extend(os.fsdecode(a) for a in args[:2] if isinstance(a, (str, bytes, os.PathLike)))


sys.addaudithook(_audit)


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(lines=_lines)
def test_every_path_the_renderer_writes_is_inside_out(lines):
    global _WRITES
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        out = root / "deep" / "reports"
        out.mkdir(parents=True)
        (root / "README.md").write_text("keep")
        data = b"\n".join(lines) + b"\n"
        ledger.ledger_path(out).write_bytes(data)
        _WRITES = []
        try:
            render_report(out)
        finally:
            written, _WRITES = _WRITES, None
        inside = out.resolve()
        for path in written:
            if "__pycache__" in path:  # a lazy import compiling a module
                continue
            assert Path(os.path.abspath(path)).resolve().is_relative_to(inside), path
        assert sorted(p.name for p in root.iterdir()) == ["README.md", "deep"]
        assert (root / "README.md").read_text() == "keep"
        assert ledger.ledger_path(out).read_bytes() == data
        records, bad = ledger.parse(data)
        assert len(records) + len(bad) == sum(bool(line.strip()) for line in data.split(b"\n"))
        index = (out / "index.md").read_text()
        assert index.count("\n- ledger.jsonl:") == len(bad)
        for page in out.rglob("*.md"):
            assert_markdown_is_text(page.read_text())


# ------------------------------------------------------------------------------------------------
# 7. a corrupted ledger

CORRUPT = {
    "non-UTF-8": (b'{"claim_id": "good", "verdict": "refuted\xff\xfe"}', "not UTF-8 text"),
    "not JSON": (b"garbage", "not JSON"),
    "a list": (b"[1, 2]", "a JSON list, expected a record"),
    "a number": (b"5", "a JSON int, expected a record"),
    "no claim_id": (b'{"verdict": "supported"}', "a record without claim_id"),
    "a list as claim_id": (b'{"claim_id": ["good"]}', "claim_id ['good'] is not a claim id"),
    "a number as claim_id": (b'{"claim_id": 5}', "claim_id 5 is not a claim id"),
    "wrong field type": (b'{"claim_id": "good", "verdict": "supported", "reasons": "one"}', "field reasons"),
    "wrong nested type": (b'{"claim_id": "good", "provenance": {"weights_sha256": 5}}', "field provenance.weights_sha256"),
    "unknown verdict": (b'{"claim_id": "good", "verdict": "maybe"}', "field verdict"),
    "a link as superseded_by": (b'{"claim_id": "good", "claim": {"superseded_by": "javascript:x"}}',
                                "field claim.superseded_by"),
    "lone surrogate": (b'{"claim_id": "good", "statement": "\\ud800"}', "not valid Unicode"),
    "too deep": (b'{"claim_id": "good", "x": ' + b"[" * 80 + b"]" * 80 + b"}", "nested deeper than"),
    "huge integer": (b'{"claim_id": "good", "n": ' + b"9" * 5000 + b"}", "not JSON"),
}


@pytest.mark.parametrize("name", sorted(CORRUPT))
def test_corrupt_line_is_listed_everywhere_and_kept(ws, name):
    root, claim, out = ws
    line, message = CORRUPT[name]
    before = add_line(out, line)
    records, bad = ledger.parse(before)
    assert len(records) == 1 and len(bad) == 1 and message in bad[0].problem and bad[0].line == 2

    result = cli("report", "--out", out)
    assert result.exit_code == 0, result.output
    index_md, index_html = (out / "index.md").read_text(), (out / "index.html").read_text()
    assert "## Ledger lines not used" in index_md and "ledger.jsonl:2:" in index_md
    assert 'id="ledger-problems"' in index_html and "ledger.jsonl:2:" in index_html
    assert "](claims/good.md)" in index_md and (out / "claims" / "good.md").exists()  # the good record renders

    result = cli("gate", root / "claims", "--out", out, "--no-report")
    assert result.exit_code == 6, result.output
    (fail,) = [x for x in result.output.splitlines() if x.startswith("FAIL")]
    assert "ledger: " in fail and "ledger.jsonl:2:" in fail and message in fail

    result = cli("history", "good", "--out", out)
    assert result.exit_code == 0 and "good: 1 run(s)" in result.output, result.output
    assert ledger.ledger_path(out).read_bytes() == before


def test_corrupt_line_superseded_by_a_newer_record_is_a_note(ws):
    root, claim, out = ws
    add_line(out, b'{"claim_id": "good", "verdict": 5}')
    ledger.append(out, record_for(claim, "supported"))
    result = cli("gate", root / "claims", "--out", out, "--no-report")
    assert result.exit_code == 0, result.output
    assert "note: ledger.jsonl:2: field verdict" in result.output and "a newer record of the claim is used" in result.output


def test_torn_write_is_a_note_not_a_failure(ws):
    root, _, out = ws
    add_line(out, b'{"schema_version": 1, "claim_id": "good", "verdict": "ref')
    result = cli("gate", root / "claims", "--out", out, "--no-report")
    assert result.exit_code == 0 and "incomplete line" in result.output, result.output


def test_ledger_that_is_a_directory_is_one_line_and_nothing_is_written(tmp_path):
    out = tmp_path / "reports"
    ledger.ledger_path(out).mkdir(parents=True)
    for call in (lambda: ledger.load(out), lambda: render_report(out),
                 lambda: ledger.append(out, {"claim_id": "a"}), lambda: ledger.check(out)):
        with pytest.raises(ledger.LedgerError) as exc:
            call()
        assert "\n" not in str(exc.value) and str(ledger.ledger_path(out)) in str(exc.value)
    assert sorted(p.name for p in out.iterdir()) == ["ledger.jsonl"] and not any(ledger.ledger_path(out).iterdir())


def _ledger_dir(ws) -> Path:
    root, _, out = ws
    ledger.ledger_path(out).unlink()
    ledger.ledger_path(out).mkdir()
    return out


def test_cli_report_on_a_ledger_directory_is_one_line(ws):
    result = cli("report", "--out", _ledger_dir(ws))
    assert result.exit_code == 4 and "is a directory, expected the ledger file" in result.output, result.output
    assert result.exception is None or isinstance(result.exception, SystemExit)


@pytest.mark.parametrize("command", [("gate", "--no-report"), ("history", "good")])
def test_cli_ledger_directory_is_one_line_no_traceback(ws, command):
    result = cli(*command, "--out", _ledger_dir(ws))
    assert result.exit_code in (4, 6) and isinstance(result.exception, (SystemExit, type(None))), result.output
    assert "is a directory" in result.output


def test_run_on_a_corrupt_ledger_appends_and_keeps_every_byte(tmp_path, tiny_dir):
    model = tiny_dir("hostile_llama_hub2", "llama", hub=2)
    claims, out = tmp_path / "claims", tmp_path / "reports"
    claims.mkdir()
    write_claim(claims / "hub.yaml", model=str(model), layer=2, prompts=2)
    out.mkdir()
    before = b'[1]\n\xff\n{"claim_id": 5}\n{"claim_id": "hub", "verdict": "refuted", "reasons": 3}\n{"claim_id": "hub", "n'
    ledger.ledger_path(out).write_bytes(before)
    result = cli("run", claims, "--out", out)
    assert result.exit_code == 0, result.output
    data = ledger.ledger_path(out).read_bytes()
    assert data.startswith(before) and len(ledger.parse(data)[0]) == 1
    assert (out / "index.md").read_text().count("\n- ledger.jsonl:") == 5
    result = cli("gate", claims, "--out", out, "--no-report")
    assert result.exit_code == 6 and "names no claim" in result.output, result.output


# ------------------------------------------------------------------------------------------------
# 8. the Markdown report through a CommonMark renderer

HOSTILE = {
    "suite": "<script>alert(1)</script>",
    "model": "m`<img src=x onerror=alert(1)>`",
    "statement": "An innocent claim.\n\n## Refuted\n\n[click](javascript:alert(1)) ![x](http://evil.example/x.png)",
    "family": "$\\frac{1}{$",
}


def _hostile_record(claim: Path) -> dict:
    rec = record_for(claim, "supported")
    rec["statement"] = HOSTILE["statement"]
    rec["reasons"] = ["<b>bold</b> `code` **x**", "- not a list", "1. nor this"]
    rec["provenance"].update(suite=HOSTILE["suite"], model_requested=HOSTILE["model"], model_id=HOSTILE["model"])
    rec["claim"].update(caveats=["<img src=x onerror=alert(2)>", "# heading", "$\\frac{1}{$ math"],
                        falsifier="| cell | break |")
    ev = rec["evidence"]
    ev["families"] = [HOSTILE["family"], "<i>f</i>"]
    ev["samples"] = {s: {f: v for f, v in zip(ev["families"], fams.values())} for s, fams in ev["samples"].items()}
    return rec


def _tokens(md_text: str):
    stack = list(MarkdownIt("commonmark").enable("table").parse(md_text))
    while stack:
        tok = stack.pop()
        yield tok
        stack.extend(tok.children or [])


def assert_markdown_is_text(text: str) -> list:
    """No raw HTML, no link or image outside the report; returns the tokens."""
    tokens = list(_tokens(text))
    assert not [t.content for t in tokens if t.type in ("html_block", "html_inline")]
    links = [t.attrGet("href") for t in tokens if t.type == "link_open"]
    assert all(":" not in h and not h.startswith("/") for h in links), links
    images = [t.attrGet("src") for t in tokens if t.type == "image"]
    assert all(s.startswith(("plots/", "../plots/")) for s in images), images
    return tokens


def _render_md(text: str) -> str:
    return MarkdownIt("commonmark").enable("table").render(text)


def test_markdown_renders_hostile_text_as_text(tmp_path):
    model = fake_weights(tmp_path / "model")
    claim = write_claim(tmp_path / "good.yaml", model=str(model))
    out = tmp_path / "reports"
    ledger.append(out, _hostile_record(claim))
    render_report(out)
    pages = {"index": (out / "index.md").read_text(), "card": (out / "claims" / "good.md").read_text()}
    for name, text in pages.items():
        tokens = assert_markdown_is_text(text)
        assert [t for t in tokens if t.type == "link_open"], name
        assert name == "index" or [t for t in tokens if t.type == "image"]
        assert not [t for t in tokens if t.type in ("em_open", "strong_open") and t.markup == "_"], name
    index, card = _render_md(pages["index"]), _render_md(pages["card"])
    assert index.count("<h2>Refuted</h2>") == 1 and "<h2>Refuted</h2>" not in card  # "## Refuted" stays text
    assert "<h1>heading</h1>" not in card and "<li>not a list" not in card and "<ol>" not in card
    assert "<code>m`&lt;img src=x onerror=alert(1)&gt;`</code>" in card  # the whole model id in one code span
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in card and "[click](javascript:alert(1))" in card
    assert "<li>$\\frac{1}{$ math</li>" in card and "\\$\\\\frac" in pages["card"]  # no math for GitHub
    assert "&lt;b&gt;bold&lt;/b&gt; <code>code</code> <strong>x</strong>" in card  # a reason's own markup only
    assert "<td>| cell | break |</td>" in card  # a pipe in a value does not split the table row


def test_mathtext_in_a_family_name_keeps_the_card(tmp_path):
    model = fake_weights(tmp_path / "model")
    claim = write_claim(tmp_path / "good.yaml", model=str(model))
    out = tmp_path / "reports"
    ledger.append(out, _hostile_record(claim))
    render_report(out)
    card = (out / "claims" / "good.md").read_text()
    assert "could not be built" not in card
    assert (out / "plots" / "good-heatmap.png").stat().st_size > 1000
    assert "](../plots/good-heatmap.png)" in card
