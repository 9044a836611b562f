"""Render the report from the ledger: Markdown and HTML (jinja2, autoescaped HTML) plus PNG plots.

Rendering reads only the ledger; nothing is recomputed. Plots are referenced relatively so the
output folder can be served or zipped as it is.
"""

from __future__ import annotations

from datetime import datetime, timezone
from pathlib import Path

from jinja2 import Environment, PackageLoader, StrictUndefined, select_autoescape

from audit import ledger
from audit.cards import build_card

ORDER = {"supported": 0, "refuted": 1, "inconclusive": 2, "errored": 3}
CONF_ORDER = {"very_high": 0, "high": 1, "medium": 2, "low": 3, "none": 4}


def _env() -> Environment:
    env = Environment(loader=PackageLoader("audit", "templates"), undefined=StrictUndefined,
                      autoescape=select_autoescape(enabled_extensions=("html",), default_for_string=False),
                      trim_blocks=True, lstrip_blocks=True, keep_trailing_newline=True)
    env.filters["num"] = lambda v, d=4: f"{v:.{d}g}" if isinstance(v, (int, float)) else str(v)
    return env


def _card(rec: dict, out_dir: Path) -> dict:
    ev = rec.get("evidence") or {}
    return {"rec": rec, "claim": rec.get("claim", {}), "error": ev.get("error"), **build_card(rec, out_dir)}


def render_report(out_dir: Path) -> Path:
    """Write index.md, index.html and plots under ``out_dir``; return the HTML path."""
    out_dir = Path(out_dir)
    records, warnings = ledger.read(out_dir)
    latest = list(ledger.latest_per_claim(records).values())
    latest.sort(key=lambda r: (ORDER.get(r["verdict"], 9), CONF_ORDER.get(r.get("confidence"), 9), r["claim_id"]))
    cards = [_card(r, out_dir) for r in latest]
    by = lambda v: [c for c in cards if c["rec"]["verdict"] == v]  # noqa: E731
    ctx = {"cards": cards, "supported": by("supported"), "refuted": by("refuted"),
           "inconclusive": by("inconclusive"), "errored": by("errored"), "warnings": warnings,
           "n_runs": len(records), "generated": datetime.now(timezone.utc).strftime("%Y-%m-%d %H:%M UTC")}
    env = _env()
    out_dir.mkdir(parents=True, exist_ok=True)
    (out_dir / "index.md").write_text(env.get_template("report.md.j2").render(**ctx), encoding="utf-8")
    html = out_dir / "index.html"
    html.write_text(env.get_template("report.html.j2").render(**ctx), encoding="utf-8")
    return html
