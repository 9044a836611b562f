"""Matplotlib figures for the report (PNG, Agg backend, deterministic metadata)."""

from __future__ import annotations

from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402

from audit.stats import mean  # noqa: E402

_PNG_META = {"Software": None}


def layer_effects(evidence: dict, claimed: int | None, title: str, path: Path) -> Path:
    """Effect per layer: one line per seed and the pooled mean, the claimed layer marked."""
    layers, seeds = evidence["layers"], evidence["seeds"]
    table = evidence["effects"][evidence["metric"]]
    fig, ax = plt.subplots(figsize=(7, 3.2), dpi=110)
    per_seed = [[mean(fam[i] for fam in seed_rows) for i in range(len(layers))] for seed_rows in table]
    for seed, row in zip(seeds, per_seed):
        ax.plot(layers, row, marker=".", linewidth=0.8, alpha=0.6, label=f"seed {seed}")
    pooled = [mean(row[i] for row in per_seed) for i in range(len(layers))]
    ax.plot(layers, pooled, color="black", linewidth=2, label="pooled")
    if claimed is not None:
        ax.axvline(claimed, color="crimson", linestyle="--", linewidth=1, label=f"claimed L{claimed}")
    ax.set_xlabel("layer ablated")
    ax.set_ylabel(f"{evidence['metric']} (nats)")
    ax.set_title(title, fontsize=9)
    ax.legend(fontsize=7, ncol=3)
    fig.tight_layout()
    return _save(fig, path)


def family_heatmap(evidence: dict, title: str, path: Path) -> Path:
    """Family x layer heatmap of the effect (mean over seeds)."""
    layers, families = evidence["layers"], evidence["families"]
    table = evidence["effects"][evidence["metric"]]
    grid = [[mean(seed_rows[f][i] for seed_rows in table) for i in range(len(layers))] for f in range(len(families))]
    fig, ax = plt.subplots(figsize=(7, 0.3 * len(families) + 1.4), dpi=110)
    im = ax.imshow(grid, aspect="auto", cmap="viridis")
    ax.set_yticks(range(len(families)), families, fontsize=7)
    step = max(1, len(layers) // 15)
    ax.set_xticks(range(0, len(layers), step), [str(layer) for layer in layers[::step]], fontsize=7)
    ax.set_xlabel("layer ablated")
    ax.set_title(title, fontsize=9)
    fig.colorbar(im, ax=ax, label=evidence["metric"])
    fig.tight_layout()
    return _save(fig, path)


def _save(fig, path: Path) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, metadata=_PNG_META)
    plt.close(fig)
    return path
