"""Small pure statistics used by criteria and controls (no numpy, no torch)."""

from __future__ import annotations

import math


def mean(xs) -> float:
    xs = list(xs)
    return sum(xs) / len(xs)


def std(xs) -> float:
    """Sample standard deviation (0 for fewer than two values)."""
    xs = list(xs)
    if len(xs) < 2:
        return 0.0
    m = mean(xs)
    return math.sqrt(sum((x - m) ** 2 for x in xs) / (len(xs) - 1))


def argmax(xs) -> int:
    """Index of the largest value; ties go to the lowest index."""
    xs = list(xs)
    return max(range(len(xs)), key=lambda i: (xs[i], -i))


def median(xs) -> float:
    xs = sorted(xs)
    n = len(xs)
    return xs[n // 2] if n % 2 else (xs[n // 2 - 1] + xs[n // 2]) / 2


def ranks(xs) -> list[float]:
    """Ranks starting at 1; ties share the mean of their ranks."""
    xs = list(xs)
    order = sorted(range(len(xs)), key=lambda i: xs[i])
    out = [0.0] * len(xs)
    i = 0
    while i < len(order):
        j = i
        while j + 1 < len(order) and xs[order[j + 1]] == xs[order[i]]:
            j += 1
        for k in range(i, j + 1):
            out[order[k]] = (i + j) / 2 + 1
        i = j + 1
    return out


def pearson(xs, ys) -> float | None:
    """Pearson correlation; None when either side is constant (undefined, never a finding)."""
    xs, ys = list(xs), list(ys)
    if len(xs) != len(ys):
        raise ValueError(f"pearson: {len(xs)} vs {len(ys)} values")
    mx, my = mean(xs), mean(ys)
    sxy = sum((x - mx) * (y - my) for x, y in zip(xs, ys))
    sxx = sum((x - mx) ** 2 for x in xs)
    syy = sum((y - my) ** 2 for y in ys)
    if sxx <= 0 or syy <= 0:
        return None
    return max(-1.0, min(1.0, sxy / math.sqrt(sxx * syy)))


def spearman(xs, ys) -> float | None:
    """Spearman rank correlation (Pearson of the ranks); None when either side is constant."""
    return pearson(ranks(xs), ranks(ys))


def permutation_p(xs, ys, n: int, seed: int = 0) -> float:
    """Two-sided permutation p-value of Pearson's r: (1 + #{|r(perm)| >= |r|}) / (n + 1), with ``ys``
    shuffled by a seeded generator. 1.0 when r is undefined (a constant side)."""
    import random

    observed = pearson(xs, ys)
    if observed is None:
        return 1.0
    rng, ys = random.Random(seed), list(ys)
    hits = 0
    for _ in range(n):
        rng.shuffle(ys)
        r = pearson(xs, ys)
        hits += r is not None and abs(r) >= abs(observed) - 1e-12
    return (1 + hits) / (n + 1)
