"""Matplotlib figures for the report (PNG, Agg backend, no timestamps in the files)."""

from __future__ import annotations

from pathlib import Path

import matplotlib

matplotlib.use("Agg")
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
