"""Render the report from the ledger: Markdown and HTML (jinja2, autoescaped HTML) plus PNG plots.

Rendering reads only the ledger; nothing is recomputed. Plots are referenced relatively so the
output folder can be served or zipped as it is.
"""

from __future__ import annotations

from datetime import datetime, timezone
from pathlib import Path

from jinja2 import Environment, PackageLoader, StrictUndefined, select_autoescape

from audit import ledger, plots

ORDER = {"supported": 0, "refuted": 1, "inconclusive": 2, "errored": 3}
CONF_ORDER = {"very_high": 0, "high": 1, "medium": 2, "low": 3, "none": 4}


def _env() -> Environment:
    env = Environment(loader=PackageLoader("audit", "templates"), undefined=StrictUndefined,
                      autoescape=select_autoescape(enabled_extensions=("html",), default_for_string=False),
                      trim_blocks=True, lstrip_blocks=True, keep_trailing_newline=True)
    env.filters["num"] = lambda v, d=4: f"{v:.{d}g}" if isinstance(v, (int, float)) else str(v)
    return env


def _card(rec: dict, out_dir: Path) -> dict:
    """Everything the templates need for one claim, with plot paths made relative."""
    ev = rec.get("evidence") or {}
    card = {"rec": rec, "claim": rec.get("claim", {}), "plots": [], "seed_rows": [], "error": ev.get("error")}
    if ev.get("kind") == "layer_sweep":
        claimed = (rec.get("claim", {}).get("acceptance") or {}).get("layer")
        stem = f"plots/{rec['claim_id']}"
        plots.layer_effects(ev, claimed, rec["claim_id"], out_dir / f"{stem}-layers.png")
        plots.family_heatmap(ev, f"{rec['claim_id']}: family x layer", out_dir / f"{stem}-heatmap.png")
        card["plots"] = [(f"{stem}-layers.png", "effect per ablated layer, per seed and pooled"),
                         (f"{stem}-heatmap.png", "family x layer effect (mean over seeds)")]
        summary = rec.get("summary", {})
        rep = ev.get("controls", {}).get("seeds", {})
        for i, seed in enumerate(ev["seeds"]):
            per_layer = [sum(f[j] for f in ev["effects"][ev["metric"]][i]) / len(ev["families"])
                         for j in range(len(ev["layers"]))]
            top = max(range(len(per_layer)), key=lambda j: (per_layer[j], -j))
            card["seed_rows"].append({"seed": seed, "hub": ev["layers"][top], "effect": per_layer[top],
                                      "n": len(ev["samples"][str(seed)][ev["families"][0]])})
        card["family_hubs"] = summary.get("family_hubs", {})
        card["replication"] = rep
    return card


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
