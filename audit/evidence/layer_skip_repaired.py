"""The shuffled-label control of a layer-skip claim: the reference re-paired.

The skip metrics compare the skipped model with the unmodified one on the same prompt. The null
pairs each prompt's skipped-model output with the unmodified model's output on *another* prompt of
its family (the donor drawn uniformly among the family's other prompts, per seed and draw, exactly
as re-paired answers draw theirs: :func:`controls.repaired_answers.draws`): the top-5 overlap and
greedy agreement that unrelated text of the family reaches. Per config, the real overlap against
that floor in one pooled test (:func:`controls.random_component.pooled_test`; greedy agreement is
tested beside it), reported beside the verdict and never turning it, like the random layer sets
(layer_skip_random.py). No new forwards: the skipped model's continuation and teacher-forced top-5
path come with its quality pass (op ``layer_skip.config`` with ``outputs``). A family of one
prompt has no donor and takes no part; a seed without any donor leaves the control undefined
(inconclusive, never a finding).
"""

from __future__ import annotations

from controls.random_component import pooled_test
from controls.repaired_answers import draws

NAME = "shuffled_label"
METRICS = ("top5_overlap", "greedy_agreement")
OUTPUTS = ("continuation", "topk")  # what the op adds per prompt when asked for the skipped model's outputs
STATUS_WORDS = {"passed": "keeps more of its own prompt's output than another prompt's output shares",
                "refuted": "at the re-paired floor: no closer to its own prompt's output than to another prompt's",
                "inconclusive": "not shown above the re-paired floor"}


def wanted(ctx) -> bool:
    return ctx.lc.claim.controls.shuffled_label is not None


def split(per_prompt: dict) -> tuple[dict, dict]:
    """A config's op result as (the metrics the evidence stores, the skipped model's outputs)."""
    metrics = {pid: {k: v for k, v in m.items() if k not in OUTPUTS} for pid, m in per_prompt.items()}
    outputs = {pid: {k: m[k] for k in OUTPUTS} for pid, m in per_prompt.items() if all(k in m for k in OUTPUTS)}
    return metrics, outputs


def overlap(reference: list[list[int]], other: list[list[int]]) -> float:
    """Mean share of the reference's top-k ids the other path has, over the positions both have."""
    n = min(len(reference), len(other))
    if n == 0:
        raise ValueError(f"{NAME}: an empty continuation has no top-5 path to compare")
    return sum(len(set(x) & set(y)) / len(x) for x, y in zip(reference[:n], other[:n])) / n


def repaired(own: dict, donor: dict) -> dict:
    """The skip metrics of a skipped model's output (``own``: its continuation and top-5 path
    along its prompt's reference continuation) against the unmodified model's on a donor prompt."""
    return {"top5_overlap": overlap(donor["topk"], own["topk"]),
            "greedy_agreement": float(own["continuation"] == donor["continuation"])}


def record(name: str, samples: dict, per_prompt: dict, outputs: dict, base: dict, n: int) -> dict:
    """One config's control: ``per_prompt[pid]`` its metrics, ``outputs[pid]`` the skipped model's
    outputs, ``base[pid]`` the unmodified model's (``continuation``, ``topk``)."""
    from audit.criteria.steering import INCONCLUSIVE

    plans, ids = {}, {}
    for seed, fams in samples.items():
        by_family = {f: [p.id for p in ps] for f, ps in fams.items()}
        plans[seed] = draws(seed, by_family, n)
        ids[seed] = sorted(pid for fam in by_family.values() if len(fam) > 1 for pid in fam)
    n_prompts = sum(len({p.id for ps in fams.values() for p in ps}) for fams in samples.values())
    excluded = n_prompts - sum(len(v) for v in ids.values())
    lonely = [str(s) for s, v in ids.items() if not v]
    if lonely:
        return {"control": NAME, "status": INCONCLUSIVE, "strong": False, "undefined": True, "claimed": name,
                "prompts_without_donor": excluded, "meaning": "undefined: no prompt has a donor",
                "reason": f"{NAME}: in seed {', '.join(lonely)} every family has one prompt: no other prompt's "
                          f"output to re-pair with (undefined, not a finding)"}
    null = {seed: {pid: [repaired(outputs[pid], base[plan[pid]]) for plan in plans[seed]] for pid in v}
            for seed, v in ids.items()}
    tests = {m: pooled_test(NAME, ids, lambda s, pid, m=m: per_prompt[pid][m],
                            {s: {pid: [d[m] for d in per_draw] for pid, per_draw in by_pid.items()}
                             for s, by_pid in null.items()}) for m in METRICS}
    top, agree = tests["top5_overlap"], tests["greedy_agreement"]
    return {**top, "claimed": name, "metric": "top5_overlap", "re_paired": "reference",
            "prompts_without_donor": excluded, "meaning": STATUS_WORDS.get(top["status"], top["status"]),
            "agreement": {k: agree[k] for k in ("observed", "median", "null_min", "null_max", "p", "status", "reason",
                                                "n_draws", "n_seeds")}}


def run(ctx, rows: list[dict], samples: dict, outputs: dict, base: dict) -> dict:
    """``{config name: the control's record}`` (empty when the claim has no shuffled_label);
    ``outputs[config name]``: that config's :func:`split` outputs."""
    if not wanted(ctx):
        return {}
    n = ctx.lc.claim.controls.shuffled_label.n
    return {row["name"]: record(row["name"], samples, row["per_prompt"], outputs[row["name"]], base, n) for row in rows}

