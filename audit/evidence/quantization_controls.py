"""The controls of the quantization kinds, reported beside the verdict (never turning it):

- ``quantization`` + ``random_vector``: each quantized mode's KL to the float32 reference against
  float32 models whose decoder weights carry random noise of the mode's error norms, row by row
  (controls/weight_noise.py); ``n`` draws per mode shared by the seeds (the error is one fixed draw
  of the quantizer, the same in every seed), each a cached unit, planned in chunks;
- ``quantization`` + ``shuffled_label``: each mode's exact match against its re-paired floor — its
  greedy answers scored against the answer of another prompt of the family (donors drawn as in
  controls/repaired_answers.py; no model work beyond the quality pass, which keeps the answers);
- ``quantization_drift`` + ``shuffled_label``: each mode's Spearman with the reference's sweep
  against shuffled layer labels (controls/shuffled_layers.py; pure, no model work).
"""

from __future__ import annotations

from audit.cache import unit_key
from audit.evidence.deployment import seed_table
from controls.weight_noise import NAME as NOISE

CHUNK = 16  # draws per task: one mode's error norms and reference scores serve them
NOISE_WORDS = {"more": "hurts more than random weight noise of the same norm",
               "less": "hurts less than random weight noise of the same norm",
               "within": "hurts like random weight noise of the same norm"}


def noise_label(mode: str, seeds: list[int]) -> str:
    return f"{mode}:seeds={','.join(map(str, seeds))}"


def plan_noise(ctx, mode: str, n: int, key: dict, args: dict, op: str = "quantization.weight_noise",
               chunk: int = CHUNK, steps: int = 1) -> tuple[list, list[str]]:
    """One mode's tasks of ``op`` (``args`` plus the mode, draws, label and keys; ``chunk`` draws
    each, ``steps`` per draw) and the unit key of each of its ``n`` draws (``key``: what else
    determines a draw's value, beside the model, mode, label, draw and quantizer)."""
    from audit.provenance import package_versions
    from audit.units import Task

    label = noise_label(mode, ctx.lc.claim.controls.seeds)
    quantizer = package_versions().get("bitsandbytes") if mode in ("int8", "nf4") else mode
    keys = [unit_key(model=ctx.loaded.weights_sha256, mode=mode, label=label, draw=d, quantizer=quantizer, **key)
            for d in range(n)]
    tasks = [Task(op, {**args, "mode": mode, "draws": list(c), "label": label, "keys": [keys[d] for d in c]},
                  tuple(keys[d] for d in c), f"{NOISE} of {mode}: draws {c[0]}-{c[-1]}", steps * len(c))
             for c in (range(s, min(s + chunk, n)) for s in range(0, n, chunk))]
    return tasks, keys


def noise_record(mode: str, observed: list[float], nulls: list[list[float]], error_norm: float) -> dict:
    """Both tails of the pooled test (:func:`audit.criteria.steering.judge_control`, each at half
    of alpha): more harmful than the noise, less harmful, or within it. Zero error is degenerate."""
    from audit.inference import INCONCLUSIVE
    from controls.weight_noise import two_sided

    upper, lower, tail = two_sided(NOISE, observed, nulls)
    record = {**upper, "mode": mode, "error_norm": error_norm, "p_more": upper["p"], "p_less": lower["p"],
              "null_per_seed": nulls}
    where = (f"{mode}: KL {upper['observed']:.4g} vs same-norm random weight noise (median {upper['median']:.4g}, "
             f"range {upper['null_min']:.4g}–{upper['null_max']:.4g}, {upper['n_draws']} draws x {upper['n_seeds']} "
             f"seeds), p(more) = {upper['p']:.3g}, p(less) = {lower['p']:.3g}")
    if error_norm == 0:
        why = f"{mode}'s weights equal float32's (zero error): its null is the reference itself (KL 0)"
        return {**record, "status": INCONCLUSIVE, "degenerate": True, "meaning": f"degenerate: {why}",
                "reason": f"{NOISE} {mode}: degenerate: {why}"}
    if tail is None:  # too few draws; a tie
        return {**record, "status": INCONCLUSIVE, "meaning": "inconclusive", "reason": upper["reason"]}
    return {**record, "status": tail, "meaning": NOISE_WORDS[tail], "reason": f"{NOISE} {where}"}


def weight_noise(ctx, order: list[str], modes: dict, samples: dict, pairs: dict) -> dict:
    """``{mode: record}`` of every mode but the float32 reference (``order[0]``)."""
    from audit.units import run_tasks

    claim = ctx.lc.claim
    seeds, families, n = claim.controls.seeds, ctx.lc.families(), claim.controls.random_vector.n
    planned = {m: plan_noise(ctx, m, n, dict(kind="quant_weight_noise", prompts=pairs), {"pairs": pairs})
               for m in order[1:]}
    values, _ = run_tasks(ctx, [t for tasks, _ in planned.values() for t in tasks])
    out = {}
    for mode, (_, keys) in planned.items():
        draws = [values[k] for k in keys]
        per_prompt = {pid: {f"d{d}": draws[d]["kl"][pid] for d in range(n)} for pid in pairs}
        table = seed_table(per_prompt, samples, seeds, families)  # the mode's own KL is averaged the same way
        nulls = [[row[f"d{d}"] for d in range(n)] for row in table]
        observed = [row["kl"] for row in modes[mode]["seeds"]]
        out[mode] = noise_record(mode, observed, nulls, draws[0]["error_norm"])
    return out


MATCH_WORDS = {"passed": "answers its own prompts above the re-paired floor",
               "refuted": "no better than answering another prompt of the family",
               "inconclusive": "not shown above the re-paired floor"}


def repaired_match(ctx, order: list[str], measured: dict, samples: dict, pairs: dict) -> dict:
    """``{mode: record}``: each mode's exact match on its own prompts against the same greedy answers
    scored against donors' reference answers (``measured[mode]["texts"]``), one pooled test."""
    from audit.criteria.steering import INCONCLUSIVE
    from controls.random_component import pooled_test
    from controls.repaired_answers import NAME, draws

    tok, n = ctx.loaded.tokenizer, ctx.lc.claim.controls.shuffled_label.n
    answers = {pid: tok.decode(pairs[pid][1], skip_special_tokens=True).strip() for pid in pairs}
    plans, ids = {}, {}
    for seed, fams in samples.items():
        by_family = {f: [p.id for p in ps] for f, ps in fams.items()}
        plans[seed] = draws(seed, by_family, n)
        ids[seed] = sorted(pid for fam in by_family.values() if len(fam) > 1 for pid in fam)
    excluded = sum(len({p.id for ps in fams.values() for p in ps}) - len(ids[s]) for s, fams in samples.items())
    if not all(ids.values()):
        why = "a seed whose families each have one prompt: no donor to re-pair with"
        return {m: {"control": NAME, "status": INCONCLUSIVE, "undefined": True, "strong": False, "meaning": why,
                    "reason": f"{NAME} {m}: undefined: {why}"} for m in order}
    out = {}
    for mode in order:
        texts, own = measured[mode]["texts"], measured[mode]["per_prompt"]
        effects = {seed: {pid: [float(texts[pid].startswith(answers[plan[pid]])) for plan in plans[seed]]
                          for pid in ids[seed]} for seed in ids}
        record = pooled_test(NAME, ids, lambda s, pid, own=own: own[pid]["exact_match"], effects)
        out[mode] = {**record, "mode": mode, "re_paired": "answers", "prompts_without_donor": excluded,
                     "meaning": MATCH_WORDS.get(record["status"], record["status"])}
    return out


def drift_layers(evidence: dict, n: int) -> dict:
    """``{mode: record}`` of the drift claim's shuffled layer labels."""
    from controls.shuffled_layers import run

    return run(evidence["per_seed_layer_effects"], evidence["reference"], evidence["modes"], evidence["seeds"], n)


def notes(records: dict) -> list[str]:
    """One reason line per mode for the outcome."""
    return [f"{r['control']} (reported, not judged) {mode}: {r['meaning']} — {r['reason']}"
            for mode, r in records.items()]
