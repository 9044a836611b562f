"""The seeds control: each seed resamples the prompts, so seeds are replications, not reruns.

Pure (no torch): sampling, the checks on what seeds draw, and the replication summary work on
plain data.

- :func:`sample_prompts` — what each seed draws from a suite (optionally from one split).
- :func:`identical_seeds` — seeds whose inputs are exactly the same (a rerun, not a replication).
- :func:`overlap` — the inputs two claims share (a confirmatory claim must share none with the
  claim that selected what it confirms).
"""

from __future__ import annotations

from itertools import combinations

from audit.stats import argmax, std


def sample_prompts(suite, seeds: list[int], families: list[str], k: int,
                   split: str | None = None) -> dict[int, dict[str, list]]:
    """``samples[seed][family]``: the prompts each seed draws (``k`` per family) from ``split``
    (default: the split the suite was loaded with)."""
    view = suite if split is None else suite.with_split(split)
    return {seed: {fam: view.sample(seed, fam, k) for fam in families} for seed in seeds}


def ids_of(samples: dict) -> dict[int, frozenset]:
    """``samples[seed][role] -> [prompt or pair or id]`` as each seed's set of ``(role, id)``."""
    return {seed: frozenset((role, getattr(x, "id", x)) for role, xs in by_role.items() for x in xs)
            for seed, by_role in samples.items()}


def unit_ids(samples: dict) -> set[str]:
    """Every prompt (or pair) id drawn by any seed, whatever the role."""
    return {uid for inputs in ids_of(samples).values() for _, uid in inputs}


def identical_seeds(samples: dict) -> list[tuple[int, int]]:
    """Pairs of seeds that draw exactly the same inputs (every role, every id)."""
    drawn = ids_of(samples)
    return [(a, b) for a, b in combinations(list(drawn), 2) if drawn[a] == drawn[b]]


def overlap(a: set[str], b: set[str]) -> list[str]:
    """The ids two sets of inputs share, sorted."""
    return sorted(set(a) & set(b))


def replication_summary(per_seed: list[list[float]], labels: list, seeds: list[int]) -> dict:
    """Per-seed winner, agreement count and seed-to-seed std of each component's effect."""
    winners = [labels[argmax(row)] for row in per_seed]
    modal = max(set(winners), key=lambda w: (winners.count(w), -labels.index(w)))
    spread = [std(row[i] for row in per_seed) for i in range(len(labels))]
    return {"seeds": seeds, "winner_per_seed": dict(zip(map(str, seeds), winners)), "modal_winner": modal,
            "agreement": winners.count(modal), "n_seeds": len(seeds), "std_per_component": spread}
