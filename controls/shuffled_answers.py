"""The shuffled-answers control for training claims: the candidate placement trained again on the
same training prompts with their answers permuted among them (a derangement drawn by the seed,
``random.Random("shuffled_answers:<seed>")``). An adapter that learns the task must do better on
the held-out prompts than one trained on answers that do not belong to their prompts; if the
shuffled adapter does as well, what was "learned" is not the prompt-to-answer mapping (e.g. a
constant answer, or the answer format alone).
"""

from __future__ import annotations

import random

NAME = "shuffled_answers"


def derangement(n: int, seed: int) -> list[int]:
    """A seeded permutation of range(n) with no fixed point (n >= 2): a random order rotated by one."""
    if n < 2:
        raise ValueError(f"shuffled_answers needs at least 2 training prompts, got {n}")
    order = list(range(n))
    random.Random(f"{NAME}:{seed}").shuffle(order)
    out = [0] * n
    for i, src in enumerate(order):  # each prompt takes the answer of the next one in the shuffled order
        out[src] = order[(i + 1) % n]
    return out


def shuffled(prompts: list, seed: int) -> list:
    """The training prompts with answers moved by :func:`derangement` (ids and prompts kept)."""
    perm = derangement(len(prompts), seed)
    return [p.model_copy(update={"answer": prompts[j].answer}) for p, j in zip(prompts, perm)]
