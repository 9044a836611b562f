"""The random-vector control of a causal-drift claim (``quantization_drift``): the drift against
same-norm random weight noise.

For each mode, ``n`` draws of the float32 model whose decoder linear weights carry seeded Gaussian
noise of the mode's quantization-error row norms (controls/weight_noise.py: the draws of a
``quantization`` claim's null), each re-running the claim's layer sweep on the same prompts. Per
seed, the Spearman of a draw's per-layer effects (seed means) with the reference's is one null draw
for the mode's own Spearman; both tails (``controls.weight_noise.two_sided``, alpha / 2 each): is the
mode's causal surface more disturbed (a lower Spearman) than under random weight noise of its
error's size, less, or within? Beside it the magnitude ratio (mean |effect| over the reference's),
its distance from 1 (|log ratio|) tested the same way.

Degenerate, never a finding: zero error (the null is the reference itself), or every draw's sweep
equal to the reference's. Undefined: fewer than 3 layers, or a constant effect vector (the
reference's, the mode's or a draw's, in any seed: no ranks). Reported beside the verdict, never
turning it. Pure: numpy and scipy.
"""

from __future__ import annotations

import numpy as np

from controls.shuffled_layers import MIN_LAYERS
from controls.weight_noise import CONFOUND, NAME, two_sided

DISTURBED = {"more": "its causal surface is more disturbed than by random weight noise of its error's size",
             "less": "its causal surface is less disturbed than by random weight noise of its error's size",
             "within": "its causal surface is disturbed as much as by random weight noise of its error's size"}
CONFOUNDS = CONFOUND + "; each null sweep is measured against the noised model's own unablated run, as each mode's"


def _flagged(mode: str, status: str, why: str) -> dict:
    from audit.inference import INCONCLUSIVE

    return {"control": NAME, "mode": mode, "status": INCONCLUSIVE, status: True, "strong": False,
            "meaning": f"{status}: {why}", "reason": f"{NAME} {mode}: {status}: {why}"}


def _tails(observed: np.ndarray, nulls: np.ndarray, higher_is_more: bool) -> dict:
    """The two-sided test of a per-seed statistic, tails named by disturbance."""
    upper, lower, tail = two_sided(NAME, list(observed), [list(r) for r in nulls])
    more, less = (upper, lower) if higher_is_more else (lower, upper)
    if tail is not None and not higher_is_more:
        tail = {"more": "less", "less": "more"}.get(tail, tail)
    return {"upper": upper, "p_more": more["p"], "p_less": less["p"], "tail": tail}


def magnitude(ref: np.ndarray, eff: np.ndarray, null: np.ndarray) -> dict | None:
    """The magnitude ratio against its noise null (|log ratio| two-sided); None where undefined."""
    from audit.criteria.deployment import _magnitude_rows

    obs = _magnitude_rows(ref, eff)
    nulls = np.stack([_magnitude_rows(ref, d) for d in null], axis=1)  # [seed, draw]
    if not (np.isfinite(obs).all() and np.isfinite(nulls).all() and (obs > 0).all() and (nulls > 0).all()):
        return None
    test = _tails(np.abs(np.log(obs)), np.abs(np.log(nulls)), higher_is_more=True)
    pooled = nulls.mean(0)
    return {"observed": float(obs.mean()), "median": float(np.median(pooled)), "null_min": float(pooled.min()),
            "null_max": float(pooled.max()), "p_more": test["p_more"], "p_less": test["p_less"],
            "status": test["tail"] or "inconclusive"}


def record(mode: str, reference, effects, draws, seeds: list[int], error_norm: float) -> dict:
    """The control of one mode: ``reference[seed][layer]`` and ``effects[seed][layer]`` (seed means of
    the reference's and the mode's sweeps), ``draws[draw][seed][layer]`` (the noised sweeps')."""
    from audit.criteria.deployment import _spearman_rows
    from audit.inference import INCONCLUSIVE

    ref, eff, null = (np.asarray(x, dtype=float) for x in (reference, effects, draws))
    if ref.shape != eff.shape or ref.shape[0] != len(seeds) or null.ndim != 3 or null.shape[1:] != ref.shape:
        raise ValueError(f"{NAME} {mode}: need [seed][layer] effects of both modes and [draw][seed][layer] of the "
                         f"null (got {ref.shape}, {eff.shape}, {null.shape} for {len(seeds)} seeds)")
    n_layers = ref.shape[1]
    if error_norm == 0 or np.array_equal(null, np.broadcast_to(ref, null.shape)):
        why = ("zero error: the null is the reference itself" if error_norm == 0 else
               "every noised sweep equals the reference's: the noise changes nothing measured")
        return {**_flagged(mode, "degenerate", why), "error_norm": error_norm}
    if n_layers < MIN_LAYERS:
        return _flagged(mode, "undefined", f"{n_layers} swept layer(s): a rank correlation needs at least {MIN_LAYERS}")
    flat = [f"{which} in seed {s}" for k, s in enumerate(seeds)
            for which, v in (("the reference's sweep", ref[k]), (f"{mode}'s sweep", eff[k])) if np.ptp(v) == 0]
    flat += [f"{int(n)} noised sweep(s) in seed {s}" for s, n in zip(seeds, (np.ptp(null, axis=2) == 0).sum(0)) if n]
    if flat:
        return _flagged(mode, "undefined", f"a constant effect vector has no ranks ({', '.join(flat)})")
    observed = _spearman_rows(ref, eff)
    nulls = np.stack([_spearman_rows(ref, d) for d in null], axis=1)  # [seed, draw]
    test = _tails(observed, nulls, higher_is_more=False)
    up = test["upper"]
    out = {**up, "mode": mode, "n_layers": n_layers, "error_norm": error_norm, "p": test["p_more"],
           "p_more": test["p_more"], "p_less": test["p_less"], "null_per_seed": [[float(x) for x in r] for r in nulls],
           "magnitude": magnitude(ref, eff, null)}
    where = (f"{mode}: Spearman with the reference {up['observed']:.3g} vs same-norm random weight noise (median "
             f"{up['median']:.3g}, range {up['null_min']:.3g}–{up['null_max']:.3g}, {up['n_draws']} draws x "
             f"{up['n_seeds']} seeds), p(more disturbed) = {test['p_more']:.3g}, p(less) = {test['p_less']:.3g}")
    if test["tail"] is None:
        why = "a tie with every noise draw" if up["powered"] else f"too few draws ({up['n_draws']})"
        return {**out, "status": INCONCLUSIVE, "meaning": f"not shown: {why}", "reason": up["reason"]}
    return {**out, "status": test["tail"], "meaning": DISTURBED[test["tail"]], "reason": f"{NAME} {where}"}
