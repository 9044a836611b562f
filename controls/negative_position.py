"""The negative-position control of a patching claim (causalab's "patch where the variable cannot
live"): the claimed component patched the same way at a position the claim says carries nothing
(``controls.negative_position.position``, default the first token).

Judged on the pairs the claim was judged on, paired: a simultaneous 95% interval over prompts
(:func:`audit.inference.simultaneous_ci`) of claimed-position recovery minus null-position
recovery, decided by the shared rule (:func:`audit.inference.check`): passed when the whole
interval is above 0; refuted when it is below 0 (the null position recovers *more*: positive
evidence the information is not where the claim puts it); inconclusive otherwise, and on a tie
(both positions recover identically on every pair) or degenerate values. The claim's outcome is
combined as every null control's (:func:`controls.random_component.combine`).
"""

from __future__ import annotations

from dataclasses import replace

from audit.verdict import Outcome

NAME = "negative_position"
_SAME = {"answer": "last"}  # the answer position is the prompt's last token


def claimed_position(label: str):
    """The position a component label names (``L2.mlp@last`` -> ``last``; none: ``all``)."""
    base, at, where = label.rpartition("@")
    if not at:
        return "all"
    try:
        return int(where)
    except ValueError:
        return where


def claim_problems(lc, position) -> list[tuple[tuple, str, str]]:
    """The claimed component must sit at one position, and the null position must be another."""
    label = lc.claim.acceptance.component
    claimed = claimed_position(label)
    if claimed == "all":
        return [(("acceptance", "component"), f"{NAME} contrasts the claimed position with one that carries nothing, "
                 f"but {label} patches every position", f"claim one position, e.g. {label}@last (positions: [last])")]
    if _SAME.get(str(position), position) == _SAME.get(str(claimed), claimed):
        return [(("controls", NAME, "position"), f"the null position '{position}' is the claimed component's own "
                 f"position ({label})", "name a position the claim says carries nothing, e.g. first")]
    return []


def run(ctx, label: str, comps: list, ids: dict, recovery_at, null_recovery, outcome: Outcome):
    """The combined outcome and the control's record. ``ids``: the judged pairs ``{seed: {family:
    [pair id]}}``; ``recovery_at(pid)``: the claimed component's recovery on a pair;
    ``null_recovery(comp) -> {pid: recovery}``: the same patch of ``comp`` (at the null position)."""
    from audit.criteria.steering import INCONCLUSIVE, PASSED, REFUTED
    from audit.inference import check
    from controls.random_component import combine

    comp = next((c for c in comps if c.label == label), None)
    if comp is None:
        raise ValueError(f"{NAME}: the claimed component {label} is not in the sweep")
    null = replace(comp, position=ctx.lc.claim.controls.negative_position.position)
    at_null = null_recovery(null)
    pooled, row, iv, why = paired_contrast(ids, recovery_at, at_null.__getitem__, label, null.label)
    record = {"control": NAME, "claimed": label, "null_component": null.label, "observed": float(pooled[0]),
              "null": float(pooled[1]), "strong": False}
    if row is None:
        record.update(status=INCONCLUSIVE, reason=f"{NAME}: cannot tell {label} from {null.label}: "
                                                  f"{why or 'the two positions recover identically on every pair (a tie)'}")
        return combine(outcome, record, NAME), record
    decided = check(NAME, row["low"], row["high"], 0.0, what=f"{label} recovery minus {null.label}'s")
    status = {"supported": PASSED, "refuted": REFUTED}.get(decided["status"], INCONCLUSIVE)
    said = {PASSED: "the claimed position recovers more", REFUTED: "the null position recovers more: the "
            "information is not only where the claim puts it", INCONCLUSIVE: "the interval contains 0: the null "
            "position may carry as much"}[status]
    record.update(status=status, strong=decided["strong"], intervals=[row], inference=iv.describe(),
                  reason=f"{NAME}: {label} recovers {pooled[0]:.4g}, the same patch at {null.position} "
                         f"{pooled[1]:.4g}; difference {row['estimate']:.4g}, 95% CI [{row['low']:.4g}, "
                         f"{row['high']:.4g}] over pairs: {said}")
    return combine(outcome, record, NAME), record


def paired_contrast(ids: dict, first, second, first_label: str, second_label: str):
    """``(pooled [first, second], interval row or None, interval, why)``: the simultaneous 95%
    interval over the pairs ``ids`` (``{seed: {family: [pair id]}}``) of ``first(pid) -
    second(pid)``; no row when the values are degenerate (``why``) or the contrast is undefined (a tie)."""
    from audit.inference import PromptTable, degenerate, pairwise_contrasts, simultaneous_ci

    pids = {pid for fams in ids.values() for f in fams.values() for pid in f}
    table = PromptTable.from_samples({pid: [first(pid), second(pid)] for pid in pids}, ids, [first_label, second_label])
    pooled = table.estimate()
    gate = degenerate(table.values)
    iv = None if gate else simultaneous_ci(table, pairwise_contrasts(2, [(0, 1)]), [f"{first_label} - {second_label}"])
    row = iv.row(0) if iv is not None and iv.row(0)["defined"] else None
    return pooled, row, iv, "; ".join(gate)
