"""The random-vector control of a layer sweep (``layer_ablation``, ``layer_scaling``) with a hub claim:
the claimed layer's ablation against the same intervention on matched random targets.

The real ablation removes something at one site of the claimed layer L: its write (skip: output -
input; scaling: 1 - factor of it), or the output of the layer or a sublayer (zero methods). Each null
draw instead moves that site's output, token by token, by the same norm along a random unit
direction u: ``x_t - ||d_t|| u`` where d_t is what the ablation removes at token t (the spec's
``null_hooks``). The directions are :func:`controls.random_vector.random_directions` (claim seed,
layer): the same claim draws the same vectors on every machine; ``controls.random_vector.n`` draws
per seed, so the smallest p is 1 / (n + 1).

The claimed layer's per-prompt metric against the null's, by the null controls' one pooled test
(:func:`controls.random_component.judge_nulls`): passed when the real ablation beats the random
same-norm perturbations (p <= 0.05); refuted when it sits inside the null's bulk (at or below its
75th percentile: the "hub" effect is about the size of the write, not what it writes); inconclusive
otherwise, on a tie (a layer that writes nothing: every draw moves nothing) or with too few draws.
"""

from __future__ import annotations

from audit.verdict import Outcome

NAME = "random_vector"


def run(ctx, layer: int, layers: list[int], ids_by_seed: dict, observed, null_effects, outcome: Outcome):
    """The control on one hub claim: per seed, ``observed(seed, pid)`` (the claimed layer's effect on
    a prompt) against ``null_effects(seed, n) -> {pid: [effect per draw]}`` on the seed's prompts
    ``ids_by_seed[seed]``. Returns the combined outcome and the control's record."""
    from controls.random_component import judge_nulls

    if layer not in layers:
        raise ValueError(f"{NAME}: the claimed layer {layer} is not in the sweep {layers}")
    n = ctx.lc.claim.controls.random_vector.n
    effects = {seed: null_effects(seed, n) for seed in ids_by_seed}
    outcome, record = judge_nulls(NAME, ids_by_seed, observed, effects, outcome)
    return outcome, {**record, "claimed": f"layer {layer}", "layer": layer,
                     "method": ctx.lc.claim.intervention.method}
