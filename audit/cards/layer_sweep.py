"""Report card of a layer sweep: effect-per-layer plot, family x layer heatmap, per-seed table."""

from __future__ import annotations

from audit import plots
from audit.cards import card_for
from audit.stats import argmax, mean


@card_for("layer_sweep")
def layer_sweep_card(rec: dict, out_dir) -> dict:
    ev = rec["evidence"]
    claimed = (rec.get("claim", {}).get("acceptance") or {}).get("layer")
    stem = f"plots/{rec['claim_id']}"
    plots.layer_effects(ev, claimed, rec["claim_id"], out_dir / f"{stem}-layers.png")
    plots.family_heatmap(ev, f"{rec['claim_id']}: family x layer", out_dir / f"{stem}-heatmap.png")
    table = ev["effects"][ev["metric"]]
    rows = []
    for i, seed in enumerate(ev["seeds"]):
        per_layer = [mean(fam[j] for fam in table[i]) for j in range(len(ev["layers"]))]
        top = argmax(per_layer)
        n = len(ev["samples"][str(seed)][ev["families"][0]])
        rows.append([seed, f"L{ev['layers'][top]}", f"{per_layer[top]:.4g}", n])
    family_hubs = rec.get("summary", {}).get("family_hubs", {})
    notes = [f"Method `{ev['method']}`; metric `{ev['metric']}`; {ev['n_prompts']['unique']} distinct prompts; "
             f"base top-1 accuracy on the answer token {ev['base']['top1_accuracy']:.2f}."]
    if family_hubs:
        notes.append("Top layer per family: " + " · ".join(f"{f} L{layer}" for f, layer in family_hubs.items()))
    return {
        "plots": [(f"{stem}-layers.png", "effect per ablated layer, per seed and pooled"),
                  (f"{stem}-heatmap.png", "family x layer effect (mean over seeds)")],
        "tables": [{"title": "Evidence per seed", "columns": ["seed", "hub", "hub effect", "prompts / family"],
                    "rows": rows}],
        "notes": notes,
    }
