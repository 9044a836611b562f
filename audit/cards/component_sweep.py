"""Report card of a component sweep (heads, sublayers, modules, positions; ablation or patching)."""

from __future__ import annotations

from audit import plots
from audit.cards import card_for
from audit.stats import argmax, mean


@card_for("component_sweep")
def component_sweep_card(rec: dict, out_dir) -> dict:
    ev = rec["evidence"]
    acc = rec.get("claim", {}).get("acceptance") or {}
    claimed = acc.get("component")
    labels, table, metric = ev["labels"], ev["effects"][ev["metric"]], ev["metric"]
    stem = f"plots/{rec['claim_id']}"
    what = f"{ev.get('target', 'component')} ({ev['method']})"
    plots.sweep(labels, table, ev["seeds"], claimed, metric, what, rec["claim_id"], out_dir / f"{stem}-sweep.png")
    plots.heatmap(labels, ev["families"], table, metric, what, f"{rec['claim_id']}: family x component",
                  out_dir / f"{stem}-heatmap.png")
    rows = []
    for i, seed in enumerate(ev["seeds"]):
        per = [mean(fam[j] for fam in table[i]) for j in range(len(labels))]
        top = argmax(per)
        rows.append([seed, labels[top], f"{per[top]:.4g}"])
    notes = [f"{len(labels)} components; metric `{metric}`."] + list(ev.get("notes", []))
    return {"plots": [(f"{stem}-sweep.png", f"{metric} per component, per seed and pooled"),
                      (f"{stem}-heatmap.png", "family x component (mean over seeds)")],
            "tables": [{"title": "Top component per seed", "columns": ["seed", "top", "effect"], "rows": rows}],
            "notes": notes}
