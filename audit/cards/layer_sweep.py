"""Report card of a layer sweep: effect-per-layer plot, family x layer heatmap, a per-layer table
(effect, rank, the interval the verdict rests on), and per-seed results beside the pooled interval.
Why the confidence is what it is stands in the claim card's confidence row (``confidence_sentence``)."""

from __future__ import annotations

from audit import plots
from audit.cards.base import card_for, plot_path
from audit.cards.component_sweep import REPAIRED_ANSWERS, null_plots
from audit.cards.intervals import effect_table, interval_plot, per_seed_row_values, pooled_effects


# the random-vector control of a hub claim (controls/layer_random_vector.py): its pooled null's histogram
NULLS = {"random_vector": ("{n} same-norm random perturbations of what the ablation removes",
                           "{metric} with the ablated site moved by as much along a random direction"),
         "shuffled_label:answers": REPAIRED_ANSWERS}


@card_for("layer_sweep")
def layer_sweep_card(rec: dict, out_dir) -> dict:
    ev, summary = rec["evidence"], rec.get("summary", {})
    claimed = (rec.get("claim", {}).get("acceptance") or {}).get("layer")
    layers, heat = plot_path(rec, "layers"), plot_path(rec, "heatmap")
    plots.layer_effects(ev, claimed, rec["claim_id"], out_dir / layers)
    plots.family_heatmap(ev, f"{rec['claim_id']}: family x layer", out_dir / heat)
    n = len(ev["samples"][str(ev["seeds"][0])][ev["families"][0]])
    rows = [r + [n] for r in per_seed_row_values(summary, ev["layers"], claimed)]
    notes = [f"Method `{ev['method']}`; metric `{ev['metric']}`; {ev['n_prompts']['unique']} distinct prompts; "
             f"base top-1 accuracy on the answer token {ev['base']['top1_accuracy']:.2f}."]
    if summary.get("family_hubs"):
        notes.append("Top layer per family: " + " · ".join(f"{f} L{layer}" for f, layer in summary["family_hubs"].items()))
    if summary.get("leave_one_family_out"):
        moved = {f: t for f, t in summary["leave_one_family_out"].items() if t != summary.get("top_layer")}
        notes.append("Leaving one family out moves the pooled top: " +
                     (" · ".join(f"without {f}: L{t}" for f, t in moved.items()) if moved else "never"))
    return {
        "plots": [(layers, "effect per ablated layer, per seed and pooled"),
                  (heat, "family x layer effect (mean over seeds)")]
                 + interval_plot(rec, out_dir, f"{ev['metric']} difference") + null_plots(rec, out_dir, ev["metric"], NULLS),
        "tables": effect_table(summary, ev["layers"], pooled_effects(summary, ev["layers"], ev["effects"][ev["metric"]]),
                               claimed)
                  + [{"title": "Evidence per seed, beside the pooled interval",
                      "columns": ["seed", "seed's top", "its effect", "claimed layer's effect", "prompts / family"],
                      "rows": rows}],
        "notes": notes,
    }
