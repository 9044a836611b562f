"""The random-component control: the claimed component's effect against the same intervention on
random components of the same kind and size (Shi et al., NeurIPS 2024: circuits judged against
random circuits of the same size).

For a claimed ``L8.mlp`` the null draws other layers' MLP outputs; for ``L8.H7`` other (layer,
head) pairs; for ``L8`` other layers' residual outputs — same target, same position, drawn by the
seed (``random.Random("random_component:<seed>:<label>")``). When a model has fewer candidates than
``n`` every candidate is taken once (an exhaustive null; the smallest p is then 1 / (candidates +
1), and a null too small to reach ``max_p`` is inconclusive, never a pass).

For a layer-skip config (``kind: layer_skip``) the null is random *sets* of layers of the config's
size (:func:`draw_layer_sets`), and the compared quantity is how much of the unmodified model's
top-5 next tokens each skipped model keeps: the chosen layers must preserve more than random ones
(evidence/layer_skip.py). There the control is reported per config beside the verdict and never
turns it: a skip claim is about whether skipping is free, the control about whether the choice of
layers (e.g. the atlas' least important ones) beats chance.

The pooled test is the steering controls' (:func:`audit.criteria.steering.judge_control`): passed
when p <= max_p; refuted when the claimed effect sits inside the null's bulk (at or below its 75th
percentile: a random component of the same kind does as much); inconclusive otherwise.
"""

from __future__ import annotations

import itertools
import math
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


def draw_layer_sets(skipped: list[int], n_layers: int, seed: int, n: int, label: str) -> list[list[int]]:
    """The seed's ``n`` distinct random sets of ``len(skipped)`` layers other than ``skipped`` itself
    (every such set, in a seeded order, when there are fewer), drawn by ``Random("random_component:
    <seed>:<label>")``."""
    k, own = len(skipped), tuple(sorted(skipped))
    rng = random.Random(f"{NAME}:{seed}:{label}")
    if math.comb(n_layers, k) - 1 <= max(n, 4 * n):  # few enough to list (and to avoid rejection stalls)
        pool = [list(c) for c in itertools.combinations(range(n_layers), k) if c != own]
        return rng.sample(pool, min(n, len(pool)))
    out: list[list[int]] = []
    while len(out) < n:
        c = sorted(rng.sample(range(n_layers), k))
        if tuple(c) != own and c not in out:
            out.append(c)
    return out


def combine(outcome: Outcome, control: dict, name: str = NAME) -> Outcome:
    """The claim's outcome with a control's (``name``): a supported claim needs the control passed;
    inside the null's bulk refutes it; anything else leaves it inconclusive. Other verdicts stand."""
    from audit.criteria.steering import PASSED, REFUTED

    summary = {**outcome.summary, name: control}
    if outcome.verdict is not Verdict.SUPPORTED or control["status"] == PASSED:
        return Outcome(outcome.verdict, [*outcome.reasons, control["reason"]], summary)
    if control["status"] == REFUTED:
        return Outcome(Verdict.REFUTED, [control["reason"], *outcome.reasons], {**summary, "strong": control["strong"]})
    return Outcome(Verdict.INCONCLUSIVE, [control["reason"], *outcome.reasons], {**summary, "strong": False})


def run(ctx, claimed_label: str, comps: list, ids_by_seed: dict, observed, null_effects, outcome: Outcome):
    """The control on one claim: per seed, ``observed(seed, pid)`` (the claimed component's effect on
    a prompt) against ``null_effects(seed, null_components) -> {pid: [effect per component]}`` on the
    seed's prompts ``ids_by_seed[seed]``, judged by one pooled test. Returns the combined outcome and
    the control's record (draws and null means per seed, for the report)."""
    claimed = next((c for c in comps if c.label == claimed_label), None)
    if claimed is None:
        raise ValueError(f"{NAME}: the claimed component {claimed_label} is not in the sweep")
    config = getattr(ctx.loaded.config, "text_config", ctx.loaded.config)
    n = ctx.lc.claim.controls.random_component.n
    drawn = {str(seed): draw(claimed, seed, n, ctx.n_layers, getattr(config, "num_attention_heads", None))
             for seed in ids_by_seed}
    effects = {seed: null_effects(seed, drawn[str(seed)]) for seed in ids_by_seed}
    outcome, record = judge_nulls(NAME, ids_by_seed, observed, effects, outcome)
    return outcome, {**record, "claimed": claimed_label, "draws": {s: [c.label for c in d] for s, d in drawn.items()}}


def pooled_test(name: str, ids_by_seed: dict, observed, effects: dict, interval=None) -> dict:
    """The one pooled test of a null control (:func:`audit.criteria.steering.judge_control`):
    ``observed(seed, pid)`` against ``effects[seed][pid]`` (one value per null draw), each averaged
    over the seed's prompts ``ids_by_seed[seed]``; the control's record."""
    from audit.criteria.steering import judge_control
    from audit.inference import ALPHA, rounded
    from audit.stats import mean

    observed_means, nulls = [], []
    for seed, ids in ids_by_seed.items():
        per_prompt = {pid: rounded(effects[seed][pid]) for pid in ids}
        observed_means.append(mean(observed(seed, pid) for pid in ids))
        nulls.append([mean(per_prompt[pid][j] for pid in ids) for j in range(len(per_prompt[ids[0]]))])
    result = judge_control(name, observed_means, nulls, ALPHA, tuple(interval) if interval else None)
    return {**result, "null_per_seed": nulls}


def judge_nulls(name: str, ids_by_seed: dict, observed, effects: dict, outcome: Outcome):
    """:func:`pooled_test` of the claim's effect, combined with its outcome (:func:`combine`)."""
    record = pooled_test(name, ids_by_seed, observed, effects, (outcome.summary or {}).get("interval"))
    result = {k: v for k, v in record.items() if k != "null_per_seed"}  # the summary keeps the test, not the draws
    return combine(outcome, result, name), record
