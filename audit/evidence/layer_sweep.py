"""Evidence for ``layer_ablation``: a layer sweep per family and seed, judged by the acceptance criterion."""

from __future__ import annotations

from audit.criteria.hub import is_strong, per_seed_pooled
from audit.evidence.base import EvidenceResult, RunContext, evidence_for
from audit.inference import PromptTable, rounded
from audit.memory import peak_rss_mb
from audit.stats import mean
from controls.seeds import replication_summary, sample_prompts


def encode_samples(ctx: RunContext, samples: dict) -> list:
    """Encode the union of the prompts all seeds sampled (each prompt once), sorted by id."""
    from audit.encoding import encode

    claim = ctx.lc.claim
    unique = {p.id: p for per_fam in samples.values() for prompts in per_fam.values() for p in prompts}
    return [encode(ctx.loaded.tokenizer, p.id, p.prompt, p.answer, claim.suite.chat_template)
            for p in sorted(unique.values(), key=lambda p: p.id)]


def seed_means(per_prompt: dict[str, list[float]], samples: dict, seeds: list[int], families: list[str],
               width: int) -> list:
    """``table[seed][family][component]``: the mean over the prompts each seed sampled."""
    return [[[mean(per_prompt[p.id][i] for p in samples[s][f]) for i in range(width)] for f in families]
            for s in seeds]


def cached_sweep(ctx: RunContext, spec, encoded: list, layers: list[int]) -> dict:
    """Per-prompt sweep results, served from the evidence cache where possible.

    Each prompt is a unit keyed by the model hash, dtype, intervention spec, layers and its exact
    token ids; the missing ones are batched into ``layer_ablation.batch`` tasks, each written as
    soon as it finishes, so a killed run resumes where it stopped.
    """
    from audit.cache import unit_key
    from audit.units import Task, run_batched

    spec_json = spec.model_dump(mode="json", exclude={"why"})
    keys = {e.id: unit_key(kind="layer_sweep_prompt", model=ctx.loaded.weights_sha256, dtype=ctx.loaded.dtype,
                           spec=spec_json, layers=layers, ids=e.ids, target=e.target) for e in encoded}
    planned: dict = {"memory": {}, "computed": 0}

    def tasks(missing: list) -> list[Task]:
        todo, reuse, planned["memory"] = _budgeted_batches(ctx, missing)
        planned["computed"] = len(missing)
        ctx.progress.start(max(1, len(todo) * (len(layers) + 1)), f"{ctx.lc.claim.id}: {len(missing)}/"
                           f"{len(encoded)} prompts x {len(layers)} layers to compute")
        return [Task("layer_ablation.batch", {"spec": spec, "batch": b, "layers": layers, "reuse_prefix": reuse,
                                              "keys": [keys[pid] for pid in b.prompt_ids]},
                     tuple(keys[pid] for pid in b.prompt_ids), f"batch of {len(b.prompt_ids)} prompts: "
                     f"{', '.join(b.prompt_ids[:3])}{', ...' if len(b.prompt_ids) > 3 else ''}", len(layers) + 1)
                for b in todo]

    by_key = run_batched(ctx, {keys[e.id]: e for e in encoded}, tasks)
    units = {pid: by_key[k] for pid, k in keys.items()}
    if not planned["computed"]:
        _, _, planned["memory"] = _budgeted_batches(ctx, [])
    return {"metrics": {name: {pid: u["metrics"][name] for pid, u in units.items()}
                        for name in next(iter(units.values()))["metrics"]},
            "base": {pid: u["base"] for pid, u in units.items()},
            "computed": planned["computed"], "from_cache": len(encoded) - planned["computed"],
            "memory": planned["memory"]}


def seed_units(ctx: RunContext, op: str, spec, seed: int, samples: dict, encoded: list, key: dict, args,
               what: str, steps: int) -> dict:
    """``{prompt_id: value}`` of ``op`` on the prompts ``seed`` sampled, each a cached unit keyed like
    a sweep's plus ``key`` (the prompt's own fields: ``key(pid)`` when callable); the missing ones
    run in budgeted batches with ``args(prompt ids)`` (layer, seed, draws, ...) as task arguments."""
    from audit.cache import unit_key
    from audit.units import Task, run_batched

    spec_json = spec.model_dump(mode="json", exclude={"why"})
    mine = {p.id for prompts in samples[seed].values() for p in prompts}
    keys = {e.id: unit_key(model=ctx.loaded.weights_sha256, dtype=ctx.loaded.dtype, spec=spec_json, ids=e.ids,
                           target=e.target, **(key(e.id) if callable(key) else key))
            for e in encoded if e.id in mine}

    def tasks(missing: list) -> list[Task]:
        todo, reuse, _ = _budgeted_batches(ctx, missing)
        ctx.progress.start(max(1, len(todo) * steps), f"{ctx.lc.claim.id}: {what}: {len(missing)} prompts to compute")
        return [Task(op, {"spec": spec, "batch": b, "reuse_prefix": reuse, "keys": [keys[pid] for pid in b.prompt_ids],
                          **args(b.prompt_ids)},
                     tuple(keys[pid] for pid in b.prompt_ids), f"{what}: {len(b.prompt_ids)} prompts", steps)
                for b in todo]

    by_key = run_batched(ctx, {keys[e.id]: e for e in encoded if e.id in keys}, tasks)
    return {pid: by_key[k] for pid, k in keys.items()}


def null_sweep(ctx: RunContext, spec, layer: int, samples: dict, encoded: list, seed: int, n: int) -> dict:
    """``{prompt_id: {metric: [per draw]}}`` on the prompts ``seed`` sampled: the random-vector null
    of ablating ``layer`` (controls/layer_random_vector.py), as ``layer_ablation.random_vector``
    units keyed by the layer, seed and number of draws."""
    units = seed_units(ctx, "layer_ablation.random_vector", spec, seed, samples, encoded,
                       dict(kind="layer_random_vector_prompt", layer=layer, seed=seed, n=n),
                       lambda pids: {"layer": layer, "seed": seed, "n": n},
                       f"random_vector null of layer {layer}, seed {seed} x {n} draws", n)
    return {pid: u["metrics"] for pid, u in units.items()}


def repaired_control(ctx: RunContext, spec, layers: list[int], samples: dict, encoded: list, per_prompt: dict,
                     outcome):
    """The claim's outcome combined with the shuffled-label control (re-paired answers,
    controls/repaired_answers.py) of the claimed layer, and the control's record."""
    from controls import repaired_answers

    claim = ctx.lc.claim
    layer, seeds = claim.acceptance.layer, claim.controls.seeds
    column = layers.index(layer)
    by_id = {e.id: e for e in encoded}
    encoded_by_seed = {s: [by_id[p.id] for prompts in samples[s].values() for p in prompts] for s in seeds}

    def effects_at(candidates: dict) -> dict:
        return {s: seed_units(ctx, "layer_ablation.repaired", spec, s, samples, encoded,
                              lambda pid, s=s: dict(kind="layer_repaired_prompt", layer=layer,
                                                    candidates=candidates[s][pid]),
                              lambda pids, s=s: {"layer": layer, "candidates": {p: candidates[s][p] for p in pids}},
                              f"layer {layer} on re-paired answers, seed {s}", 1) for s in seeds}

    return repaired_answers.run(ctx, f"L{layer}", encoded_by_seed, samples,
                                lambda s, pid: per_prompt[claim.metric.kind][pid][column], effects_at, outcome)


def random_vector_control(ctx: RunContext, spec, layers: list[int], samples: dict, encoded: list,
                          per_prompt: dict, outcome):
    """The claim's outcome combined with the random-vector control, and the control's record."""
    from controls import layer_random_vector

    claim, metric = ctx.lc.claim, ctx.lc.claim.metric.kind
    layer = claim.acceptance.layer
    ids_by_seed = {s: sorted(p.id for prompts in samples[s].values() for p in prompts) for s in claim.controls.seeds}
    column = layers.index(layer) if layer in layers else None
    return layer_random_vector.run(
        ctx, layer, layers, ids_by_seed, lambda s, pid: per_prompt[metric][pid][column],
        lambda s, n: {pid: m[metric] for pid, m in null_sweep(ctx, spec, layer, samples, encoded, s, n).items()},
        outcome)


def _budgeted_batches(ctx: RunContext, prompts: list) -> tuple[list, bool, dict]:
    """Batches whose recorded layer inputs fit the trace budget; beyond it, recompute instead."""
    from audit.encoding import batches
    from interventions.sweep import trace_bytes

    config = getattr(ctx.loaded.config, "text_config", ctx.loaded.config)
    width = max((len(e.ids) for e in prompts), default=0)
    per_prompt = trace_bytes(ctx.n_layers, config.hidden_size, width, 4 if ctx.loaded.dtype in ("float32", "int8") else 2)
    budget = ctx.options.trace_budget_mb * 2**20
    fits = per_prompt <= budget
    size = max(1, min(ctx.options.batch_size, budget // per_prompt)) if fits and per_prompt else ctx.options.batch_size
    note = {"trace_budget_mb": ctx.options.trace_budget_mb, "batch_size": size, "prefix_reuse": fits,
            "trace_mb_per_batch": round(per_prompt * size / 2**20, 1) if fits else 0.0}
    return batches(ctx.loaded.tokenizer, prompts, size), fits, note


def dtype_deviation(ctx: RunContext, encoded: list, n: int = 32) -> dict | None:
    """For a reduced-precision run: KL(float32 || run dtype) of the base next-token distribution on
    up to ``n`` prompts, so a bfloat16 sweep states how far its model is from float32."""
    if ctx.loaded.dtype == "float32":
        return None
    from audit.encoding import batches
    from audit.units import Task, run_one

    subset = sorted(encoded, key=lambda e: e.id)[:n]
    kls = run_one(ctx, Task("layer_ablation.dtype_deviation",
                            {"batches": batches(ctx.loaded.tokenizer, subset, ctx.options.batch_size)},
                            label=f"float32 reference on {len(subset)} prompts"))
    return {"reference": "float32", "dtype": ctx.loaded.dtype, "n_prompts": len(kls),
            "mean_kl": mean(kls), "max_kl": max(kls)}


@evidence_for("layer_ablation")
def layer_sweep(ctx: RunContext) -> EvidenceResult:
    claim, spec = ctx.lc.claim, ctx.lc.claim.intervention
    families, seeds = ctx.lc.families(), claim.controls.seeds
    layers = spec.layer_indices(ctx.n_layers)
    samples = sample_prompts(ctx.lc.suite, seeds, families, claim.suite.prompts_per_family)
    encoded = encode_samples(ctx, samples)
    result = cached_sweep(ctx, spec, encoded, layers)
    effects = {metric: seed_means(per_prompt, samples, seeds, families, len(layers))
               for metric, per_prompt in result["metrics"].items()}
    ids = {str(s): {f: [p.id for p in ps] for f, ps in fam.items()} for s, fam in samples.items()}
    per_prompt = {m: {pid: rounded(v) for pid, v in sorted(pp.items())} for m, pp in result["metrics"].items()}
    table = PromptTable.from_samples(per_prompt[claim.metric.kind], ids, layers)
    outcome = claim.acceptance.evaluate(table)
    per_seed = per_seed_pooled(effects[claim.metric.kind], len(layers))
    ran, nulls = {"seeds"}, {}
    if claim.controls.random_vector is not None:
        outcome, nulls["random_vector"] = random_vector_control(ctx, spec, layers, samples, encoded, per_prompt,
                                                                outcome)
        ran.add("random_vector")
    if claim.controls.shuffled_label is not None:
        outcome, nulls["shuffled_label"] = repaired_control(ctx, spec, layers, samples, encoded, per_prompt, outcome)
        ran.add("shuffled_label")
    base = result["base"]
    evidence = {
        "kind": "layer_sweep", "metric": claim.metric.kind, "method": spec.method, "layers": layers,
        "families": families, "seeds": seeds, "effects": effects, "samples": ids,
        "per_prompt": per_prompt,
        "n_prompts": {"per_family_per_seed": claim.suite.prompts_per_family, "unique": len(encoded),
                      "computed": result["computed"], "from_cache": result["from_cache"]},
        "base": {"mean_target_nll": mean(b["target_nll"] for b in base.values()),
                 "top1_accuracy": mean(float(b["top1_is_target"]) for b in base.values()),
                 "unaligned_targets": sum(not e.target_aligned for e in encoded)},
        "controls": {"seeds": replication_summary(per_seed, layers, seeds), **nulls},
        "dtype_check": dtype_deviation(ctx, encoded),
        "resources": {**result["memory"], "peak_rss_mb": peak_rss_mb()},
    }
    return EvidenceResult(outcome, evidence, kinds={"ablation"}, controls_run=ran, strong=is_strong(outcome))
