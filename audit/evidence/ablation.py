"""Evidence for ``kind: ablation``: a component sweep (component x family x seed effect table).

Each seed samples its own prompts; mean and resample ablations take their activations from the
seed's own sample, so seeds replicate the whole pipeline. Per-prompt results are cached by
content hash (model, dtype, spec, seed sample, exact token ids).
"""

from __future__ import annotations

from audit.criteria.hub import is_strong, per_seed_pooled
from audit.evidence.base import EvidenceResult, RunContext, evidence_for
from audit.inference import PromptTable, rounded
from audit.memory import peak_rss_mb
from audit.stats import mean
from controls.seeds import replication_summary, sample_prompts


def component_effects(ctx: RunContext, spec, comps, encoded_by_seed, samples, drawn: bool = False,
                      candidates: dict | None = None) -> dict:
    """``{seed: {prompt_id: {metric: [per component]}}}``: per prompt a cached unit, the missing
    ones computed in ``ablation.batch`` tasks. ``drawn``: the components are not the spec's own (a
    control's random draw): their labels join the unit key. ``candidates`` (``{seed: {prompt_id:
    [token id]}}``, one component): instead, each prompt's NLL increase at those other answer
    tokens (``ablation.repaired``; the shuffled-label control)."""
    from audit.cache import unit_key
    from audit.encoding import batches
    from audit.units import Task, run_batched

    spec_json = spec.model_dump(mode="json", exclude={"why"})
    tok, size = ctx.loaded.tokenizer, ctx.options.batch_size
    out = {}
    total = sum(len(v) for v in encoded_by_seed.values())
    ctx.progress.start(max(1, total), f"{ctx.lc.claim.id}: {len(comps)} components x {total} prompt-seeds")
    for seed, encoded in encoded_by_seed.items():
        sample_ids = sorted(e.id for e in encoded) if spec.method != "zero" else None
        keys = {e.id: unit_key(kind="ablation_prompt", model=ctx.loaded.weights_sha256, dtype=ctx.loaded.dtype,
                               spec=spec_json, seed=seed if sample_ids else None, sample=sample_ids,
                               ids=e.ids, target=e.target,
                               **({"components": [c.label for c in comps]} if drawn or candidates else {}),
                               **({"candidates": candidates[seed][e.id]} if candidates else {})) for e in encoded}
        sample = None if spec.method == "zero" else {
            "key": unit_key(kind="ablation_sample", seed=seed, sample=sample_ids), "seed": seed,
            "batches": batches(tok, encoded, size),
            "families": {f: [p.id for p in ps] for f, ps in samples[seed].items()}}

        def tasks(missing: list, sample=sample, keys=keys, seed=seed) -> list[Task]:
            extra = lambda b: {"candidates": {pid: candidates[seed][pid] for pid in b.prompt_ids}} if candidates else {}
            return [Task("ablation.repaired" if candidates else "ablation.batch",
                         {"spec": spec, "comps": comps, "batch": b, "sample": sample,
                          "keys": [keys[pid] for pid in b.prompt_ids], **extra(b)},
                         tuple(keys[pid] for pid in b.prompt_ids),
                         f"{len(comps)} components on {len(b.prompt_ids)} prompts of seed {seed}", len(b.prompt_ids))
                    for b in batches(tok, missing, size)]

        by_key = run_batched(ctx, {keys[e.id]: e for e in encoded}, tasks)
        out[seed] = {pid: by_key[k] for pid, k in keys.items()}
    return out


@evidence_for("ablation")
def ablation_sweep(ctx: RunContext) -> EvidenceResult:
    from audit.encoding import encode

    claim, spec = ctx.lc.claim, ctx.lc.claim.intervention
    families, seeds = ctx.lc.families(), claim.controls.seeds
    comps = spec.components(ctx.adapter, getattr(ctx.loaded.config, "text_config", ctx.loaded.config), ctx.n_layers)
    labels = [c.label for c in comps]
    samples = sample_prompts(ctx.lc.suite, seeds, families, claim.suite.prompts_per_family)
    encoded_by_seed = {s: [encode(ctx.loaded.tokenizer, p.id, p.prompt, p.answer, claim.suite.chat_template)
                           for f in families for p in samples[s][f]] for s in seeds}
    ids = {str(s): {f: [p.id for p in ps] for f, ps in fam.items()} for s, fam in samples.items()}

    def judged(method_spec):
        units = component_effects(ctx, method_spec, comps, encoded_by_seed, samples)
        metrics = next(iter(next(iter(units.values())).values())).keys()
        # mean and resample values depend on the seed's own sample: per-prompt values are per seed
        per_prompt = {m: {str(s): {pid: rounded(u[m]) for pid, u in sorted(units[s].items())} for s in seeds}
                      for m in metrics}
        table = PromptTable.from_samples(per_prompt[claim.metric.kind], ids, labels, per_seed_values=True)
        return per_prompt, claim.acceptance.evaluate(table)

    per_prompt, outcome = judged(spec)
    metrics = per_prompt.keys()
    effects = {m: [[[mean(per_prompt[m][str(s)][p.id][i] for p in samples[s][f]) for i in range(len(comps))]
                    for f in families] for s in seeds] for m in metrics}
    per_seed = per_seed_pooled(effects[claim.metric.kind], len(labels))
    ran = {"seeds"}
    agreement, null_record = claim.controls.method_agreement, None
    if agreement is not None:  # every method judged by the criterion alone; then the null on the result
        from controls.method_agreement import combine

        outcomes = {spec.method: outcome, **{m: judged(spec.model_copy(update={"method": m}))[1]
                                             for m in agreement.methods}}
        outcome, matrix = combine(spec.method, outcomes)
        ran.add("method_agreement")
    if claim.controls.random_component is not None:
        from controls import random_component

        index, metric = {c.label: i for i, c in enumerate(comps)}, claim.metric.kind
        outcome, null_record = random_component.run(
            ctx, claim.acceptance.component, comps, {s: [e.id for e in encoded_by_seed[s]] for s in seeds},
            lambda s, pid: per_prompt[metric][str(s)][pid][index[claim.acceptance.component]],
            lambda s, null: {pid: u[metric] for pid, u in component_effects(
                ctx, spec, null, {s: encoded_by_seed[s]}, samples, drawn=True)[s].items()}, outcome)
        ran.add("random_component")
    repaired = None
    if claim.controls.shuffled_label is not None:
        from controls import repaired_answers

        index, claimed = {c.label: i for i, c in enumerate(comps)}, claim.acceptance.component
        outcome, repaired = repaired_answers.run(
            ctx, claimed, encoded_by_seed, samples,
            lambda s, pid: per_prompt[claim.metric.kind][str(s)][pid][index[claimed]],
            lambda candidates: component_effects(ctx, spec, [comps[index[claimed]]], encoded_by_seed, samples,
                                                 candidates=candidates), outcome)
        ran.add("shuffled_label")
    evidence = {
        "kind": "component_sweep", "metric": claim.metric.kind, "method": spec.method, "target": spec.target,
        "labels": labels, "families": families, "seeds": seeds, "effects": effects, "samples": ids,
        "per_prompt": per_prompt,
        "controls": {"seeds": replication_summary(per_seed, labels, seeds),
                     **({"method_agreement": matrix} if agreement is not None else {}),
                     **({"random_component": null_record} if null_record is not None else {}),
                     **({"shuffled_label": repaired} if repaired is not None else {})},
        "resources": {"peak_rss_mb": peak_rss_mb()},
    }
    return EvidenceResult(outcome, evidence, kinds={"ablation"}, controls_run=ran, strong=is_strong(outcome))
