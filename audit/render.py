"""Render the report from the ledger: a static site (HTML + Markdown + PNG plots) under ``out_dir``.

- ``index.html`` / ``index.md``: the gate box, changes since the published baseline, the claims
  table (sorted like the study's "claims I would share"), Refuted and Negative results sections
  (always present), inconclusive and errored claims with their reasons, retired claims, "How the
  story changed" and "What is not claimed".
- ``claims/<id>.html`` / ``claims/<id>.md``: one card per claim (statement, intervention, metric,
  controls, threshold, falsifier, evidence per seed, controls, plots, caveats, provenance, history).

Rendering reads only the ledger, ``published.json`` and ``gate.json``; nothing is recomputed.
Plots are referenced relatively, so the folder can be served or zipped as it is.

Nothing from the ledger is trusted: every file name is built from ``ledger.slug`` and checked to
stay under ``out_dir``; HTML templates are autoescaped; Markdown templates escape every ``{{ }}``
output for CommonMark (``_md``: one line, punctuation that could start markup backslash-escaped,
``<>&`` as entities) unless a filter built it as ``MdSafe`` (a code span of any text, a path of
the report's own files). Ledger lines that are not usable records are listed, not used.
"""

from __future__ import annotations

import json
import re
from datetime import datetime, timezone
from pathlib import Path

from jinja2 import ChainableUndefined, Environment, PackageLoader
from jinja2.utils import missing
from markupsafe import Markup, escape

from audit import gate as gate_mod
from audit import ledger
from audit.cards import build_card
from audit.history import history, short, story

ORDER = {"supported": 0, "refuted": 1, "inconclusive": 2, "errored": 3}
CONF_ORDER = {"very_high": 0, "high": 1, "medium": 2, "low": 3, "none": 4}
GROUP_TITLES = {0: "holds", 1: "negative result", 2: "against expectation", 3: "against expectation",
                4: "inconclusive", 5: "errored"}


# Records written before a field existed (or by other tools) still render.
CLAIM_DEFAULTS = {"statement": "", "caveats": [], "falsifier": "", "rationale": "", "tags": [], "retired": False,
                  "superseded_by": "", "negative_result": False, "stage": "exploratory", "selected_by": ""}
RECORD_DEFAULTS = {"statement": "", "expect": "supported", "verdict": "errored", "confidence": "none",
                   "matches_expect": False, "reasons": [], "summary": {}, "provenance": {}, "evidence_kinds": [],
                   "controls_run": [], "run_id": "", "started_at": "", "finished_at": "", "confidence_notes": []}


class _FieldUndefined(ChainableUndefined):
    """A missing *field* of a record renders empty (records from older versions or other evidence
    kinds lack fields, and a report must still render); a missing template *variable* is a bug."""

    def _check(self):
        if self._undefined_obj is missing:
            self._fail_with_undefined_error()

    def __str__(self) -> str:
        self._check()
        return ""

    def __bool__(self) -> bool:
        self._check()
        return False

    def __iter__(self):
        self._check()
        return iter(())

    def __len__(self) -> int:
        self._check()
        return 0


def _autoescape(name: str | None) -> bool:
    return name is not None and ".html" in name


class MdSafe(str):
    """Markdown the renderer built itself (escaped text, a code span, a path of its own files)."""


_CONTROL = re.compile("[\x00-\x08\x0b-\x1f\x7f-\x9f\u202a-\u202e\u2066-\u2069]")
_MD_ESCAPES = str.maketrans({"&": "&amp;", "<": "&lt;", ">": "&gt;", **{ch: "\\" + ch for ch in "\\`*[]#|~$"}})


def _plain(value) -> str:
    """One line of text: control and bidi-override characters dropped, whitespace runs one space."""
    return " ".join(_CONTROL.sub("", str(value)).split())


_BLOCK_START = re.compile(r"^(?:[-+](?= |$)|[-=]+ *$|\d{1,9}(?=[.)](?: |$)))")


def _underscores(text: str) -> str:
    """Escape ``_`` runs that could open or close emphasis (an intraword run, as in ``top5_overlap``, cannot)."""
    def one(m: re.Match) -> str:
        inside = m.start() > 0 and m.end() < len(text) and text[m.start() - 1].isalnum() and text[m.end()].isalnum()
        return m.group() if inside else m.group().replace("_", "\\_")
    return re.sub("_+", one, text)


def _escape(text: str) -> str:
    """Backslash-escape inline markup, and what would open a block (list item, setext underline)
    if the text began a line."""
    text = _underscores(text.translate(_MD_ESCAPES))
    match = _BLOCK_START.match(text)
    if not match:
        return text
    end = match.end()
    return text[:end] + "\\" + text[end:] if text[:1].isdigit() else "\\" + text


def _md(value) -> MdSafe:
    """Text for Markdown: it stays text (no HTML, link, image, code, emphasis, heading, list, table
    cell or line break can come out of it), wherever in a line it is placed."""
    return value if isinstance(value, MdSafe) else MdSafe(_escape(_plain(value)))


def _code(value, cell: bool = False) -> MdSafe:
    """An inline code span holding any text: its fence is longer than any backtick run inside
    (``cell``: in a table row, where GFM needs ``|`` escaped even inside code)."""
    text = _plain(value)
    if cell:
        text = text.replace("|", "\\|")
    if not text:
        return MdSafe("")
    fence = "`" * (max((len(run) for run in re.findall("`+", text)), default=0) + 1)
    pad = " " if text[0] in "` " or text[-1] in "` " else ""
    return MdSafe(f"{fence}{pad}{text}{pad}{fence}")


_NOTE_TOKENS = re.compile(r"(`[^`]*`|\*\*)")


def _note_md(value) -> MdSafe:
    """Text our code wrote with `code` and **bold** in it (card notes, reasons, gate messages) for
    Markdown: those two kept (a code span holds anything safely), everything else escaped."""
    parts = [_code(t[1:-1]) if t.startswith("`") and len(t) > 1 else t if t == "**" else _escape(t)
             for t in _NOTE_TOKENS.split(_plain(value)) if t]
    return MdSafe("".join(parts))


def _note_html(value) -> Markup:
    """The same note as HTML: `code` and **bold** as elements, everything else escaped."""
    out, bold = [], False
    for t in _NOTE_TOKENS.split(str(value)):
        if t == "**":
            out.append(Markup("</strong>" if bold else "<strong>"))
            bold = not bold
        elif t.startswith("`") and t.endswith("`") and len(t) > 1:
            out.append(Markup("<code>%s</code>") % t[1:-1])
        else:
            out.append(escape(t))
    return Markup("").join(out + ([Markup("</strong>")] if bold else []))


def _fmt(v) -> str:
    """Compact text of an evidence value: long numeric lists are summarised, not dumped."""
    if isinstance(v, float):
        return f"{v:.4g}"
    if isinstance(v, list):
        if len(v) > 8 and all(isinstance(x, (int, float)) for x in v):
            return f"{len(v)} values, min {min(v):.4g}, mean {sum(v) / len(v):.4g}, max {max(v):.4g}"
        return "[" + ", ".join(_fmt(x) for x in v[:12]) + (", …" if len(v) > 12 else "") + "]"
    if isinstance(v, dict):
        items = list(v.items())
        return ", ".join(f"{k}: {_fmt(x)}" for k, x in items[:12]) + (", …" if len(items) > 12 else "")
    return str(v)


def _env(markdown: bool = False) -> Environment:
    """The HTML environment (autoescaped), or the Markdown one (every ``{{ }}`` output goes through
    ``_md``: escaped unless a filter built it as MdSafe)."""
    env = Environment(loader=PackageLoader("audit", "templates"), undefined=_FieldUndefined, autoescape=_autoescape,
                      trim_blocks=True, lstrip_blocks=True, keep_trailing_newline=True,
                      finalize=_md if markdown else None)
    env.filters["num"] = lambda v, d=4: f"{v:.{d}g}" if isinstance(v, float) else str(v)
    env.filters["md"] = env.filters["cell"] = _md
    env.filters["code"] = _code
    env.filters["codecell"] = lambda v: _code(v, cell=True)
    env.filters["note"] = _note_md if markdown else _note_html
    env.filters["slug"] = lambda v: MdSafe(ledger.slug(v))
    env.filters["fmt"] = _fmt
    env.filters["short"] = short
    env.filters["date"] = lambda s: (s if isinstance(s, str) else "")[:16].replace("T", " ")
    env.filters["tojson_pretty"] = lambda v: json.dumps(v, indent=2, default=str)
    return env


def share_key(rec: dict) -> tuple:
    """Sort like the study's "claims I would share": what holds first (strongest evidence first),
    then negative results, then claims the evidence went against, inconclusive, errored."""
    return (_group(rec), CONF_ORDER.get(rec.get("confidence"), 9), rec.get("claim_id", ""))


def _negative(rec: dict) -> bool:
    claim = rec.get("claim") or {}
    return bool(claim.get("negative_result")) or rec.get("expect") == "refuted"


def _group(rec: dict) -> int:
    v, e = rec.get("verdict"), rec.get("expect")
    if v in ("supported", "refuted"):
        if v == e:
            return 1 if _negative(rec) else 0
        return 2 if v == "refuted" else 3
    return 4 if v == "inconclusive" else 5


def _inactive(rec: dict) -> str:
    claim = rec.get("claim") or {}
    if claim.get("superseded_by"):
        return "superseded"
    return "retired" if claim.get("retired") else ""


def _control_tables(ev: dict) -> list[dict]:
    """Every control's record (seed replication, random vectors, null distributions ...) as rows."""
    out = []
    controls = ev.get("controls") or {}
    for name, body in (controls.items() if isinstance(controls, dict) else [("controls", controls)]):
        if isinstance(body, dict):
            rows = [[k, _fmt(v)] for k, v in body.items()]
        else:
            rows = [["value", _fmt(body)]]
        out.append({"title": f"Control: {name}", "columns": ["field", "value"], "rows": rows})
    return out


_PLOT = re.compile(r"plots/[a-z0-9][a-z0-9_.-]*\.png")
_PAGE = re.compile(r"(claims/)?[a-z0-9][a-z0-9_.-]*\.(html|md)")


def _plots(built: dict, notes: list[str]) -> list[tuple[MdSafe, str]]:
    """The card's plots that are files under ``plots/`` (a bug in a card could name another path)."""
    out = []
    for path, caption in built.get("plots", []):
        if isinstance(path, str) and _PLOT.fullmatch(path):
            out.append((MdSafe(path), str(caption)))
        else:
            notes.append(f"plot {path!r} not shown: not a file under plots/")
    return out


def _page(claim_id: str, ext: str) -> MdSafe:
    return MdSafe(f"claims/{ledger.slug(claim_id)}.{ext}")


def _card(rec: dict, out_dir: Path, records: list[dict], gate: dict | None, published: dict) -> dict:
    ev = rec.get("evidence") or {}
    try:
        built = build_card(rec, out_dir)
    except Exception as exc:  # a broken card must not take the whole report down
        built = {"plots": [], "tables": [], "notes": [f"report card could not be built: {type(exc).__name__}: {exc}"]}
    notes = list(built.get("notes", []))
    plots = _plots(built, notes)
    entries = history(records, rec["claim_id"])
    gate_claim = next((c for c in (gate or {}).get("claims", []) if c.get("claim_id") == rec["claim_id"]), None)
    claim = {**CLAIM_DEFAULTS, **(rec.get("claim") or {})}
    if gate_claim and gate_claim.get("status") in ("retired", "superseded"):  # retired since its last run
        claim.update(retired=True, superseded_by=gate_claim.get("superseded_by") or claim["superseded_by"])
    rec = {**RECORD_DEFAULTS, **rec, "claim": claim}
    reasons = rec.get("reasons") or []
    return {
        "rec": rec, "claim": claim, "id": rec["claim_id"], "error": ev.get("error"), "traceback": ev.get("traceback"),
        "plots": plots, "tables": list(built.get("tables", [])), "notes": notes,
        "controls": _control_tables(ev), "history": [e.to_dict() for e in entries], "n_runs": len(entries),
        "group": _group(rec), "group_title": GROUP_TITLES[_group(rec)], "negative": _negative(rec),
        "inactive": _inactive(rec), "gate": gate_claim, "published": published.get(rec["claim_id"]),
        "page": _page(rec["claim_id"], "html"), "page_md": _page(rec["claim_id"], "md"),
        "evidence_line": short(reasons[0], 220) if reasons else "",
        "evidence_kinds": rec.get("evidence_kinds") or [], "controls_run": rec.get("controls_run") or [],
        "claim_text": rec.get("claim_text"), "stage": claim["stage"], "exploratory": claim["stage"] == "exploratory",
        "selected_by": claim["selected_by"], "confidence_notes": rec.get("confidence_notes") or [],
    }


def _not_claimed(cards: list[dict]) -> list[dict]:
    """The claims' caveats, identical ones merged, each with the claims it limits."""
    seen: dict[str, list[str]] = {}
    for c in cards:
        for cv in c["claim"].get("caveats") or []:
            seen.setdefault(cv.strip(), []).append(c["id"])
    return [{"text": t, "claims": ids} for t, ids in seen.items()]


def _changes(latest: list[dict], records: list[dict], baseline: dict | None) -> list[dict]:
    if not baseline:
        return []
    claims = [gate_mod.CurrentClaim.from_record(r) for r in latest]
    run_ids = {r.get("run_id"): r for r in records}
    return [vars(c) for c in gate_mod._changes(claims, records, baseline.get("claims", {}), run_ids, None)]


def render_report(out_dir: Path, gate: dict | None = None) -> Path:
    """Write the static report under ``out_dir``; return the path of ``index.html``.

    ``gate`` is a gate result (``GateResult.to_dict()``); without it the last ``gate.json`` is
    shown, marked outdated when the ledger grew since.
    """
    out_dir = Path(out_dir)
    records, bad = ledger.load(out_dir)  # LedgerError when it cannot be read at all: nothing is written
    baseline, baseline_problems = gate_mod.load_baseline(out_dir / gate_mod.BASELINE_NAME)
    gate = gate if gate is not None else gate_mod.read_gate(out_dir)
    published = (baseline or {}).get("claims", {})
    latest = sorted(ledger.latest_per_claim(records).values(), key=share_key)
    cards = [_card(r, out_dir, records, gate, published) for r in latest]
    active = [c for c in cards if not c["inactive"]]
    by_verdict = lambda v: [c for c in active if c["rec"]["verdict"] == v]  # noqa: E731
    ctx = {
        "cards": active, "retired": [c for c in cards if c["inactive"]],
        "holding": by_verdict("supported"),
        "refuted": sorted(by_verdict("refuted"), key=lambda c: c["group"] != 2),  # surprises first
        "negative": [c for c in cards if c["negative"]],
        "inconclusive": by_verdict("inconclusive"), "errored": by_verdict("errored"),
        "gate": gate, "gate_outdated": bool(gate) and gate.get("ledger_records") != len(records),
        "baseline": baseline, "baseline_problems": [f.line() for f in baseline_problems],
        "changes": _changes(latest, records, baseline), "story": story(records)[:30],
        "not_claimed": _not_claimed(active), "n_runs": len(records),
        "ledger_problems": [f"{ledger.LEDGER_NAME}:{b.line}: {b.problem}" for b in bad],
        "n_claims": len(cards), "generated": datetime.now(timezone.utc).strftime("%Y-%m-%d %H:%M UTC"),
    }
    html_env, md_env = _env(), _env(markdown=True)
    (out_dir / "claims").mkdir(parents=True, exist_ok=True)
    for c in cards:
        page = {**ctx, "c": c, "root": MdSafe("../")}
        _write(out_dir, c["page"], html_env.get_template("claim.html.j2").render(**page))
        _write(out_dir, c["page_md"], md_env.get_template("claim.md.j2").render(**page))
    _write(out_dir, "index.md", md_env.get_template("index.md.j2").render(**ctx, root=MdSafe("")))
    return _write(out_dir, "index.html", html_env.get_template("index.html.j2").render(**ctx, root=MdSafe("")))


def _write(out_dir: Path, relative: str, text: str) -> Path:
    """Write one page of the report; ``relative`` is checked to name a page directly under ``out_dir``
    or ``out_dir/claims`` (pages are named from ``ledger.slug``; this is the last line of defence)."""
    if not _PAGE.fullmatch(relative):
        raise ValueError(f"refusing to write {relative!r}: not a report page under the output directory")
    path = out_dir / relative
    path.write_text(text, encoding="utf-8")
    return path

