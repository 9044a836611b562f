"""Card parts every criterion with prompt-level intervals shares: the interval table, the
inference method, and per-seed estimates beside the pooled interval."""

from __future__ import annotations

from audit import plots
from audit.cards import plot_path


def _f(x) -> str:
    return f"{x:.4g}" if isinstance(x, (int, float)) else str(x)


def interval_table(summary: dict, title: str = "Simultaneous 95% intervals (the verdict rests on these)") -> list[dict]:
    """A table of the criterion's intervals, closest to its threshold first (none when absent)."""
    rows = summary.get("intervals") or []
    if not rows:
        return []
    inf = summary.get("inference", {})
    out = sorted(rows, key=lambda r: r["low"])
    return [{"title": f"{title}: {inf.get('method', '')}, {inf.get('family_size', len(rows))} compared, "
                      f"critical value {_f(inf.get('critical_value', float('nan')))}",
             "columns": ["contrast", "estimate", "low", "high"],
             "rows": [[r["contrast"], _f(r["estimate"]), _f(r["low"]), _f(r["high"])] for r in out]}]


def interval_plot(rec: dict, out_dir, xlabel: str) -> list[tuple[str, str]]:
    """A forest plot of the intervals, when the criterion produced them."""
    summary = rec.get("summary", {})
    rows = summary.get("intervals") or []
    if not rows:
        return []
    path = plot_path(rec, "intervals")
    plots.intervals(sorted(rows, key=lambda r: r["low"]), float(summary.get("margin_required", 0.0)),
                    f"{rec['claim_id']}: simultaneous 95% intervals", out_dir / path, xlabel)
    return [(path, "claimed minus each other (simultaneous intervals over prompts); green clears the margin, "
                   "red shows the opposite relation, gray cannot tell")]


def per_seed_row_values(summary: dict, labels: list, claimed) -> list[list]:
    """Per seed: its own top and the claimed component's estimate (beside the pooled interval)."""
    per_seed = summary.get("per_seed") or {}
    if claimed not in labels or not isinstance(per_seed, dict):
        return []
    k = labels.index(claimed)
    rows = []
    for seed, values in per_seed.items():
        top = max(range(len(values)), key=lambda i: (values[i], -i))
        rows.append([seed, labels[top], _f(values[top]), _f(values[k])])
    return rows
