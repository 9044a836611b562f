"""Render the report from the ledger: a static site (HTML + Markdown + PNG plots) under ``out_dir``.

- ``index.html`` / ``index.md``: the gate box, changes since the published baseline, the claims
  table (sorted like the study's "claims I would share"), Refuted and Negative results sections
  (always present), inconclusive and errored claims with their reasons, retired claims, "How the
  story changed" and "What is not claimed".
- ``claims/<id>.html`` / ``claims/<id>.md``: one card per claim (statement, intervention, metric,
  controls, threshold, falsifier, evidence per seed, controls, plots, caveats, provenance, history).

Rendering reads only the ledger, ``published.json`` and ``gate.json``; nothing is recomputed.
Plots are referenced relatively, so the folder can be served or zipped as it is. HTML templates
are autoescaped (a statement containing ``<script>`` renders as text); Markdown escapes ``<``,
``>`` and ``&`` itself.
"""

from __future__ import annotations

import json
from datetime import datetime, timezone
from pathlib import Path

from jinja2 import ChainableUndefined, Environment, PackageLoader
from jinja2.utils import missing

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


def _md(value) -> str:
    """Text for Markdown: no raw HTML gets through (``<script>`` stays text)."""
    return str(value).replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def _md_cell(value) -> str:
    return " ".join(_md(value).replace("|", "\\|").split())


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


def _env() -> Environment:
    env = Environment(loader=PackageLoader("audit", "templates"), undefined=_FieldUndefined, autoescape=_autoescape,
                      trim_blocks=True, lstrip_blocks=True, keep_trailing_newline=True)
    env.filters["num"] = lambda v, d=4: f"{v:.{d}g}" if isinstance(v, float) else str(v)
    env.filters["md"] = _md
    env.filters["cell"] = _md_cell
    env.filters["fmt"] = _fmt
    env.filters["short"] = short
    env.filters["date"] = lambda s: (s or "")[:16].replace("T", " ")
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
    for name, body in (ev.get("controls") or {}).items():
        if isinstance(body, dict):
            rows = [[k, _fmt(v)] for k, v in body.items()]
        else:
            rows = [["value", _fmt(body)]]
        out.append({"title": f"Control: {name}", "columns": ["field", "value"], "rows": rows})
    return out


def _card(rec: dict, out_dir: Path, records: list[dict], gate: dict | None, published: dict) -> dict:
    ev = rec.get("evidence") or {}
    try:
        built = build_card(rec, out_dir)
    except Exception as exc:  # a broken card must not take the whole report down
        built = {"plots": [], "tables": [], "notes": [f"report card could not be built: {type(exc).__name__}: {exc}"]}
    entries = history(records, rec["claim_id"])
    gate_claim = next((c for c in (gate or {}).get("claims", []) if c.get("claim_id") == rec["claim_id"]), None)
    claim = {**CLAIM_DEFAULTS, **(rec.get("claim") or {})}
    if gate_claim and gate_claim.get("status") in ("retired", "superseded"):  # retired since its last run
        claim.update(retired=True, superseded_by=gate_claim.get("superseded_by") or claim["superseded_by"])
    rec = {**RECORD_DEFAULTS, **rec, "claim": claim}
    reasons = rec.get("reasons") or []
    return {
        "rec": rec, "claim": claim, "id": rec["claim_id"], "error": ev.get("error"), "traceback": ev.get("traceback"),
        "plots": list(built.get("plots", [])), "tables": list(built.get("tables", [])), "notes": list(built.get("notes", [])),
        "controls": _control_tables(ev), "history": [e.to_dict() for e in entries], "n_runs": len(entries),
        "group": _group(rec), "group_title": GROUP_TITLES[_group(rec)], "negative": _negative(rec),
        "inactive": _inactive(rec), "gate": gate_claim, "published": published.get(rec["claim_id"]),
        "page": f"claims/{rec['claim_id']}.html", "page_md": f"claims/{rec['claim_id']}.md",
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
    records, warnings = ledger.read(out_dir)
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
        "not_claimed": _not_claimed(active), "warnings": warnings, "n_runs": len(records),
        "n_claims": len(cards), "generated": datetime.now(timezone.utc).strftime("%Y-%m-%d %H:%M UTC"),
    }
    env = _env()
    (out_dir / "claims").mkdir(parents=True, exist_ok=True)
    for c in cards:
        page = {**ctx, "c": c, "root": "../"}
        (out_dir / c["page"]).write_text(env.get_template("claim.html.j2").render(**page), encoding="utf-8")
        (out_dir / c["page_md"]).write_text(env.get_template("claim.md.j2").render(**page), encoding="utf-8")
    (out_dir / "index.md").write_text(env.get_template("index.md.j2").render(**ctx, root=""), encoding="utf-8")
    html = out_dir / "index.html"
    html.write_text(env.get_template("index.html.j2").render(**ctx, root=""), encoding="utf-8")
    return html

