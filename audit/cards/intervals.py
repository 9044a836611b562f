"""Card parts every criterion with prompt-level intervals shares: the interval table, the
inference method, and per-seed estimates beside the pooled interval."""

from __future__ import annotations

from audit import plots
from audit.cards.base import plot_path
from audit.stats import mean


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
        if isinstance(values, (int, float)):  # a one-component criterion: the seed's estimate of the claimed one
            rows.append([seed, claimed, _f(values), _f(values)])
            continue
        top = max(range(len(values)), key=lambda i: (values[i], -i))
        rows.append([seed, labels[top], _f(values[top]), _f(values[k])])
    return rows


def pooled_effects(summary: dict, labels: list, table) -> list[float]:
    """Each component's pooled effect: the criterion's own (``summary["pooled"]``), else the mean
    over seeds of the family means the plots draw."""
    pooled = summary.get("pooled")
    if isinstance(pooled, list) and len(pooled) == len(labels):
        return pooled
    rows = plots.per_seed_rows(table)
    return [mean(r[i] for r in rows) for i in range(len(labels))]


def _against(summary: dict, claimed) -> dict[str, dict]:
    """The verdict's intervals "claimed - other" by the other component's label."""
    out = {}
    for r in summary.get("intervals") or []:
        left, sep, right = str(r.get("contrast", "")).partition(" - ")
        if sep and left.strip() == str(claimed):
            out[right.strip()] = r
    return out


def effect_table(summary: dict, labels: list, pooled: list[float], claimed, what: str = "layer") -> list[dict]:
    """Per component: its pooled effect, its rank (1 = largest), and the claimed component minus it
    with the simultaneous interval the verdict used."""
    order = sorted(range(len(labels)), key=lambda i: -pooled[i])
    rank = {i: n + 1 for n, i in enumerate(order)}
    against = _against(summary, claimed)
    rows = []
    for i, label in enumerate(labels):
        iv = against.get(str(label)) or {}
        mine = label == claimed or str(label) == str(claimed)
        rows.append([f"{label} (claimed)" if mine else label, _f(pooled[i]), rank[i],
                     "—" if mine or not iv else _f(iv.get("estimate")),
                     "—" if mine or not iv else _f(iv.get("low")), "—" if mine or not iv else _f(iv.get("high"))])
    inf = summary.get("inference") or {}
    how = f" ({inf['method']}, {inf.get('family_size', len(against))} compared)" if inf.get("method") else ""
    return [{"title": f"Per {what}: pooled effect, rank, and the claimed {what} minus it with its 95% simultaneous "
                      f"interval{how}",
             "columns": [what, "effect", "rank", f"claimed - this {what}", "CI low", "CI high"], "rows": rows}]
