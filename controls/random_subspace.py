"""The random-subspace control of a patching claim (causalab's matched-size random subspace; Makelov
et al. 2024 on subspace patching).

Each null draw patches the claimed component (same site, same positions) with only part of the
counterfactual: the target run's activation plus the projection of (source - target) onto a random
k-dimensional subspace, its orthonormal basis the QR of a Gaussian drawn by the seed
(:func:`basis_seed`: seed, draw and component label). k is ``controls.random_subspace.dim``; a
patching claim names no subspace today (it patches whole components), so the default is a fixed
fraction of the site's width, :data:`DEFAULT_FRACTION`. The claimed recovery is judged against
the subspace recoveries by the null controls' one pooled test
(:func:`controls.random_component.judge_nulls`): passed when it beats them (p <= 0.05), refuted
inside their bulk, inconclusive otherwise or on a tie.

Dormant pathway: a subspace patch can move the output through a direction the whole component's
patch leaves untouched (Makelov et al. 2024: it writes into a direction the model never varies,
activating a path the component does not use). When the subspace patches recover *more* than the
whole component's patch — the same pooled test with the roles turned round: the whole patch below
the subspace null at p <= 0.05 — the outcome carries a ``dormant_pathway`` check and a reason, and
the subspace recoveries never count as support.
"""

from __future__ import annotations

import hashlib

from audit.verdict import Outcome, Verdict

NAME = "random_subspace"
DEFAULT_FRACTION = 1 / 8  # of the site's width, when neither the claim nor the control names k


def basis_seed(seed: int, draw: int, label: str) -> int:
    """The generator seed of one draw's random basis (stable across processes and machines)."""
    return int(hashlib.sha256(f"{NAME}:{seed}:{draw}:{label}".encode()).hexdigest()[:15], 16)


def site_width(comp, config) -> int:
    """The width of what a patch of ``comp`` writes: the hidden size, or one head's dimension."""
    if comp.target != "head":
        return int(config.hidden_size)
    return int(getattr(config, "head_dim", None) or config.hidden_size // config.num_attention_heads)


def dimension(lc, width: int, claimed: int | None = None) -> int:
    """k: the control's ``dim``, else the claimed subspace's dimension (``claimed``), else
    :data:`DEFAULT_FRACTION` of ``width``; a ClaimFileError (file:line) when it does not leave a
    proper subspace."""
    from audit.errors import ClaimFileError

    dim = lc.claim.controls.random_subspace.dim
    default = claimed or max(1, int(width * DEFAULT_FRACTION))
    k = dim if dim is not None else default
    if k >= width:
        raise ClaimFileError([lc.problem(("controls", NAME, "dim"), f"a {k}-dimensional subspace of a {width}-wide "
                                         "site is the whole site: the null would be the claimed patch itself",
                                         hint=f"use dim <= {width - 1} (or omit it: {default})")])
    return k


def run(ctx, label: str, comps: list, ids_by_seed: dict, observed, null_recovery, outcome: Outcome,
        claimed_dim: int | None = None):
    """The control on one claim: ``observed(seed, pid)`` (the claimed component's recovery) against
    ``null_recovery(seed, comp, n, k) -> {pid: [recovery per draw]}`` on each seed's prompts.
    Returns the combined outcome (dormant pathway flagged) and the control's record.
    ``claimed_dim``: the claim patches a claimed subspace of that dimension (the observed recovery
    is the subspace's, checked against its whole component elsewhere): k defaults to it, and the
    random subspaces doing better is a refutation, not a dormant pathway of the component."""
    from controls.random_component import judge_nulls

    comp = next((c for c in comps if c.label == label), None)
    if comp is None:
        raise ValueError(f"{NAME}: the claimed component {label} is not in the sweep")
    width = site_width(comp, getattr(ctx.loaded.config, "text_config", ctx.loaded.config))
    k, n = dimension(ctx.lc, width, claimed_dim), ctx.lc.claim.controls.random_subspace.n
    effects = {seed: null_recovery(seed, comp, n, k) for seed in ids_by_seed}
    outcome, record = judge_nulls(NAME, ids_by_seed, observed, effects, outcome)
    dormant = dormant_pathway(record, label, k) if claimed_dim is None else {"check": "dormant_pathway",
                                                                              "flagged": False, "reason": ""}
    record = {**record, "claimed": label, "dim": k, "width": width, "dormant_pathway": dormant}
    return (flag_dormant(outcome, dormant) if dormant["flagged"] else outcome), record


def dormant_pathway(record: dict, label: str, k: int) -> dict:
    """Whether the subspace patches recover more than the whole component's: the pooled test of
    :func:`audit.criteria.steering.judge_control` on the negated values (the whole patch's recovery
    below the subspace null's 5th percentile)."""
    from audit.criteria.steering import PASSED, judge_control
    from audit.inference import ALPHA

    turned = judge_control(f"{NAME} (dormant pathway)", [-x for x in record["observed_per_seed"]],
                           [[-x for x in row] for row in record["null_per_seed"]], ALPHA)
    flagged = turned["status"] == PASSED
    reason = (f"dormant pathway (Makelov et al. 2024): random {k}-dimensional subspace patches of {label} recover "
              f"more (median {record['median']:.4g}) than patching the whole component ({record['observed']:.4g}; "
              f"p = {turned['p']:.3g}): a subspace patch can activate a path the component does not use, so it is "
              "no evidence for the claim") if flagged else ""
    return {"check": "dormant_pathway", "flagged": flagged, "p": turned["p"], "whole": record["observed"],
            "subspace_median": record["median"], "reason": reason}


def claimed_subspace_check(ids: dict, in_subspace, whole, label: str, k: int) -> dict:
    """Whether a claimed ``k``-dimensional subspace's patch recovers more than its whole
    component's: the paired 95% interval over the pairs ``ids`` of subspace minus whole above 0
    flags a possible dormant pathway (Makelov et al. 2024). ``in_subspace(pid)``, ``whole(pid)``:
    recoveries."""
    from audit.inference import check
    from controls.negative_position import paired_contrast

    pooled, row, _, why = paired_contrast(ids, in_subspace, whole, f"{label} (claimed subspace)", label)
    flagged = row is not None and check("dormant_pathway", row["low"], row["high"], 0.0)["status"] == "supported"
    reason = (f"dormant pathway (Makelov et al. 2024): the claimed {k}-dimensional subspace of {label} recovers "
              f"{pooled[0]:.4g}, more than patching the whole component ({pooled[1]:.4g}; difference 95% CI "
              f"[{row['low']:.4g}, {row['high']:.4g}] over pairs): a subspace patch can activate a path the "
              "component does not use, so it is no evidence for the claim") if flagged else ""
    return {"check": "dormant_pathway", "flagged": flagged, "subspace": float(pooled[0]), "whole": float(pooled[1]),
            "interval": row, "degenerate": why, "reason": reason}


def flag_dormant(outcome: Outcome, dormant: dict) -> Outcome:
    """The outcome with the dormant-pathway check and its reason; never supported on its account."""
    verdict = Verdict.INCONCLUSIVE if outcome.verdict is Verdict.SUPPORTED else outcome.verdict
    summary = {**outcome.summary, "dormant_pathway": dormant}
    if verdict is not outcome.verdict:
        summary["strong"] = False
    return Outcome(verdict, [dormant["reason"], *outcome.reasons], summary)
