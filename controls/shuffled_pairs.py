"""The shuffled-label control of a patching claim: re-paired sources (causalab's and Makelov et
al.'s point that a patch can move the output for reasons other than the variable it claims).

Each target pair's patch takes the claimed component's activation from *another* pair's source
run (a derangement within the family, drawn per seed and draw by
``random.Random("shuffled_pairs:<seed>:<draw>:<family>")``), its recovery measured against the
target's own clean / corrupt logit difference. A component that carries the pair's own
counterfactual difference recovers far less from someone else's run: recovery must collapse. The
pooled test is the other controls' (:func:`audit.criteria.steering.judge_control`): passed when the
real pairing beats the re-paired null (p <= 0.05), refuted inside the null's bulk, inconclusive
otherwise — and on a tie (pairs that cannot be told apart: every re-pairing gives the same patch).
"""

from __future__ import annotations

import random

NAME = "shuffled_label"


def derangement(ids: list[str], rng: random.Random) -> dict[str, str]:
    """``{id: donor}``, no id its own donor (uniform over derangements, by rejection)."""
    while True:
        donors = ids[:]
        rng.shuffle(donors)
        if all(a != b for a, b in zip(ids, donors)):
            return dict(zip(ids, donors))


def draws(seed: int, ids_by_family: dict[str, list[str]], n: int) -> list[dict[str, str]]:
    return [{k: v for fam, ids in sorted(ids_by_family.items())
             for k, v in derangement(ids, random.Random(f"shuffled_pairs:{seed}:{d}:{fam}")).items()}
            for d in range(n)]


def run(ctx, spec, comps, encoded: dict, ids: dict, recovery: dict, units: dict, outcome):
    """The combined outcome and the control's record. ``encoded``: ``{pair id: (clean, corrupt)}``;
    ``ids``: the judged pairs ``{seed: {family: [pair id]}}``; ``recovery``: per pair and component;
    ``units``: per pair its clean and corrupt logit differences."""
    from audit.cache import unit_key
    from audit.criteria.steering import INCONCLUSIVE
    from audit.units import Task, run_tasks
    from controls.random_component import combine, judge_nulls
    from interventions.patching import normalized

    claim = ctx.lc.claim
    label, n = claim.acceptance.component, claim.controls.shuffled_label.n
    index = [c.label for c in comps].index(label)
    small = sorted({f"{f} (seed {s}: {len(p)})" for s, fams in ids.items() for f, p in fams.items() if len(p) < 2})
    if small:
        result = {"control": NAME, "status": INCONCLUSIVE, "strong": False,
                  "reason": f"{NAME}: re-pairing needs >= 2 informative pairs per family; {', '.join(small)}"}
        return combine(outcome, result, NAME), result
    spec_json = spec.model_dump(mode="json", exclude={"why", "min_gap"})
    plans, tasks = {}, []
    for seed, fams in ids.items():
        pairs = {pid: encoded[pid] for f in fams.values() for pid in f}
        plans[seed] = draws(int(seed), fams, n)
        key = unit_key(kind="patch_shuffled_pairs", model=ctx.loaded.weights_sha256, dtype=ctx.loaded.dtype,
                       spec=spec_json, component=label, draws=plans[seed],
                       pairs={p: (c.ids, c.target, k.ids, k.target) for p, (c, k) in sorted(pairs.items())})
        tasks.append(Task("patching.shuffled_pairs", {"spec": spec, "comp": comps[index], "pairs": pairs,
                                                      "draws": plans[seed], "key": key}, (key,),
                          f"{label} from re-paired sources, seed {seed}"))
    values, _ = run_tasks(ctx, tasks)
    clean_corrupt = {pid: (u["clean"], u["corrupt"]) for pid, u in units.items()}
    judged = {seed: [pid for f in fams.values() for pid in f] for seed, fams in ids.items()}
    effects = {seed: {pid: [normalized(spec.direction, *clean_corrupt[pid], patched[pid])
                            for patched in values[task.keys[0]]] for pid in judged[seed]}
               for seed, task in zip(ids, tasks)}
    outcome, record = judge_nulls(NAME, judged, lambda seed, pid: recovery[pid][index], effects, outcome)
    return outcome, {**record, "claimed": label}
