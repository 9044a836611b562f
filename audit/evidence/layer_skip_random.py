"""The random-component control of a layer-skip claim (controls/random_component.py): per config
and seed, random sets of as many layers as the config skips, each skipped the same way on the
seed's prompts; the config's top-5 overlap with the unmodified model against theirs, one pooled
test per config. Reported beside the verdict (never turning it); one cached unit per config and
seed, so a killed run resumes and Ray spreads them."""

from __future__ import annotations

from audit.cache import unit_key
from controls.random_component import NAME, draw_layer_sets, pooled_test

METRIC = "top5_overlap"
STATUS_WORDS = {"passed": "the chosen layers keep more than random ones",
                "refuted": "no better than random layers of the same size",
                "inconclusive": "not shown better than random layers"}


def plan(ctx, rows: list[dict], samples: dict, pairs: dict, base: dict, spec) -> list:
    """``[(row, {seed: (prompt ids, drawn sets, unit key)})]`` of every config."""
    n = ctx.lc.claim.controls.random_component.n
    out = []
    for row in rows:
        per_seed = {}
        for seed, fams in samples.items():
            ids = sorted({p.id for ps in fams.values() for p in ps})
            sets = draw_layer_sets(row["skipped"], ctx.n_layers, seed, n, row["name"])
            key = unit_key(kind="skip_random_sets", model=ctx.loaded.weights_sha256, dtype=ctx.loaded.dtype,
                           seed=seed, sets=sets, prompts={i: pairs[i] for i in ids},
                           max_new_tokens=spec.max_new_tokens, base={i: base[i]["continuation"] for i in ids})
            per_seed[seed] = (ids, sets, key)
        out.append((row, per_seed))
    return out


def run(ctx, rows: list[dict], samples: dict, pairs: dict, base: dict, spec) -> dict:
    """``{config name: the control's record}`` (empty when the claim has no random_component)."""
    from audit.units import Task, run_tasks

    if ctx.lc.claim.controls.random_component is None or not rows:
        return {}
    planned = plan(ctx, rows, samples, pairs, base, spec)
    tasks = [Task("layer_skip.random_sets", {"pairs": {i: pairs[i] for i in ids}, "base": {i: base[i] for i in ids},
                                             "sets": sets, "spec": spec, "key": key}, (key,),
                  f"random_component of skip {row['name']}, seed {seed} ({len(sets)} sets)")
             for row, per_seed in planned for seed, (ids, sets, key) in per_seed.items()]
    values, _ = run_tasks(ctx, tasks)
    out = {}
    for row, per_seed in planned:
        ids_by_seed = {seed: ids for seed, (ids, _, _) in per_seed.items()}
        effects = {seed: values[key] for seed, (_, _, key) in per_seed.items()}
        record = pooled_test(NAME, ids_by_seed, lambda s, pid, row=row: row["per_prompt"][pid][METRIC], effects)
        out[row["name"]] = {**record, "claimed": row["name"], "metric": METRIC, "n_layers_skipped": row["n_skipped"],
                            "draws": {str(s): sets for s, (_, sets, _) in per_seed.items()},
                            "meaning": STATUS_WORDS.get(record["status"], record["status"])}
    return out


def note(records: dict, control: str = NAME) -> list[str]:
    """One reason line per config for the outcome (of this control, or another report-only one)."""
    return [f"{control} (reported, not judged) skip {name}: {r['meaning']} — {r['reason']}" for name, r in records.items()]
