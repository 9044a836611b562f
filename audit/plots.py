"""Matplotlib figures for the report (PNG, Agg backend, no timestamps in the files).

Labels and titles carry text from the ledger (claim ids, family, model and mode names), so they are
never parsed: mathtext is off (``$\\frac{1}{$`` is text, not a failed formula), and a glyph the font
lacks is drawn as a box without a warning.
"""

from __future__ import annotations

import warnings
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
matplotlib.rcParams["text.parse_math"] = False
matplotlib.rcParams["text.usetex"] = False
warnings.filterwarnings("ignore", message=r"Glyph \d+ .*missing from font", category=UserWarning)
import matplotlib.pyplot as plt  # noqa: E402

from audit.stats import mean  # noqa: E402

_PNG_META = {"Software": None}


def per_seed_rows(table) -> list[list[float]]:
    """``table[seed][family][component]`` -> ``[seed][component]`` family means."""
    return [[mean(fam[i] for fam in seed_rows) for i in range(len(seed_rows[0]))] for seed_rows in table]


def sweep(labels: list, table, seeds: list, claimed, ylabel: str, xlabel: str, title: str, path: Path) -> Path:
    """Effect per component: one line per seed and the pooled mean; the claimed component marked."""
    xs = list(range(len(labels)))
    fig, ax = plt.subplots(figsize=(7, 3.2), dpi=110)
    rows = per_seed_rows(table)
    for seed, row in zip(seeds, rows):
        ax.plot(xs, row, marker=".", linewidth=0.8, alpha=0.6, label=f"seed {seed}")
    ax.plot(xs, [mean(r[i] for r in rows) for i in xs], color="black", linewidth=2, label="pooled")
    if claimed in labels:
        ax.axvline(labels.index(claimed), color="crimson", linestyle="--", linewidth=1, label=f"claimed {claimed}")
    step = max(1, len(labels) // 16)
    ax.set_xticks(xs[::step], [str(lab) for lab in labels[::step]], fontsize=7, rotation=45 if len(labels) > 16 else 0)
    ax.set_xlabel(xlabel)
    ax.set_ylabel(ylabel)
    ax.set_title(title, fontsize=9)
    ax.legend(fontsize=7, ncol=3)
    fig.tight_layout()
    return save(fig, path)


def heatmap(labels: list, families: list, table, ylabel: str, xlabel: str, title: str, path: Path) -> Path:
    """Family x component heatmap of the effect (mean over seeds)."""
    grid = [[mean(seed_rows[f][i] for seed_rows in table) for i in range(len(labels))] for f in range(len(families))]
    fig, ax = plt.subplots(figsize=(7, 0.3 * len(families) + 1.4), dpi=110)
    im = ax.imshow(grid, aspect="auto", cmap="viridis")
    ax.set_yticks(range(len(families)), families, fontsize=7)
    step = max(1, len(labels) // 16)
    ax.set_xticks(range(0, len(labels), step), [str(lab) for lab in labels[::step]], fontsize=7)
    ax.set_xlabel(xlabel)
    ax.set_title(title, fontsize=9)
    fig.colorbar(im, ax=ax, label=ylabel)
    fig.tight_layout()
    return save(fig, path)


def layer_effects(evidence: dict, claimed, title: str, path: Path) -> Path:
    return sweep(evidence["layers"], evidence["effects"][evidence["metric"]], evidence["seeds"], claimed,
                 f"{evidence['metric']} (nats)", "layer ablated", title, path)


def family_heatmap(evidence: dict, title: str, path: Path) -> Path:
    return heatmap(evidence["layers"], evidence["families"], evidence["effects"][evidence["metric"]],
                   evidence["metric"], "layer ablated", title, path)


def save(fig, path: Path) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, metadata=_PNG_META)
    plt.close(fig)
    return path


def null_histogram(null: list[float], observed: float, quantile_value: float, quantile_level: float, p: float,
                   title: str, xlabel: str, path: Path, per_seed_observed: list[float] | None = None) -> Path:
    """A control's null distribution (pooled over seeds) with the observed value and the null quantile."""
    fig, ax = plt.subplots(figsize=(5.2, 3.0), dpi=110)
    ax.hist(null, bins=min(24, max(6, len(null) // 2)), color="#9ab", edgecolor="white", label=f"null (n={len(null)})")
    ax.axvline(quantile_value, color="dimgray", linestyle="--", linewidth=1.2,
               label=f"{quantile_level * 100:g}th percentile {quantile_value:.3g}")
    ax.axvline(observed, color="crimson", linewidth=2, label=f"observed {observed:.3g} (p={p:.3g})")
    for x in per_seed_observed or []:
        ax.axvline(x, color="crimson", linewidth=0.8, alpha=0.35)
    ax.set_xlabel(xlabel)
    ax.set_ylabel("draws")
    ax.set_title(title, fontsize=9)
    ax.legend(fontsize=7)
    fig.tight_layout()
    return save(fig, path)


def steering_sweep(layers: list, alphas: list, effect: dict, collateral: dict, claimed: str | None, ylabel: str,
                   title: str, path: Path, key=lambda layer, alpha: f"L{layer}@{alpha:g}") -> Path:
    """Behavior effect (solid) and collateral KL (dotted) per steered layer, one colour per alpha."""
    fig, ax = plt.subplots(figsize=(7, 3.2), dpi=110)
    ax2 = ax.twinx()
    for i, a in enumerate(alphas):
        color = f"C{i}"
        ys = [mean(effect[key(layer, a)]) for layer in layers]
        cs = [mean(collateral[key(layer, a)]) for layer in layers]
        ax.plot(layers, ys, marker="o", color=color, label=f"effect, alpha {a:g}")
        ax2.plot(layers, cs, marker=".", linestyle=":", color=color, alpha=0.7, label=f"collateral, alpha {a:g}")
    if claimed:
        for layer in layers:
            for a in alphas:
                if key(layer, a) == claimed:
                    ax.axvline(layer, color="crimson", linestyle="--", linewidth=1, label=f"judged {claimed}")
    ax.axhline(0, color="black", linewidth=0.5)
    ax.set_xlabel("steered layer")
    ax.set_ylabel(ylabel)
    ax2.set_ylabel("collateral KL (nats)")
    ax.set_title(title, fontsize=9)
    h1, l1 = ax.get_legend_handles_labels()
    h2, l2 = ax2.get_legend_handles_labels()
    ax.legend(h1 + h2, l1 + l2, fontsize=7, ncol=2)
    fig.tight_layout()
    return save(fig, path)


def skip_tradeoff(configs: list[dict], faithful: float, min_speedup: float, title: str, path: Path) -> Path:
    """Each skip config: median speedup (x, repeat range as bars) vs top-5 overlap (y, seed range);
    the "free speedup" corner (faithful and faster) shaded."""
    fig, ax = plt.subplots(figsize=(6.5, 3.6), dpi=110)
    xmax = max([min_speedup * 1.2] + [max(c["speedups"]) * 1.1 for c in configs])
    ax.fill_between([min_speedup, xmax], faithful, 1.02, color="tab:green", alpha=0.12, label="free speedup region")
    for c in configs:
        ov = [s["top5_overlap"] for s in c["seeds"]]
        x, y = sorted(c["speedups"])[len(c["speedups"]) // 2], mean(ov)
        ax.errorbar([x], [y], xerr=[[x - min(c["speedups"])], [max(c["speedups"]) - x]],
                    yerr=[[y - min(ov)], [max(ov) - y]], fmt="o", capsize=3, label=f"{c['name']} ({c['n_skipped']} layers)")
    ax.axhline(faithful, color="gray", linestyle="--", linewidth=1)
    ax.axvline(min_speedup, color="gray", linestyle=":", linewidth=1)
    ax.set_xlim(min(0.9, *(min(c["speedups"]) * 0.95 for c in configs)), xmax)
    ax.set_ylim(-0.02, 1.02)
    ax.set_xlabel("tokens/s ratio to the unmodified model (median, repeat range)")
    ax.set_ylabel("top-5 overlap (mean, seed range)")
    ax.set_title(title, fontsize=9)
    ax.legend(fontsize=7, loc="center right")
    fig.tight_layout()
    return save(fig, path)


def mode_bars(modes: list[str], panels: list[tuple[str, list[float]]], title: str, path: Path) -> Path:
    """One bar panel per measure (speed ratio, memory, KL, exact match), modes side by side."""
    fig, axes = plt.subplots(1, len(panels), figsize=(3 * len(panels), 3), dpi=110)
    for ax, (label, values) in zip(axes, panels):
        ax.bar(modes, values, color=["tab:gray", "tab:blue", "tab:orange", "tab:green", "tab:red"][:len(modes)])
        ax.set_title(label, fontsize=8)
        ax.tick_params(axis="x", labelsize=7, rotation=30)
    fig.suptitle(title, fontsize=9)
    fig.tight_layout()
    return save(fig, path)


def mode_layer_effects(layers: list, per_mode: dict[str, list[float]], ylabel: str, title: str, path: Path) -> Path:
    """Per-layer effect (mean over seeds) under each precision mode, one line each."""
    fig, ax = plt.subplots(figsize=(7, 3.2), dpi=110)
    for mode, values in per_mode.items():
        ax.plot(layers, values, marker=".", linewidth=1.2, label=mode)
    ax.set_xlabel("skipped layer")
    ax.set_ylabel(ylabel)
    ax.set_title(title, fontsize=9)
    ax.legend(fontsize=7)
    fig.tight_layout()
    return save(fig, path)


def loss_curves(curves: dict[str, list[float]], title: str, path: Path) -> Path:
    """Training loss per step, one line per run (mean over seeds)."""
    fig, ax = plt.subplots(figsize=(6.5, 3.2), dpi=110)
    for label, losses in curves.items():
        ax.plot(range(1, len(losses) + 1), losses, linewidth=1.2, label=label)
    ax.set_xlabel("step")
    ax.set_ylabel("training loss (answer tokens)")
    ax.set_title(title, fontsize=9)
    ax.legend(fontsize=7)
    fig.tight_layout()
    return save(fig, path)


def params_scatter(points: dict[str, tuple[float, float]], ylabel: str, title: str, path: Path) -> Path:
    """Trainable parameters (log x) against one outcome, a labelled point per run."""
    fig, ax = plt.subplots(figsize=(6.5, 3.2), dpi=110)
    for i, (label, (x, y)) in enumerate(points.items()):
        ax.scatter([x], [y], s=30)
        # staggered labels: runs with the same parameter count and outcome would print on top of each other
        ax.annotate(label, (x, y), fontsize=7, xytext=(4, 4 + 9 * (i % 4)), textcoords="offset points")
    ax.set_xscale("log")
    ax.set_xlabel("trainable parameters (peft)")
    ax.set_ylabel(ylabel)
    ax.set_title(title, fontsize=9)
    fig.tight_layout()
    return save(fig, path)


def effect_and_norm(layers: list[int], effects: list[float], norms: list[float], title: str, path: Path) -> Path:
    """Per layer: the adapter-ablation effect (bars) and the adapter weight norm (line, right axis)."""
    fig, ax = plt.subplots(figsize=(7, 3.2), dpi=110)
    ax.bar(layers, effects, color="tab:blue", alpha=0.7, label="effect of disabling the layer's adapter")
    ax.set_xlabel("layer")
    ax.set_ylabel("held-out answer NLL increase (nats)")
    twin = ax.twinx()
    twin.plot(layers, norms, color="tab:red", marker=".", label="adapter norm ||scaling BA||")
    twin.set_ylabel("adapter norm")
    ax.set_title(title, fontsize=9)
    fig.legend(fontsize=7, loc="upper left")
    fig.tight_layout()
    return save(fig, path)


def intervals(rows: list[dict], threshold: float, title: str, path: Path, xlabel: str = "difference") -> Path:
    """Forest plot of simultaneous intervals (``rows``: contrast, estimate, low, high); the
    threshold the verdict needed drawn as a dashed line, 0 as a solid one."""
    rows = rows[:30]
    fig, ax = plt.subplots(figsize=(6.5, 0.22 * len(rows) + 1.2), dpi=110)
    ys = list(range(len(rows)))[::-1]
    for y, r in zip(ys, rows):
        color = "seagreen" if r["low"] > threshold else ("crimson" if r["high"] < 0 else "gray")
        ax.plot([r["low"], r["high"]], [y, y], color=color, linewidth=2)
        ax.plot([r["estimate"]], [y], marker="o", color="black", markersize=3)
    ax.axvline(0, color="black", linewidth=0.8)
    if threshold:
        ax.axvline(threshold, color="crimson", linestyle="--", linewidth=0.8, label=f"margin {threshold:.3g}")
        ax.legend(fontsize=7)
    ax.set_yticks(ys, [str(r["contrast"]) for r in rows], fontsize=6)
    ax.set_xlabel(xlabel, fontsize=8)
    ax.set_title(title, fontsize=9)
    fig.tight_layout()
    return save(fig, path)
