"""Evidence for ``layer_skip``: each skip config against the unmodified model, on the same prompts.

Per prompt: greedy continuation of both models (exact agreement and the agreeing prefix), top-5
next-token overlap along the unmodified model's continuation (teacher forced), and the NLL
increase of the reference answer. Per config: tokens/s ratios of repeated, interleaved generation
runs against the unmodified model in this process (never absolute tokens/s thresholds), and its
compute ratio (layers / kept layers), the most a real speedup could be. The hardware is recorded.
"""

from __future__ import annotations

from audit.evidence.base import EvidenceResult, RunContext, evidence_for
from audit.criteria.deployment import compute_ratio
from audit.evidence.deployment import dependency, hardware, sample_pairs, seed_table, speedups, timing_protocol
from audit.inference import rounded
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


def per_prompt_metrics(model, adapter, tok, pairs: dict, base: dict, skip: list[int], spec, batch_size: int) -> dict:
    """{prompt id: {top5_overlap, greedy_agreement, prefix_agreement, nll_increase}} for one config."""
    from interventions.generation import greedy, score, topk_overlap
    from interventions.layer_skip import removed_layers

    ids = sorted(pairs)
    with removed_layers(model, adapter, skip):
        gen = greedy(model, tok, [pairs[i][0] for i in ids], spec.max_new_tokens, batch_size)
        forced = score(model, tok, [(pairs[i][0], base[i]["continuation"]) for i in ids], batch_size)
        answer = score(model, tok, [pairs[i] for i in ids], batch_size)
    out = {}
    for i, g, f, a in zip(ids, gen, forced, answer):
        b = base[i]
        agree = 0
        while agree < min(len(g), len(b["continuation"])) and g[agree] == b["continuation"][agree]:
            agree += 1
        out[i] = dict(zip(("top5_overlap", "greedy_agreement", "prefix_agreement", "nll_increase"), rounded(
            [topk_overlap(b["topk"], f.topk), float(g == b["continuation"]), agree / len(b["continuation"]),
             mean(-x for x in a.token_logprobs) - b["answer_nll"]])))
    return out


@evidence_for("layer_skip")
def layer_skip(ctx: RunContext) -> EvidenceResult:
    from interventions.generation import greedy, score
    from interventions.layer_skip import removed_layers

    claim, spec = ctx.lc.claim, ctx.lc.claim.intervention
    seeds, families = claim.controls.seeds, ctx.lc.families()
    samples, pairs = sample_pairs(ctx)
    configs, deps = resolve_skips(ctx, spec)
    model, tok, bs = ctx.loaded.model, ctx.loaded.tokenizer, ctx.options.batch_size
    ctx.progress.start(len(configs) + 2, f"{claim.id}: {len(pairs)} prompts x {len(configs)} skip configs")
    ids = sorted(pairs)
    base_gen = greedy(model, tok, [pairs[i][0] for i in ids], spec.max_new_tokens, bs)
    forced = score(model, tok, [(pairs[i][0], g) for i, g in zip(ids, base_gen)], bs)
    answer = score(model, tok, [pairs[i] for i in ids], bs)
    base = {i: {"continuation": g, "topk": f.topk, "answer_nll": mean(-x for x in a.token_logprobs)}
            for i, g, f, a in zip(ids, base_gen, forced, answer)}
    ctx.progress.advance()
    rows = []
    for label, skip in configs:
        metrics = per_prompt_metrics(model, ctx.adapter, tok, pairs, base, skip, spec, bs)
        rows.append({"name": label, "skipped": skip, "n_skipped": len(skip),
                     "compute_ratio": compute_ratio(ctx.n_layers, len(skip)),
                     "seeds": seed_table(metrics, samples, seeds, families), "per_prompt": metrics})
        ctx.progress.advance()
    variants = {"unmodified": (model, None)} | {label: (model, lambda s=skip: removed_layers(model, ctx.adapter, s))
                                                 for label, skip in configs}
    times, protocol = timing_protocol(ctx, variants, pairs, spec.speed_prompts, spec.max_new_tokens, spec.speed_repeats,
                                      spec.speed_warmup)
    for row in rows:
        row["speedups"] = speedups(times, "unmodified", row["name"])
        row["median_speedup"] = median(row["speedups"])
    ctx.progress.advance()
    ids = {str(s): {f: [p.id for p in ps] for f, ps in fam.items()} for s, fam in samples.items()}
    outcome = claim.acceptance.evaluate_skip(rows, ctx.n_layers, ids)
    evidence = {"kind": "layer_skip", "configs": rows, "families": families, "seeds": seeds,
                "max_new_tokens": spec.max_new_tokens, "speed": protocol, "dependencies": deps, "samples": ids,
                "n_prompts": len(pairs), "n_layers": ctx.n_layers, "hardware": hardware(),
                "base": {"mean_answer_nll": mean(b["answer_nll"] for b in base.values()),
                         "mean_continuation_tokens": mean(len(b["continuation"]) for b in base.values())}}
    # deleting layers builds the skipped model; the comparison with the unmodified one is a layer ablation
    return EvidenceResult(outcome, evidence, kinds={"ablation"}, controls_run={"seeds"},
                          strong=bool(outcome.summary.get("strong")))
