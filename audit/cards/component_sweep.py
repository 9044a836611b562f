"""Report card of a component sweep (heads, sublayers, modules, positions; ablation or patching)."""

from __future__ import annotations

from audit import plots
from audit.cards.base import card_for, plot_path, pooled_null_plot
from audit.cards.intervals import interval_plot, interval_table, per_seed_row_values


@card_for("component_sweep")
def component_sweep_card(rec: dict, out_dir) -> dict:
    ev, summary = rec["evidence"], rec.get("summary", {})
    acc = rec.get("claim", {}).get("acceptance") or {}
    claimed = acc.get("component") or (acc.get("greater") or [None])[0]
    labels, table, metric = ev["labels"], ev["effects"][ev["metric"]], ev["metric"]
    sweep, heat = plot_path(rec, "sweep"), plot_path(rec, "heatmap")
    what = f"{ev.get('target', 'component')} ({ev['method']})"
    plots.sweep(labels, table, ev["seeds"], claimed, metric, what, rec["claim_id"], out_dir / sweep)
    plots.heatmap(labels, ev["families"], table, metric, what, f"{rec['claim_id']}: family x component",
                  out_dir / heat)
    notes = [f"{len(labels)} components; metric `{metric}`.", *_agreement_note(ev)] + list(ev.get("notes", []))
    if "interval" in summary:
        lo, hi = summary["interval"]
        notes.append(f"{summary.get('component')}: pooled {summary.get('pooled', float('nan')):.4g}, "
                     f"95% CI [{lo:.4g}, {hi:.4g}] over prompts (threshold {summary.get('threshold')}).")
    return {"plots": [(sweep, f"{metric} per component, per seed and pooled"),
                      (heat, "family x component (mean over seeds)")]
                     + interval_plot(rec, out_dir, f"{metric} difference") + null_plots(rec, out_dir, metric),
            "tables": interval_table(summary)
                      + [{"title": "Evidence per seed, beside the pooled interval",
                          "columns": ["seed", "seed's top", "its effect", f"{claimed}'s effect"],
                          "rows": per_seed_row_values(summary, labels, claimed)}],
            "notes": notes}


def _agreement_note(ev: dict) -> list[str]:
    """What the method-agreement control found (its matrix is the control's table below)."""
    matrix = (ev.get("controls") or {}).get("method_agreement")
    if not matrix:
        return []
    split = ", ".join(f"{row['method']} {row['verdict']}" for row in matrix)
    if len({row["verdict"] for row in matrix}) == 1:
        return [f"**Method agreement**: every ablation method gives the same verdict ({split})."]
    return [f"**Method-dependent** ({split}): the claim holds under some ablation methods and not others, so it is "
            f"inconclusive; the matrix is under Control: method_agreement."]


# an ablation or layer sweep's shuffled label re-pairs answers (its record says re_paired: answers)
REPAIRED_ANSWERS = ("{n} re-pairings of its answers", "{metric} of another prompt's answer")
NULLS = {"random_component": ("{n} random components of its kind", "random same-kind components' {metric}"),
         "shuffled_label": ("{n} re-pairings of its sources", "{metric} patched from another pair's run"),
         "shuffled_label:answers": REPAIRED_ANSWERS,
         "random_subspace": ("{n} random {dim}-dimensional subspaces of it",
                             "{metric} patching only a random {dim}-dimensional subspace"),
         # no draws: a paired interval of the claimed position minus the null position (a forest plot)
         "negative_position": ("the same patch at {null}", "{metric} at the claimed position minus at {null}")}


def null_plots(rec: dict, out_dir, metric: str, nulls: dict = NULLS) -> list:
    """Each null control's null (``nulls``: name -> (title, bars) templates) with the claimed
    component's effect: a pooled null of draws (random components; re-paired patching sources;
    random subspaces; random same-norm directions) as a histogram, a paired contrast (the negative
    position) as its interval."""
    from audit.criteria.steering import BULK

    out = []
    for name, ctl in (rec["evidence"].get("controls") or {}).items():
        if not isinstance(ctl, dict) or not ({"null_per_seed", "intervals"} & set(ctl)):
            continue
        title, bars = nulls.get(f"{name}:{ctl.get('re_paired')}") or nulls.get(name) or (None, None)
        if title is None:
            continue
        path = plot_path(rec, f"null-{name}")
        what = {"n": ctl.get("n_draws"), "dim": ctl.get("dim"), "null": ctl.get("null_component"), "metric": metric}
        if "intervals" in ctl:
            plots.intervals(ctl["intervals"], 0.0, f"{rec['claim_id']}\n{ctl['claimed']} vs {title.format(**what)}",
                            out_dir / path, f"{metric} difference")
            out.append((path, f"{name}: {bars.format(**what)} (95% interval over pairs); {ctl['status']}"))
            continue
        pooled_null_plot(rec, out_dir, f"null-{name}", ctl, f"{ctl['claimed']} vs {title.format(**what)}", metric)
        out.append((path, f"{name}: pooled null of {bars.format(**what)} (bars), its {BULK * 100:g}th "
                          f"percentile (dashed) and the claimed component (line); p = {ctl['p']:.3g}, {ctl['status']}"))
    return out
