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
