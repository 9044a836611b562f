"""The seeds control: each seed resamples the prompts, so seeds are replications, not reruns.

Pure (no torch): sampling and the replication summary work on plain data.
"""

from __future__ import annotations

from audit.stats import argmax, std


def sample_prompts(suite, seeds: list[int], families: list[str], k: int) -> dict[int, dict[str, list]]:
    """``samples[seed][family]``: the prompts each seed draws (``k`` per family)."""
    return {seed: {fam: suite.sample(seed, fam, k) for fam in families} for seed in seeds}


def replication_summary(per_seed: list[list[float]], labels: list, seeds: list[int]) -> dict:
    """Per-seed winner, agreement count and seed-to-seed std of each component's effect."""
    winners = [labels[argmax(row)] for row in per_seed]
    modal = max(set(winners), key=lambda w: (winners.count(w), -labels.index(w)))
    spread = [std(row[i] for row in per_seed) for i in range(len(labels))]
    return {"seeds": seeds, "winner_per_seed": dict(zip(map(str, seeds), winners)), "modal_winner": modal,
            "agreement": winners.count(modal), "n_seeds": len(seeds), "std_per_component": spread}


