"""Small descriptive statistics used by cards, evidence summaries and controls (the standard
library's ``statistics``; no numpy, no torch)."""

from __future__ import annotations

import statistics

median = statistics.median


def mean(xs) -> float:
    """Arithmetic mean (``statistics.fmean``); an empty input is an error, never 0."""
    return statistics.fmean(xs)


def std(xs) -> float:
    """Sample standard deviation (``statistics.stdev``); 0 for fewer than two values."""
    xs = list(xs)
    return statistics.stdev(xs) if len(xs) > 1 else 0.0


def argmax(xs) -> int:
    """Index of the largest value; ties go to the lowest index."""
    xs = list(xs)
    return max(range(len(xs)), key=lambda i: (xs[i], -i))
