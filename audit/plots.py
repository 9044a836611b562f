"""Matplotlib figures for the report (PNG, Agg backend, no timestamps in the files).

Legible as displayed: figures are at most ``MAX_WIDTH_IN`` wide at ``DPI`` (so the report shows
them at their own size on a desktop page), every text is at least ``MIN_FONT_PT``, legends sit
below the axes (never over a title or the data), and files are saved with a tight bounding box
(nothing clipped). Axes switch to a log scale where the values are positive and their differences
would be invisible on a linear one (``wants_log``).

Labels and titles carry text from the ledger (claim ids, family, model and mode names), so they are
never parsed: mathtext is off (``$\\frac{1}{$`` is text, not a failed formula), and a glyph the font
lacks is drawn as a box without a warning.
"""

from __future__ import annotations

import math
import warnings
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
matplotlib.rcParams["text.parse_math"] = False
matplotlib.rcParams["text.usetex"] = False
DPI = 100
MIN_FONT_PT = 10
MAX_WIDTH_IN = 8.6
matplotlib.rcParams.update({"figure.dpi": DPI, "savefig.dpi": DPI, "font.size": 11, "axes.titlesize": 11,
                            "axes.labelsize": 11, "xtick.labelsize": MIN_FONT_PT, "ytick.labelsize": MIN_FONT_PT,
                            "legend.fontsize": MIN_FONT_PT, "figure.titlesize": 12})
warnings.filterwarnings("ignore", message=r"Glyph \d+ .*missing from font", category=UserWarning)
import matplotlib.pyplot as plt  # noqa: E402
from matplotlib import ticker  # noqa: E402

from audit.stats import mean  # noqa: E402

_PNG_META = {"Software": None}


def figure(width: float, height: float, ncols: int = 1, nrows: int = 1, **kw):
    """A figure with constrained layout, never wider than ``MAX_WIDTH_IN``."""
    return plt.subplots(nrows, ncols, figsize=(min(width, MAX_WIDTH_IN), height), layout="constrained", **kw)


def legend_below(fig, handles=None, labels=None, ncol: int = 3) -> None:
    """The figure's legend below the axes (it can cover neither the title nor the data)."""
    if handles is None:
        handles, labels = [], []
        for ax in fig.axes:
            h, lab = ax.get_legend_handles_labels()
            handles += h
            labels += lab
    if handles:
        legend = fig.legend(handles, labels, loc="outside lower center", ncol=min(ncol, len(handles)), frameon=False,
                            scatterpoints=1)
        for h in legend.legend_handles:  # scatter markers of any size: one size in the legend
            if hasattr(h, "set_sizes"):
                h.set_sizes([40])


def wants_log(values) -> bool:
    """A log axis shows these values better: all positive and spanning many decades, or so close
    to zero that their differences (under 1e-2 absolute) vanish on a linear axis."""
    vs = [float(v) for v in values if v is not None]
    if len(vs) < 2 or min(vs) <= 0:
        return False
    lo, hi = min(vs), max(vs)
    return hi / lo >= 20 or (hi - lo < 1e-2 and hi / lo >= 1.5)


_SUPERSCRIPT = str.maketrans("-0123456789", "⁻⁰¹²³⁴⁵⁶⁷⁸⁹")


def tick_text(v: float) -> str:
    """A log axis tick as plain text: ``0.01``, ``500``, or ``10⁻⁵`` / ``10⁶`` far from 1."""
    if v <= 0 or 1e-3 <= v <= 1e4:
        return f"{v:g}"
    exp = math.log10(v)
    return f"10{str(round(exp)).translate(_SUPERSCRIPT)}" if abs(exp - round(exp)) < 1e-9 else f"{v:.2g}"


def log_axis(ax, axis: str = "y") -> None:
    """A log scale whose tick labels are plain numbers (mathtext is off, so the default
    ``10^{-3}`` labels would print as markup)."""
    (ax.set_yscale if axis == "y" else ax.set_xscale)("log")
    which = ax.yaxis if axis == "y" else ax.xaxis
    which.set_major_formatter(ticker.FuncFormatter(lambda v, _: tick_text(v)))
    which.set_minor_formatter(ticker.NullFormatter())


def log_if_tiny(ax, values, axis: str = "y") -> None:
    if wants_log(values):
        log_axis(ax, axis)
        label = ax.get_ylabel() if axis == "y" else ax.get_xlabel()
        (ax.set_ylabel if axis == "y" else ax.set_xlabel)(f"{label} (log scale)")


def _ticks(ax, labels: list, axis: str = "x") -> None:
    step = max(1, len(labels) // 16)
    positions = list(range(0, len(labels), step))
    shown = [str(labels[i]) for i in positions]
    if axis == "x":
        ax.set_xticks(positions, shown, rotation=45 if len(labels) > 16 or max(map(len, shown), default=0) > 4 else 0)
    else:
        ax.set_yticks(positions, shown)


def per_seed_rows(table) -> list[list[float]]:
    """``table[seed][family][component]`` -> ``[seed][component]`` family means."""
    return [[mean(fam[i] for fam in seed_rows) for i in range(len(seed_rows[0]))] for seed_rows in table]


def sweep(labels: list, table, seeds: list, claimed, ylabel: str, xlabel: str, title: str, path: Path) -> Path:
    """Effect per component: one line per seed and the pooled mean; the claimed component marked."""
    xs = list(range(len(labels)))
    fig, ax = figure(7.5, 3.8)
    rows = per_seed_rows(table)
    for seed, row in zip(seeds, rows):
        ax.plot(xs, row, marker=".", linewidth=0.8, alpha=0.6, label=f"seed {seed}")
    ax.plot(xs, [mean(r[i] for r in rows) for i in xs], color="black", linewidth=2, label="pooled")
    if claimed in labels:
        ax.axvline(labels.index(claimed), color="crimson", linestyle="--", linewidth=1, label=f"claimed {claimed}")
    _ticks(ax, labels)
    ax.set_xlabel(xlabel)
    ax.set_ylabel(ylabel)
    ax.set_title(title)
    legend_below(fig, ncol=5)
    return save(fig, path)


def heatmap(labels: list, families: list, table, ylabel: str, xlabel: str, title: str, path: Path) -> Path:
    """Family x component heatmap of the effect (mean over seeds)."""
    grid = [[mean(seed_rows[f][i] for seed_rows in table) for i in range(len(labels))] for f in range(len(families))]
    fig, ax = figure(7.5, 0.3 * len(families) + 1.8)
    im = ax.imshow(grid, aspect="auto", cmap="viridis")
    ax.set_yticks(range(len(families)), families)
    _ticks(ax, labels)
    ax.set_xlabel(xlabel)
    ax.set_title(title)
    fig.colorbar(im, ax=ax, label=ylabel)
    return save(fig, path)


def layer_effects(evidence: dict, claimed, title: str, path: Path) -> Path:
    return sweep(evidence["layers"], evidence["effects"][evidence["metric"]], evidence["seeds"], claimed,
                 f"{evidence['metric']} (nats)", "layer ablated", title, path)


def family_heatmap(evidence: dict, title: str, path: Path) -> Path:
    return heatmap(evidence["layers"], evidence["families"], evidence["effects"][evidence["metric"]],
                   evidence["metric"], "layer ablated", title, path)


def save(fig, path: Path) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, metadata=_PNG_META, bbox_inches="tight", pad_inches=0.12)
    plt.close(fig)
    return path


def null_histogram(null: list[float], observed: float, quantile_value: float, quantile_level: float, p: float,
                   title: str, xlabel: str, path: Path, per_seed_observed: list[float] | None = None) -> Path:
    """A control's null distribution (pooled over seeds) with the observed value and the null quantile."""
    fig, ax = figure(6.4, 3.8)
    ax.hist(null, bins=min(24, max(6, len(null) // 2)), color="#9ab", edgecolor="white", label=f"null (n={len(null)})")
    ax.axvline(quantile_value, color="dimgray", linestyle="--", linewidth=1.2,
               label=f"{quantile_level * 100:g}th percentile {quantile_value:.3g}")
    ax.axvline(observed, color="crimson", linewidth=2, label=f"observed {observed:.3g} (p={p:.3g})")
    for x in per_seed_observed or []:
        ax.axvline(x, color="crimson", linewidth=0.8, alpha=0.35)
    ax.set_xlabel(xlabel)
    ax.set_ylabel("draws")
    ax.set_title(title)
    legend_below(fig, ncol=2)
    return save(fig, path)


def steering_sweep(layers: list, alphas: list, effect: dict, collateral: dict, claimed: str | None, ylabel: str,
                   title: str, path: Path, key=lambda layer, alpha: f"L{layer}@{alpha:g}") -> Path:
    """Behavior effect (solid) and collateral KL (dotted) per steered layer, one colour per alpha."""
    fig, ax = figure(7.5, 4.0)
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
    ax.set_title(title)
    legend_below(fig, ncol=2)
    return save(fig, path)


def skip_tradeoff(configs: list[dict], faithful: float, min_speedup: float, title: str, path: Path) -> Path:
    """Each skip config: median speedup (x, repeat range as bars) vs top-5 overlap (y, seed range);
    the "free speedup" corner (faithful and faster) shaded."""
    fig, ax = figure(7.5, 4.6)
    xmax = max([min_speedup * 1.2] + [max(c["speedups"]) * 1.1 for c in configs])
    ax.fill_between([min_speedup, xmax], faithful, 1.02, color="tab:green", alpha=0.12, label="free speedup region")
    for c in configs:
        ov = [s["top5_overlap"] for s in c["seeds"]]
        x, y = sorted(c["speedups"])[len(c["speedups"]) // 2], mean(ov)
        ax.errorbar([x], [y], xerr=[[x - min(c["speedups"])], [max(c["speedups"]) - x]],
                    yerr=[[y - min(ov)], [max(ov) - y]], fmt="o", capsize=3,
                    label=f"{c['name']} ({c['n_skipped']} layers)")
    ax.axhline(faithful, color="gray", linestyle="--", linewidth=1)
    ax.axvline(min_speedup, color="gray", linestyle=":", linewidth=1)
    ax.set_xlim(min(0.9, *(min(c["speedups"]) * 0.95 for c in configs)), xmax)
    ax.set_ylim(-0.02, 1.02)
    ax.set_xlabel("tokens/s ratio to the unmodified model (median, repeat range)")
    ax.set_ylabel("top-5 overlap\n(mean, seed range)")
    ax.set_title(title)
    legend_below(fig, ncol=3)
    return save(fig, path)


def mode_bars(modes: list[str], panels: list[tuple[str, list[float]]], title: str, path: Path) -> Path:
    """One bar panel per measure (speed ratio, memory, KL, exact match), modes side by side, two
    panels a row."""
    ncols = min(2, len(panels))
    nrows = -(-len(panels) // ncols)
    fig, axes = figure(7.5, 2.9 * nrows + 0.6, ncols=ncols, nrows=nrows, squeeze=False)
    flat = [ax for row in axes for ax in row]
    for ax, (label, values) in zip(flat, panels):
        ax.bar(modes, values, color=["tab:gray", "tab:blue", "tab:orange", "tab:green", "tab:red"][:len(modes)])
        ax.set_title(label)
        ax.tick_params(axis="x", rotation=30 if max(map(len, modes), default=0) > 6 else 0)
    for ax in flat[len(panels):]:
        ax.set_visible(False)
    fig.suptitle(title)
    return save(fig, path)


def mode_layer_effects(layers: list, per_mode: dict[str, list[float]], ylabel: str, title: str, path: Path) -> Path:
    """Per-layer effect (mean over seeds) under each precision mode, one line each."""
    fig, ax = figure(7.5, 3.8)
    for mode, values in per_mode.items():
        ax.plot(layers, values, marker=".", linewidth=1.2, label=mode)
    ax.set_xlabel("skipped layer")
    ax.set_ylabel(ylabel)
    ax.set_title(title)
    legend_below(fig, ncol=4)
    return save(fig, path)


def loss_curves(curves: dict[str, list[float]], title: str, path: Path) -> Path:
    """Training loss per step, one line per run (mean over seeds); a log axis when the losses
    span decades or differ by less than 1e-2."""
    fig, ax = figure(7.5, 3.8)
    for label, losses in curves.items():
        ax.plot(range(1, len(losses) + 1), losses, linewidth=1.2, label=label)
    ax.set_xlabel("step")
    ax.set_ylabel("training loss (answer tokens)")
    log_if_tiny(ax, [v for losses in curves.values() for v in losses])
    ax.set_title(title)
    legend_below(fig, ncol=3)
    return save(fig, path)


def params_scatter(points: dict[str, tuple[float, float]], ylabel: str, title: str, path: Path,
                   base: float | None = None, base_label: str = "base model (no adapter)") -> Path:
    """Trainable parameters (log x) against one outcome, a point per run (named in the legend:
    runs with the same parameter count and outcome would print their labels on top of each other,
    so each gets its own marker); the base model's value (``base``) as a dashed line; a log y axis
    when the outcomes' differences are tiny."""
    fig, ax = figure(7.5, 4.0)
    for i, (label, (x, y)) in enumerate(points.items()):
        # hollow markers growing with the index: runs on the same spot all stay visible
        ax.scatter([x], [y], s=40 + 45 * (i % 5), marker="osD^vP*X"[i % 8], facecolors="none",
                   edgecolors=f"C{i % 10}", linewidths=1.6, label=label)
    if base is not None:
        ax.axhline(base, color="dimgray", linestyle="--", linewidth=1.2, label=f"{base_label}: {base:.3g}")
    log_axis(ax, "x")
    ax.set_xlabel("trainable parameters (peft)")
    ax.set_ylabel(ylabel)
    log_if_tiny(ax, [y for _, y in points.values()] + ([base] if base is not None else []))
    ax.set_title(title)
    ax.margins(x=0.15, y=0.2)
    legend_below(fig)
    return save(fig, path)


def effect_and_norm(layers: list[int], effects: list[float], norms: list[float], title: str, path: Path) -> Path:
    """Per layer: the adapter-ablation effect (bars) and the adapter weight norm (line, right axis)."""
    fig, ax = figure(7.5, 3.8)
    ax.bar(layers, effects, color="tab:blue", alpha=0.7, label="effect of disabling the layer's adapter")
    ax.set_xlabel("layer")
    ax.set_ylabel("held-out answer NLL\nincrease (nats)")
    twin = ax.twinx()
    twin.plot(layers, norms, color="tab:red", marker=".", label="adapter norm ||scaling BA||")
    twin.set_ylabel("adapter norm")
    ax.set_title(title)
    legend_below(fig, ncol=2)
    return save(fig, path)


def intervals(rows: list[dict], threshold: float, title: str, path: Path, xlabel: str = "difference") -> Path:
    """Forest plot of simultaneous intervals (``rows``: contrast, estimate, low, high); the
    threshold the verdict needed drawn as a dashed line, 0 as a solid one."""
    rows = rows[:30]
    fig, ax = figure(7.0, 0.27 * len(rows) + 1.8)
    ys = list(range(len(rows)))[::-1]
    for y, r in zip(ys, rows):
        color = "seagreen" if r["low"] > threshold else ("crimson" if r["high"] < 0 else "gray")
        ax.plot([r["low"], r["high"]], [y, y], color=color, linewidth=2)
        ax.plot([r["estimate"]], [y], marker="o", color="black", markersize=3)
    ax.axvline(0, color="black", linewidth=0.8)
    if threshold:
        ax.axvline(threshold, color="crimson", linestyle="--", linewidth=0.8, label=f"margin {threshold:.3g}")
        legend_below(fig)
    ax.set_yticks(ys, [str(r["contrast"]) for r in rows])
    ax.set_xlabel(xlabel)
    ax.set_title(title)
    return save(fig, path)
