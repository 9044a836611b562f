"""The shuffled-label control of an ablation claim: the claimed component's effect on each prompt's
own answer against its effect on answers that belong to other prompts of the same family.

A component that carries the prompt-to-answer mapping raises the NLL of the prompt's own answer
more than that of another prompt's answer; one whose removal hurts every answer alike (a format
or "answer-ish token" component, a generic damage) raises both the same, and the claim that it
matters *for the task* has no support beyond "it matters". Each draw re-pairs every prompt with
the answer of another prompt of its family, drawn uniformly and independently per prompt
(``random.Random("shuffled_label:answers:<seed>:<draw>:<prompt id>")``). The null's answers are
thus the family's own answers, each prompt's drawn from the others: for a component that favours
some answer tokens over others whatever the prompt, the null's mean equals the real pairing's
exactly (leave-one-out), and the real pairing sits in the middle of the null, so such a component
is refuted, not passed. (A derangement would be an exact permutation test, but then a real
pairing that carries nothing is uniformly ranked in its null and refuted only three times in
four.) The statistic is the NLL increase of the re-paired answer's first token under the same
ablation, averaged over the seed's prompts; the pooled test is the other null controls'
(:func:`controls.random_component.judge_nulls`): passed when the own answers beat the re-paired
null (p <= 0.05), refuted inside its bulk, inconclusive otherwise. A family of one prompt cannot
be re-paired and takes no part; a seed whose families each have a single answer token leaves
nothing to compare (inconclusive).

The claimed part is one component of an ablation sweep or the claimed layer of a layer sweep (a
``hub`` acceptance). Only metrics that read the answer can be re-paired (``nll_increase``); the
claim schema refuses the control on others (KL of the whole next-token distribution does not
depend on the answer).
"""

from __future__ import annotations

import random

NAME = "shuffled_label"
READS_THE_ANSWER = frozenset({"nll_increase"})


class TakesRepairedAnswers:
    """Mixin of the intervention specs that take this control: the claim-file check of the metric."""

    def claim_problems(self, lc) -> list[tuple[tuple, str, str]]:
        return claim_problems(lc)


def claim_problems(lc) -> list[tuple[tuple, str, str]]:
    """A claim with this control whose metric the re-pairing cannot change (the kinds that take
    the control call this from their spec's ``claim_problems``)."""
    metric = lc.claim.metric.kind
    if lc.claim.controls.shuffled_label is None or metric in READS_THE_ANSWER:
        return []
    return [(("controls", NAME), f"shuffled_label re-pairs answers, and metric '{metric}' does not read the answer",
             f"use metric kind {' or '.join(sorted(READS_THE_ANSWER))} with this control, or drop it")]


def draws(seed: int, ids_by_family: dict[str, list[str]], n: int) -> list[dict[str, str]]:
    """``n`` re-pairings ``{prompt id: donor prompt id}``: each prompt of a family of two or more
    takes another prompt of its family, uniformly."""
    return [{pid: random.Random(f"{NAME}:answers:{seed}:{d}:{pid}").choice([q for q in ids if q != pid])
             for ids in ids_by_family.values() if len(ids) > 1 for pid in sorted(ids)} for d in range(n)]


def run(ctx, label: str, encoded_by_seed: dict, samples: dict, observed, effects_at, outcome):
    """The combined outcome and the control's record. ``label``: the claimed component (or layer);
    ``encoded_by_seed``: each seed's encoded prompts; ``observed(seed, pid)``: its effect on the
    prompt's own answer; ``effects_at(candidates)``: its NLL increase at each prompt's candidate
    tokens, ``{seed: {pid: [token id]}}`` -> ``{seed: {pid: [value]}}``."""
    from audit.criteria.steering import INCONCLUSIVE
    from controls.random_component import combine, judge_nulls

    n = ctx.lc.claim.controls.shuffled_label.n
    target = {e.id: e.target for encoded in encoded_by_seed.values() for e in encoded}
    plans, candidates, ids, nothing = {}, {}, {}, []
    for seed in encoded_by_seed:
        by_family = {f: [p.id for p in ps] for f, ps in samples[seed].items()}
        plans[seed] = draws(seed, by_family, n)
        # the family's answer tokens: one forward scores all of them
        candidates[seed] = {pid: sorted({target[q] for q in fam}) for fam in by_family.values() for pid in fam}
        ids[seed] = sorted(pid for fam in by_family.values() if len(fam) > 1 for pid in fam)
        if all(len({target[q] for q in fam}) < 2 for fam in by_family.values()):
            nothing.append(str(seed))
    if nothing:
        result = {"control": NAME, "status": INCONCLUSIVE, "strong": False, "claimed": label,
                  "reason": f"{NAME}: in seed {', '.join(nothing)} every family has one prompt or answers that all "
                            f"start with the same token: re-pairing them changes nothing (a tie)"}
        return combine(outcome, result, NAME), result
    values = effects_at(candidates)
    effects = {seed: {pid: [values[seed][pid][candidates[seed][pid].index(target[plan[pid]])] for plan in plans[seed]]
                      for pid in ids[seed]} for seed in ids}
    outcome, record = judge_nulls(NAME, ids, observed, effects, outcome)
    excluded = sum(len(encoded_by_seed[s]) - len(ids[s]) for s in ids)
    return outcome, {**record, "claimed": label, "re_paired": "answers", "prompts_without_donor": excluded}
