"""Render the report from the ledger: a static site (HTML + Markdown + PNG plots) under ``out_dir``.

- ``index.html`` / ``index.md``: the first screen answers "what holds": the gate box (claims per
  gate status and per verdict, the pending policy in one sentence, failures saying the same thing
  grouped into one line naming their claims), then the claims table (sorted like the study's
  "claims I would share"; a stack of cards on narrow screens). Then changes since the published
  baseline, Refuted and Negative results sections (always present), inconclusive and errored
  claims with their reasons, pending claims (weights not on this machine: never shown as
  supported), retired claims, "How the story changed" and "What is not claimed".
- ``claims/<id>.html`` / ``claims/<id>.md``: one card per claim (statement, intervention, metric,
  controls, threshold, falsifier, evidence per seed, controls, plots, caveats, provenance, history).

Rendering reads only the ledger, ``published.json`` and ``gate.json``; nothing is recomputed.
Text is shown as people read it: Python reprs in messages become ``a: 8, b: 3``, `code` becomes
<code>, repeated reasons and notes show once, empty fields are left out, and a claim page whose
gate line no longer describes it says it is stale.
Plots are referenced relatively, so the folder can be served or zipped as it is.

Nothing from the ledger is trusted: every file name is built from ``ledger.slug`` and checked to
stay under ``out_dir``; HTML templates are autoescaped; Markdown templates escape every ``{{ }}``
output for CommonMark (``_md``: one line, punctuation that could start markup backslash-escaped,
``<>&`` as entities) unless a filter built it as ``MdSafe`` (a code span of any text, a path of
the report's own files). Ledger lines that are not usable records are listed, not used.
"""

from __future__ import annotations

import itertools
import json
import re
from datetime import datetime, timezone
from pathlib import Path

from jinja2 import ChainableUndefined, Environment, PackageLoader
from jinja2.utils import missing
from markupsafe import Markup, escape

from audit import gate as gate_mod
from audit import ledger
from audit.cards import build_card, confidence_sentence
from audit.history import history, short, story

ORDER = {"supported": 0, "refuted": 1, "inconclusive": 2, "errored": 3, "pending": 4}
CONF_ORDER = {"very_high": 0, "high": 1, "medium": 2, "low": 3, "none": 4}
GROUP_TITLES = {0: "holds", 1: "negative result", 2: "against expectation", 3: "against expectation",
                4: "inconclusive", 5: "errored", 6: "pending"}
SHOWN_BY_CARDS = ("intervals", "checks")  # summary fields a card's tables already show in full
STATUS_ORDER = ("pass", "fail", "pending", "retired", "superseded", "not_gated")
PENDING_POLICY = {"allow": "Pending claims (weights not available here) are allowed by the project's gate "
                           "policy{where}: listed, never counted as evidence.",
                  "fail": "Pending claims (weights not available here) fail the gate, by the project's gate "
                          "policy{where}."}


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


# a code span, or one a truncation ("…") or the end of the text cut before its closing backtick
_NOTE_TOKENS = re.compile(r"(`[^`]*`|`[^`]*$|\*\*)")


def _scalar(v) -> str:
    if v is None:
        return "unset"
    if isinstance(v, bool):
        return "yes" if v else "no"
    return _fmt(v)


def _human(v, nested: bool = False) -> str:
    """A Python literal as a reader writes it: ``a: 8, b: 3`` for a mapping, ``x, y`` for a list."""
    if isinstance(v, dict):
        text = ", ".join(f"{k}: {_human(x, True)}" for k, x in v.items()) or "none"
        return f"({text})" if nested and len(v) > 1 else text
    if isinstance(v, (list, tuple, set)):
        items = list(v)
        sep = "; " if any(isinstance(x, (dict, list, tuple)) for x in items) else ", "
        text = sep.join(_human(x, True) for x in items) or "none"
        return f"({text})" if nested and len(items) > 1 else text
    return _scalar(v)


_REPR_START = re.compile(r"[\[{]\s*(?=[\[{]*')")  # Python quotes strings with ' (JSON's " is left alone)
_LOOSE_QUOTE = re.compile(r"(?<![A-Za-z0-9])'|'(?![A-Za-z0-9])")
_NONE_CHANGE = re.compile(r"\bNone(?= →)|(?<=→ )None\b")


def _literal_end(text: str, start: int) -> tuple[int, bool | None]:
    """Where the bracketed literal opening at ``start`` ends, and whether a truncation ("…") cut
    it short (None: it never closes, so it is no literal)."""
    depth, quote, i = 0, "", start
    while i < len(text):
        ch = text[i]
        if ch == "…":
            return i + 1, True
        if quote:
            if ch == "\\":
                i += 1
            elif ch == quote:
                quote = ""
        elif ch in "'\"":
            quote = ch
        elif ch in "[{(":
            depth += 1
        elif ch in "]})":
            depth -= 1
            if depth == 0:
                return i + 1, False
        i += 1
    return len(text), None  # never closed, never cut: not a literal


def _derepr(text: str) -> str:
    """Python reprs in a message (``{'smollm2_hub': 8}``, ``['a', 'b']``, ``None → all``) as plain
    text; a repr cut short by a truncation loses its quotes and brackets."""
    import ast

    out, pos = [], 0
    for m in _REPR_START.finditer(text):
        if m.start() < pos:
            continue
        end, cut = _literal_end(text, m.start())
        if cut is None:
            continue
        segment = text[m.start():end]
        try:
            value = None if cut else ast.literal_eval(segment)
        except (ValueError, SyntaxError, TypeError, MemoryError, RecursionError):
            value = None
        if not cut and not isinstance(value, (dict, list, set, tuple)):
            continue  # not a container literal after all: the text stays as written
        shown = _human(value) if not cut else None
        if shown is None:
            shown = _LOOSE_QUOTE.sub("", re.sub(r"[\[\]{}]", "", segment))
        out += [text[pos:m.start()], shown]
        pos = end
    return _NONE_CHANGE.sub("unset", "".join(out) + text[pos:])


def _prose(value) -> str:
    """One line of text our code or a claim wrote, without Python reprs."""
    return _derepr(_plain(value))


def _tokens(value, derepr: bool = True) -> list[str]:
    """A note split into code spans, ``**`` and text; Python reprs in the text (never in a code
    span, which is literal) made plain unless ``derepr`` is off."""
    return [t if t.startswith("`") or t == "**" or not derepr else _derepr(t)
            for t in _NOTE_TOKENS.split(_plain(value)) if t]


def _note_md(value, cell: bool = False, derepr: bool = True) -> MdSafe:
    """Text our code wrote with `code` and **bold** in it (card notes, reasons, gate messages) for
    Markdown: those two kept (a code span holds anything safely), everything else escaped
    (``cell``: for a table row)."""
    if isinstance(value, MdSafe):
        return value
    parts = [_code(t[1:-1] if t.endswith("`") else t[1:], cell) if t.startswith("`") and len(t) > 1
             else t if t == "**" else _escape(t) for t in _tokens(value, derepr)]
    return MdSafe("".join(parts))


def _note_html(value, derepr: bool = True) -> Markup:
    """The same note as HTML: `code` and **bold** as elements (the text escaped first), no literal
    backtick left, everything else escaped."""
    if isinstance(value, Markup):
        return value
    out, bold = [], False
    for t in _tokens(value, derepr):
        if t == "**":
            out.append(Markup("</strong>" if bold else "<strong>"))
            bold = not bold
        elif t.startswith("`") and len(t) > 1:
            out.append(Markup("<code>%s</code>") % (t[1:-1] if t.endswith("`") else t[1:]))
        else:
            out.append(escape(t.replace("`", "")))
    return Markup("").join(out + ([Markup("</strong>")] if bold else []))


def _unique(items) -> list:
    """Items in order, each text once (a reason or note repeated verbatim is shown once)."""
    seen, out = set(), []
    for item in items or []:
        key = _plain(item)
        if key and key not in seen:
            seen.add(key)
            out.append(item)
    return out


def _fmt(v) -> str:
    """Compact text of an evidence value: long numeric lists are summarised, not dumped; large
    numbers keep their digits (``18,400``, not ``1.84e+04``)."""
    if isinstance(v, bool):
        return "yes" if v else "no"
    if isinstance(v, float):
        return f"{v:,.0f}" if 1e4 <= abs(v) < 1e15 else f"{v:.4g}"
    if v in ([], {}):
        return "none"
    if isinstance(v, list):
        if len(v) > 8 and all(isinstance(x, (int, float)) for x in v):
            return f"{len(v)} values, min {min(v):.4g}, mean {sum(v) / len(v):.4g}, max {max(v):.4g}"
        return "[" + ", ".join(_fmt(x) for x in v[:12]) + (", …" if len(v) > 12 else "") + "]"
    if isinstance(v, dict):
        items = list(v.items())
        return ", ".join(f"{k}: {_fmt(x)}" for k, x in items[:12]) + (", …" if len(items) > 12 else "")
    if v is None:
        return "—"
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
    env.filters["notecell"] = (lambda v: _note_md(v, cell=True)) if markdown else _note_html
    # a card's table cell: its markup kept, its text literal (it may quote a model's answer)
    env.filters["cellnote"] = (lambda v: _note_md(v, cell=True, derepr=False)) if markdown \
        else (lambda v: _note_html(v, derepr=False))
    env.filters["unique"] = _unique
    env.filters["wbr"] = lambda v: Markup(str(escape(v)).replace("_", "_<wbr>"))
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
        if isinstance(body, list) and body and all(isinstance(row, dict) for row in body):
            columns = list(dict.fromkeys(k for row in body for k in row))  # one row per entry (e.g. per method)
            out.append({"title": f"Control: {name}", "columns": columns,
                        "rows": [[_fmt(row.get(c, "")) for c in columns] for row in body]})
            continue
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
    notes = _unique(built.get("notes", []))
    plots = _plots(built, notes)
    entries = history(records, rec["claim_id"])
    gate_claim = _gate_claim(gate, rec["claim_id"])
    claim = {**CLAIM_DEFAULTS, **(rec.get("claim") or {})}
    if gate_claim and gate_claim.get("status") in ("retired", "superseded"):  # retired since its last run
        claim.update(retired=True, superseded_by=gate_claim.get("superseded_by") or claim["superseded_by"])
    rec = {**RECORD_DEFAULTS, **rec, "claim": claim}
    rec["reasons"] = _unique(rec.get("reasons") or [])
    reasons = rec["reasons"]
    pending = rec.get("verdict") == "pending" or (gate_claim or {}).get("status") == "pending"
    return {
        "rec": rec, "claim": claim, "id": rec["claim_id"], "error": ev.get("error"), "traceback": ev.get("traceback"),
        "plots": plots, "tables": list(built.get("tables", [])), "notes": notes,
        "controls": _control_tables(ev), "history": [e.to_dict() for e in entries], "n_runs": len(entries),
        "group": 6 if pending else _group(rec), "group_title": GROUP_TITLES[6 if pending else _group(rec)],
        "negative": _negative(rec) and not pending, "pending": pending,
        "shown": "pending" if pending else rec.get("verdict"),
        "inactive": _inactive(rec), "gate": gate_claim, "published": published.get(rec["claim_id"]),
        "gate_failures": _claim_failures(gate, gate_claim, rec["claim_id"], reasons),
        "gate_stale": _gate_stale(gate, gate_claim, rec, len(records)),
        "page": _page(rec["claim_id"], "html"), "page_md": _page(rec["claim_id"], "md"),
        "evidence_line": short(_prose(reasons[0]), 220) if reasons else "",
        "evidence_kinds": rec.get("evidence_kinds") or [], "controls_run": rec.get("controls_run") or [],
        "claim_text": rec.get("claim_text"), "stage": claim["stage"], "exploratory": claim["stage"] == "exploratory",
        "selected_by": claim["selected_by"], "confidence_notes": _unique(rec.get("confidence_notes") or []),
        "confidence_why": _confidence_why(rec),
        "controls_shown": _present(claim.get("controls")), "intervention_shown": _present(claim.get("intervention"),
                                                                                              skip=("why",)),
        "threshold_shown": _present(claim.get("acceptance"), skip=("kind",)),
        "summary_rows": [(k, v) for k, v in (rec.get("summary") or {}).items()
                         if not (built.get("tables") and k in SHOWN_BY_CARDS)],
    }


def _confidence_why(rec: dict) -> str:
    try:
        return confidence_sentence(rec)
    except Exception:  # a record too odd to explain: the notes it stored still show
        return ""


def _present(mapping, skip=()) -> list[tuple[str, str]]:
    """(key, value text) of a claim section's fields that say something: an empty waiver, list or
    unset option is left out (no ``waive:`` with nothing after it)."""
    if not isinstance(mapping, dict):
        return []
    return [(k, _human(v)) for k, v in mapping.items() if k not in skip and v not in (None, "", [], {})]


def _gate_claim(gate: dict | None, claim_id: str) -> dict | None:
    return next((c for c in (gate or {}).get("claims", []) if c.get("claim_id") == claim_id), None)


_LINE = re.compile(r"^\[\d+\] (?:[^:\s]+: )?([a-z_]+): (.*)$")


def _claim_failures(gate: dict | None, gate_claim: dict | None, claim_id: str, reasons: list) -> list[dict]:
    """The gate's failures of one claim as {reason, message}; a message repeating one of the
    verdict's reasons (shown just above it) names it instead of printing it again."""
    found = [{"reason": str(f.get("reason", "")), "message": str(f.get("message", ""))}
             for f in (gate or {}).get("failures", []) if f.get("claim_id") == claim_id]
    if not found and gate_claim:
        for line in gate_claim.get("failures") or []:
            m = _LINE.match(_plain(line))
            found.append({"reason": m.group(1), "message": m.group(2)} if m else {"reason": "", "message": str(line)})
    out = []
    for f in found:
        f["message"] = _without_repeat(f["message"], reasons)
        if f not in out:
            out.append(f)
    return out


def _without_repeat(message: str, reasons: list) -> str:
    text = _plain(message)
    for r in reasons:
        r = _plain(r)
        head = r[:40]
        at = text.find(head) if head else -1
        if at >= 0 and r.startswith(text[at:].rstrip("…").rstrip()):
            return (text[:at] + "the reason above").strip() if at else "for the reason above"
    return text


def _when(stamp) -> datetime | None:
    try:
        when = datetime.fromisoformat(str(stamp))
    except ValueError:
        return None
    return when if when.tzinfo else when.replace(tzinfo=timezone.utc)


def _gate_stale(gate: dict | None, gate_claim: dict | None, rec: dict, n_records: int) -> str:
    """Why the gate line on a claim page no longer describes it (empty when it does)."""
    if not gate or not gate_claim:
        return ""
    why = []
    judged, shown = str(gate_claim.get("run_id") or ""), str(rec.get("run_id") or "")
    evaluated, ran = _when(gate.get("evaluated_at")), _when(rec.get("finished_at") or rec.get("started_at"))
    if judged and shown and judged != shown:
        why.append(f"it judged run {judged[:8]}, this page shows run {shown[:8]}")
    elif evaluated and ran and evaluated < ran:
        why.append("it was evaluated before this claim's latest run")
    if gate.get("ledger_records") != n_records:
        why.append(f"it saw {gate.get('ledger_records')} ledger records, the ledger has {n_records} now")
    return "; ".join(why)


_QUOTED = re.compile(r"'[^'\n]*'")


def _shape(message: str) -> str:
    """A message with its quoted names masked and a truncation's "…" dropped: failures whose
    messages differ only in a quoted name (the model each claim names), or in where a long
    message was cut, say the same thing."""
    return _QUOTED.sub("'…'", message).rstrip("…").rstrip()


def _same_message(a: str, b: str) -> bool:
    sa, sb = _shape(a), _shape(b)
    if sa == sb:
        return True
    short_, long_ = (a, b) if len(sa) < len(sb) else (b, a)
    return short_.endswith("…") and _shape(long_).startswith(_shape(short_))


def _merged(messages: list[str]) -> str:
    """The longest message of a group, each quoted name it holds replaced by every distinct name
    the group's messages have at that place (``'a' / 'b'``): nothing a member said is dropped."""
    text = max(messages, key=len)
    names = [_QUOTED.findall(m) for m in messages]
    slots = itertools.count()

    def slot(_match) -> str:
        i = next(slots)
        return " / ".join(dict.fromkeys(q[i] for q in names if i < len(q)))
    return _QUOTED.sub(slot, text)


def _failure_groups(failures: list) -> list[dict]:
    """Gate failures with the same reason and the same message (after the claim id; see
    ``_same_message``) as one line naming all their claims, the largest first, then the most serious."""
    groups: list[dict] = []
    for f in failures or []:
        if not isinstance(f, dict):
            continue
        reason, message = str(f.get("reason", "")), _plain(f.get("message", ""))
        g = next((g for g in groups if g["reason"] == reason and _same_message(g["messages"][0], message)), None)
        if g is None:
            g = {"reason": reason, "code": f.get("code"), "claims": [], "messages": [message]}
            groups.append(g)
        elif message not in g["messages"]:
            g["messages"].append(message)
        cid = f.get("claim_id")
        if isinstance(cid, str) and cid and cid not in g["claims"]:
            g["claims"].append(cid)
    for g in groups:
        g["message"] = _merged(g["messages"])
    rank = lambda g: gate_mod.SEVERITY.index(g["code"]) if g["code"] in gate_mod.SEVERITY else 0  # noqa: E731
    return sorted(groups, key=lambda g: (-len(g["claims"]), -rank(g)))


def _counts(values, order=()) -> list[tuple[str, int]]:
    """(value, count) in ``order`` first, then as met."""
    counts: dict[str, int] = {}
    for v in values:
        counts[str(v)] = counts.get(str(v), 0) + 1
    return sorted(counts.items(), key=lambda kv: (order.index(kv[0]) if kv[0] in order else len(order)))


def _gate_box(gate: dict | None, cards: list[dict]) -> dict:
    """What the gate box says: claim counts per gate status and per verdict shown, the pending
    policy in one sentence, the failures grouped."""
    if not gate:
        return {}
    policy = gate.get("policy") if isinstance(gate.get("policy"), dict) else {}
    pending, source = policy.get("pending"), _plain(policy.get("source") or "")
    where = " (its default)" if source == "default" else f" (set by {source})" if source else ""
    sentence = (PENDING_POLICY[pending].format(where=where) if isinstance(pending, str) and pending in PENDING_POLICY
                else f"Pending claims (weights not available here): gate policy {_plain(pending)}{where}." if pending
                else "")
    groups = _failure_groups(gate.get("failures"))
    return {"statuses": _counts((c.get("status", "?") for c in gate.get("claims", []) if isinstance(c, dict)),
                                STATUS_ORDER),
            "verdicts": _counts((c["shown"] for c in cards if not c["inactive"]), tuple(ORDER)),
            "policy": sentence,
            "other_policy": [(k, _plain(v)) for k, v in policy.items() if k not in ("pending", "source")],
            "groups": groups, "by_reason": _counts(g["reason"] for g in groups for _ in (g["claims"] or [None]))}


def _pending_only(gate: dict | None, latest: list[dict]) -> list[dict]:
    """Records standing in for gated claims that are pending and were never recorded (not run:
    their weights are not here), so the report lists them too."""
    known = {r.get("claim_id") for r in latest}
    out = []
    for c in (gate or {}).get("claims", []):
        if not isinstance(c, dict):
            continue
        cid = c.get("claim_id")
        if c.get("status") == "pending" and isinstance(cid, str) and cid not in known and ledger.slug(cid) == cid:
            why = [f.get("message") for f in gate.get("failures", []) if f.get("claim_id") == cid and f.get("message")]
            statement = str(c.get("statement") or "")
            out.append({"claim_id": cid, "statement": statement, "expect": c.get("expect") or "supported",
                        "verdict": "pending",
                        "reasons": why or ["not run: the model's weights are not on this machine"],
                        "claim": {"id": cid, "statement": statement}})
    return out


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
    latest += _pending_only(gate, latest)
    cards = [_card(r, out_dir, records, gate, published) for r in latest]
    active = [c for c in cards if not c["inactive"] and not c["pending"]]
    by_verdict = lambda v: [c for c in active if c["rec"]["verdict"] == v]  # noqa: E731
    ctx = {
        "cards": active, "retired": [c for c in cards if c["inactive"]],
        "pending": [c for c in cards if c["pending"] and not c["inactive"]],
        "holding": by_verdict("supported"),
        "refuted": sorted(by_verdict("refuted"), key=lambda c: c["group"] != 2),  # surprises first
        "negative": [c for c in cards if c["negative"]],
        "inconclusive": by_verdict("inconclusive"), "errored": by_verdict("errored"),
        "gate": gate, "gate_outdated": bool(gate) and gate.get("ledger_records") != len(records),
        "box": _gate_box(gate, cards),
        "baseline": baseline, "baseline_problems": [f.line() for f in baseline_problems],
        "changes": _changes([r for r in latest if r.get("verdict") != "pending" or r.get("run_id")], records, baseline),
        "story": story(records)[:30],
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

