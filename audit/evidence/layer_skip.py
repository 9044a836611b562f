"""Evidence for ``layer_skip``: each skip config against the unmodified model, on the same prompts.

Per prompt: greedy continuation of both models (exact agreement and the agreeing prefix), top-5
next-token overlap along the unmodified model's continuation (teacher forced), and the NLL
increase of the reference answer. Per config: tokens/s ratios of repeated, interleaved generation
runs against the unmodified model in this process (never absolute tokens/s thresholds), and its
compute ratio (layers / kept layers), the most a real speedup could be. The hardware is recorded.
Controls, reported beside the verdict: random layer sets (layer_skip_random.py) and the reference
re-paired (layer_skip_repaired.py).
"""

from __future__ import annotations

from dataclasses import replace

from audit.evidence import layer_skip_random, layer_skip_repaired
from audit.evidence.base import EvidenceResult, RunContext, evidence_for
from audit.criteria.base import judge
from audit.criteria.deployment import compute_ratio
from audit.evidence.deployment import dependency, hardware, sample_pairs, seed_table, speedups
from audit.stats import mean, median


def resolve_skips(ctx: RunContext, spec) -> tuple[list[tuple[str, list[int]]], list[dict]]:
    """(label, layers) per config; ``least_important`` configs read another claim's sweep."""
    from interventions.layer_skip import least_important

    out, deps = [], []
    for c in spec.configs:
        layers = c.explicit()
        if layers is None:
            rec, dep = dependency(ctx, c.least_important.claim, "layer_sweep")
            pooled = rec["summary"].get("pooled")
            if not pooled:
                raise ValueError(f"{dep['claim_id']} has no pooled layer effects to rank")
            layers = least_important(pooled, rec["evidence"]["layers"], c.least_important.k)
            deps.append({**dep, "skipped": layers})
        out.append((c.label(), layers))
    return out, deps


@evidence_for("layer_skip")
def layer_skip(ctx: RunContext) -> EvidenceResult:
    from audit.units import Task, run_one, run_tasks

    claim, spec = ctx.lc.claim, ctx.lc.claim.intervention
    seeds, families = claim.controls.seeds, ctx.lc.families()
    samples, pairs = sample_pairs(ctx)
    configs, deps = resolve_skips(ctx, spec)
    ctx.progress.start(len(configs) + 2, f"{claim.id}: {len(pairs)} prompts x {len(configs)} skip configs")
    base = run_one(ctx, Task("layer_skip.base", {"pairs": pairs, "max_new_tokens": spec.max_new_tokens},
                             label=f"unmodified model on {len(pairs)} prompts"))
    keep = layer_skip_repaired.wanted(ctx)  # the skipped models' own outputs, for the re-paired reference
    per_config = [layer_skip_repaired.split(m) for m in run_tasks(ctx, [Task(
        "layer_skip.config", {"pairs": pairs, "base": base, "skip": skip, "spec": spec, "outputs": keep},
        label=f"skip {label}") for label, skip in configs])[1]]
    rows = [{"name": label, "skipped": skip, "n_skipped": len(skip), "compute_ratio": compute_ratio(ctx.n_layers, len(skip)),
             "seeds": seed_table(metrics, samples, seeds, families), "per_prompt": metrics}
            for (label, skip), (metrics, _) in zip(configs, per_config)]
    times, protocol = run_one(ctx, Task("layer_skip.timing", {"configs": dict(configs), "pairs": pairs, "spec": spec},
                                        label="side-by-side timing"))
    for row in rows:
        row["speedups"] = speedups(times, "unmodified", row["name"])
        row["median_speedup"] = median(row["speedups"])
    ids = {str(s): {f: [p.id for p in ps] for f, ps in fam.items()} for s, fam in samples.items()}
    evidence = {"kind": "layer_skip", "configs": rows, "families": families, "seeds": seeds,
                "max_new_tokens": spec.max_new_tokens, "speed": protocol, "dependencies": deps, "samples": ids,
                "n_prompts": len(pairs), "n_layers": ctx.n_layers, "hardware": hardware(),
                "base": {"mean_answer_nll": mean(b["answer_nll"] for b in base.values()),
                         "mean_continuation_tokens": mean(len(b["continuation"]) for b in base.values())}}
    outputs = {row["name"]: out for row, (_, out) in zip(rows, per_config)}
    ran = {layer_skip_random.NAME: layer_skip_random.run(ctx, rows, samples, pairs, base, spec),
           layer_skip_repaired.NAME: layer_skip_repaired.run(ctx, rows, samples, outputs, base)}
    nulls = {name: records for name, records in ran.items() if records}
    if nulls:
        evidence["controls"] = nulls
    outcome = judge(claim, evidence)
    if nulls:  # reported beside the verdict, never turning it (controls/random_component.py)
        outcome = replace(outcome, reasons=[*outcome.reasons, *(line for name, records in nulls.items()
                                                                for line in layer_skip_random.note(records, name))])
    # deleting layers builds the skipped model; the comparison with the unmodified one is a layer ablation
    return EvidenceResult(outcome, evidence, kinds={"ablation"},
                          controls_run={"seeds"} | set(nulls),
                          strong=bool(outcome.summary.get("strong")))
