"""Report card of a comparison: the compared sweeps side by side (relative depth, normalized)."""

from __future__ import annotations

from audit import plots
from audit.cards.base import card_for, plot_path


@card_for("comparison")
def comparison_card(rec: dict, out_dir) -> dict:
    sweeps = rec["evidence"]["sweeps"]
    rel = plot_path(rec, "sweeps")
    path = out_dir / rel
    fig, ax = plots.figure(7.5, 3.8)
    for s in sweeps:
        pooled = s.get("pooled") or []
        if not pooled:
            continue
        top = max(abs(v) for v in pooled) or 1.0
        xs = [i / max(1, len(pooled) - 1) for i in range(len(pooled))]
        ax.plot(xs, [v / top for v in pooled], marker=".", label=f"{s['claim_id']} (top {s['top']})")
    ax.set_xlabel("relative depth of the ablated component")
    ax.set_ylabel("effect / max effect")
    ax.set_title(rec["claim_id"])
    plots.legend_below(fig, ncol=2)
    plots.save(fig, path)
    rows = [[s["claim_id"], s.get("model_id") or "-", s.get("method") or "-", s["top"],
             "yes" if s["top_separated"] else "no (uninformative)", s["verdict"]] for s in sweeps]
    return {"plots": [(rel, "compared sweeps, normalized, by relative depth")],
            "tables": [{"title": "Compared sweeps", "columns": ["claim", "model", "method", "top", "top separated",
                                                                 "its own verdict"], "rows": rows}],
            "notes": ["A sweep whose top is not separated from its runner-up is uninformative; it cannot decide a comparison."]}
