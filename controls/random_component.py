"""The random-component control: the claimed component's effect against the same intervention on
random components of the same kind and size (Shi et al., NeurIPS 2024: circuits judged against
random circuits of the same size).

For a claimed ``L8.mlp`` the null draws other layers' MLP outputs; for ``L8.H7`` other (layer,
head) pairs; for ``L8`` other layers' residual outputs — same target, same position, drawn by the
seed (``random.Random("random_component:<seed>:<label>")``). When a model has fewer candidates than
``n`` every candidate is taken once (an exhaustive null; the smallest p is then 1 / (candidates +
1), and a null too small to reach ``max_p`` is inconclusive, never a pass).

The pooled test is the steering controls' (:func:`audit.criteria.steering.judge_control`): passed
when p <= max_p; refuted when the claimed effect sits inside the null's bulk (at or below its 75th
percentile: a random component of the same kind does as much); inconclusive otherwise.
"""

from __future__ import annotations

import random
from dataclasses import replace

from audit.verdict import Outcome, Verdict

NAME = "random_component"


def candidates(claimed, n_layers: int, n_heads: int | None) -> list:
    """Every component of the claimed one's kind and size except itself."""
    if claimed.target == "module":
        raise ValueError("random_component needs a residual, attn, mlp or head target (a module path has no "
                         "same-kind alternatives)")
    if claimed.target == "head":
        return [replace(claimed, layer=layer, head=h) for layer in range(n_layers) for h in range(n_heads or 0)
                if (layer, h) != (claimed.layer, claimed.head)]
    return [replace(claimed, layer=layer) for layer in range(n_layers) if layer != claimed.layer]


def draw(claimed, seed: int, n: int, n_layers: int, n_heads: int | None) -> list:
    """The seed's ``n`` random components (all candidates, in a seeded order, when there are fewer)."""
    pool = candidates(claimed, n_layers, n_heads)
    rng = random.Random(f"{NAME}:{seed}:{claimed.label}")
    return rng.sample(pool, min(n, len(pool)))


def combine(outcome: Outcome, control: dict) -> Outcome:
    """The claim's outcome with the control's: a supported claim needs the control passed; inside
    the null's bulk refutes it; anything else leaves it inconclusive. Other verdicts stand."""
    from audit.criteria.steering import PASSED, REFUTED

    summary = {**outcome.summary, NAME: control}
    if outcome.verdict is not Verdict.SUPPORTED or control["status"] == PASSED:
        return Outcome(outcome.verdict, [*outcome.reasons, control["reason"]], summary)
    if control["status"] == REFUTED:
        return Outcome(Verdict.REFUTED, [control["reason"], *outcome.reasons], {**summary, "strong": control["strong"]})
    return Outcome(Verdict.INCONCLUSIVE, [control["reason"], *outcome.reasons], {**summary, "strong": False})
