"""Evidence for the training claims: ``lora`` (placements compared), ``lora_sweep`` (a grid of
training choices) and ``lora_adapter_ablation`` (where a trained adapter's effect sits).

Per seed the task family's prompts are split into disjoint training and held-out sets (the seed
draws them) and the seed fixes the LoRA initialisation and batch order. Adapters are saved with
peft under the evidence cache, keyed by model hash, modules, training spec, seed and data, so a
re-run loads them instead of retraining (``--no-cache`` retrains and saves nothing).
"""

from __future__ import annotations

from dataclasses import replace

from audit.criteria.base import judge
from audit.evidence.base import EvidenceResult, RunContext, evidence_for
from audit.evidence.deployment import dependency
from audit.stats import mean


def split(ctx: RunContext, task, seed: int) -> tuple[list, list]:
    """Disjoint (training, held-out) prompts of the task family, drawn by the seed
    (:func:`interventions.lora.split_prompts`)."""
    from interventions.lora import split_prompts

    return split_prompts(ctx.lc.suite, task, seed)


def drift_pairs(ctx: RunContext, task, seed: int) -> dict:
    """``{family: {prompt id: (prompt ids, answer ids)}}`` of the unrelated drift prompts the seed draws."""
    from interventions.steering import continuation_ids

    chat = ctx.lc.claim.suite.chat_template
    return {fam: {p.id: continuation_ids(ctx.loaded.tokenizer, p.prompt, p.answer, chat)
                  for p in ctx.lc.suite.sample(seed, fam, task.drift_prompts)} for fam in task.drift_families}


def atlas_layers(ctx: RunContext, deps: list):
    """``fn(claim, k)``: the k highest pooled-effect layers of a layer-sweep claim (a dependency)."""
    def top(claim: str, k: int) -> list[int]:
        rec, dep = dependency(ctx, claim, "layer_sweep")
        pooled, layers = rec["summary"]["pooled"], rec["evidence"]["layers"]
        chosen = sorted(layers[i] for i in sorted(range(len(layers)), key=lambda i: (-pooled[i], i))[:k])
        if all((d["file"], d["top_k"]) != (claim, k) for d in deps):
            deps.append({**dep, "top_k": k, "layers": chosen})
        return chosen
    return top


def given_adapter(ctx: RunContext, placement) -> dict | None:
    """A given adapter's identity for the cache key and the evidence (None for other placements)."""
    from interventions.lora import GivenAdapter, adapter_config, adapter_digest

    if not isinstance(placement, GivenAdapter):
        return None
    directory = ctx.lc.path.parent / placement.path
    config = adapter_config(directory)
    return {"path": placement.path, "sha256": adapter_digest(directory), "train": placement.train,
            "r": config["r"], "lora_alpha": config["lora_alpha"], "target_modules": config["target_modules"],
            "base_model_name_or_path": config.get("base_model_name_or_path")}


def adapter_task(ctx: RunContext, modules: list[str], training, seed: int, train_prompts: list, eval_prompts: list,
                 drifts: dict, analysis_pairs: list | None = None, placement=None, label: str = ""):
    """The ``lora.adapter`` task: train (or load) one adapter and measure it on the held-out prompts,
    the drift prompts and its own training examples (their final loss, one per prompt). A given
    adapter placement (``placement: adapter``) starts from its weights, or is only measured;
    ``analysis_pairs``: also ablate the adapter layer by layer on these (prompt, answer) ids."""
    from audit.units import Task

    given = given_adapter(ctx, placement)
    return Task("lora.adapter", {"modules": modules, "training": training, "seed": seed, "train_prompts": train_prompts,
                                 "eval_prompts": eval_prompts, "drifts": drifts, "analysis_pairs": analysis_pairs,
                                 "given": given, "start": None if given is None else ctx.lc.path.parent / placement.path},
                label=label or f"adapter on {len(modules)} modules, seed {seed}")


def trained(ctx: RunContext, *args, **kwargs) -> dict:
    """One adapter's measurements (:func:`adapter_task`, run on the executor)."""
    from audit.units import run_one

    return run_one(ctx, adapter_task(ctx, *args, **kwargs))


def baseline(ctx: RunContext, eval_prompts: list) -> dict:
    """The model without any adapter on the same held-out prompts: what training has to beat.
    A cached unit like the adapters (keyed by model, prompts and generation settings)."""
    from audit.cache import unit_key
    from audit.units import Task, run_tasks

    claim = ctx.lc.claim
    task = claim.intervention.task
    key = unit_key(kind="lora_baseline", model=ctx.loaded.weights_sha256, dtype=ctx.loaded.dtype,
                   eval=[p.id for p in eval_prompts], chat=claim.suite.chat_template, max_new_tokens=task.max_new_tokens)
    got = run_tasks(ctx, [Task("lora.baseline", {"eval_prompts": eval_prompts, "key": key}, (key,),
                               f"baseline on {len(eval_prompts)} held-out prompts", 0)])[0][key]
    if "exact_by_prompt" not in got and isinstance(got.get("per_prompt_exact"), list):
        got = {**got, "exact_by_prompt": {task.family: dict(zip([p.id for p in eval_prompts], got["per_prompt_exact"]))}}
    return {k: got.get(k) for k in ("exact_match", "exact_by_prompt", "answer_nll", "json_parse_rate",
                                    "schema_valid_rate", "examples")}


def _row(result: dict, seed: int) -> dict:
    from audit.criteria.lora import loss_noise

    keep = ("trainable_params", "final_loss", "exact_match", "answer_nll", "json_parse_rate", "schema_valid_rate",
            "kl_drift", "train_seconds", "train_memory", "from_cache", "examples", "exact_by_prompt",
            "train_loss_by_prompt", "drift_by_prompt", "given_adapter")
    return {"seed": seed, **{k: result.get(k) for k in keep}, "losses": result["losses"],
            "loss_noise": loss_noise(result["losses"]), "n_modules": len(result["modules"])}


@evidence_for("lora")
def lora(ctx: RunContext) -> EvidenceResult:
    from audit.units import run_tasks
    from interventions.lora_training import resolve

    claim, spec = ctx.lc.claim, ctx.lc.claim.intervention
    seeds, deps = claim.controls.seeds, []
    extra = len(seeds) if claim.controls.shuffled_answers is not None else 0
    ctx.progress.start(len(seeds) * len(spec.placements) + extra, f"{claim.id}: {len(spec.placements)} placements x "
                       f"{len(seeds)} seeds x {spec.training.steps} steps")
    results: dict[str, list[dict]] = {name: [] for name in spec.placements}
    modules: dict[str, dict] = {}
    base_rows = []
    planned = []  # every (placement, seed) adapter is its own task: all sent to the executor at once
    for seed in seeds:
        train_p, eval_p = split(ctx, spec.task, seed)
        drifts = drift_pairs(ctx, spec.task, seed)
        base_rows.append({"seed": seed, **baseline(ctx, eval_p)})
        resolved = resolve(spec.placements, ctx.loaded.model, seed, atlas_layers(ctx, deps), ctx.lc.path.parent)
        for name, mods in resolved.items():
            training = spec.placement_training(name, spec.training, ctx.lc.path.parent)
            planned.append((name, seed, adapter_task(ctx, mods, training, seed, train_p, eval_p, drifts,
                                                     placement=spec.placements[name], label=f"{name}, seed {seed}")))
            modules.setdefault(name, {})[str(seed)] = mods
    for (name, seed, _), result in zip(planned, run_tasks(ctx, [t for _, _, t in planned])[1]):
        results[name].append(_row(result, seed))
    name = claim.acceptance.candidate if claim.controls.shuffled_answers is not None else None
    shuffled = None if name is None else shuffled_answer_rows(
        ctx, modules[name], spec.placement_training(name, spec.training, ctx.lc.path.parent), spec.placements[name])
    evidence = {"kind": "lora", "task": spec.task.model_dump(), "training": spec.training.model_dump(),
                "placements": {n: p.model_dump() for n, p in spec.placements.items()}, "results": results,
                "baseline": base_rows, "modules": modules, "seeds": seeds, "dependencies": deps,
                **({"controls": {"shuffled_answers": shuffled}} if shuffled is not None else {})}
    outcome = judge(claim, evidence)
    ran = {"seeds"} | ({"random_placement"} if any(p.placement == "random_matched" for p in spec.placements.values())
                       else set()) | ({"shuffled_answers"} if shuffled is not None else set())
    # training the adapters builds what is compared: one evidence kind, "training"
    return EvidenceResult(outcome, evidence, kinds={"training"}, controls_run=ran,
                          strong=bool(outcome.summary.get("strong")))


def shuffled_answer_rows(ctx: RunContext, modules: dict, training, placement) -> list[dict]:
    """One run (``modules[seed]``, its ``training`` and ``placement``: the lora candidate or a sweep
    point) trained per seed on its training prompts with answers permuted among them
    (:mod:`controls.shuffled_answers`), measured on the same held-out prompts; every seed's adapter
    is its own task, all sent to the executor at once."""
    from audit.units import run_tasks
    from controls.shuffled_answers import shuffled

    spec, seeds = ctx.lc.claim.intervention, ctx.lc.claim.controls.seeds
    tasks = []
    for seed in seeds:
        train_p, eval_p = split(ctx, spec.task, seed)
        tasks.append(adapter_task(ctx, modules[str(seed)], training, seed, shuffled(train_p, seed), eval_p,
                                  drift_pairs(ctx, spec.task, seed), placement=placement,
                                  label=f"shuffled answers, seed {seed}"))
    return [_row(result, seed) for seed, result in zip(seeds, run_tasks(ctx, tasks)[1])]


@evidence_for("lora_sweep")
def lora_sweep(ctx: RunContext) -> EvidenceResult:
    from interventions.lora_training import resolve

    claim, spec = ctx.lc.claim, ctx.lc.claim.intervention
    seeds, deps, control = claim.controls.seeds, [], claim.controls.shuffled_answers
    extra = len(seeds) if control is not None else 0
    ctx.progress.start(len(seeds) * len(spec.points) + extra,
                       f"{claim.id}: {len(spec.points)} points x {len(seeds)} seeds")
    results: dict[str, list[dict]] = {p.label: [] for p in spec.points}
    modules: dict[str, dict] = {}
    base_rows = []
    for seed in seeds:
        train_p, eval_p = split(ctx, spec.task, seed)
        drifts = drift_pairs(ctx, spec.task, seed)
        base_rows.append({"seed": seed, **baseline(ctx, eval_p)})
        resolved = resolve(spec.named_placements(), ctx.loaded.model, seed, atlas_layers(ctx, deps), ctx.lc.path.parent)
        for point in spec.points:
            training = spec.placement_training(point.label, point.training(spec.training), ctx.lc.path.parent)
            res = trained(ctx, resolved[point.label], training, seed, train_p, eval_p, drifts,
                          placement=point.placement)
            results[point.label].append(_row(res, seed))
            modules.setdefault(point.label, {})[str(seed)] = resolved[point.label]
    evidence = {"kind": "lora_sweep", "task": spec.task.model_dump(), "training": spec.training.model_dump(),
                "points": [p.model_dump() for p in spec.points], "results": results, "baseline": base_rows,
                "seeds": seeds, "dependencies": deps}
    controls = sweep_shuffled(ctx, modules, results) if control is not None else {}
    evidence.update({"controls": controls} if controls else {})
    outcome = judge(claim, evidence)
    if controls:  # reported beside the verdict, never turning it
        outcome = replace(outcome, reasons=[*outcome.reasons, controls["shuffled_answers"]["reason"]])
    ran = {"seeds"} | set(controls) | ({"random_placement"} if any(p.placement.placement == "random_matched"
                                                                   for p in spec.points) else set())
    return EvidenceResult(outcome, evidence, kinds={"training"}, controls_run=ran,
                          strong=bool(outcome.summary.get("strong")))


def sweep_shuffled(ctx: RunContext, modules: dict, results: dict) -> dict:
    """A sweep's shuffled-answers control: its point (:func:`controls.shuffled_answers.sweep_point`)
    trained per seed on permuted answers, beside the real point (:func:`controls.shuffled_answers.beside`)."""
    from controls.shuffled_answers import NAME, beside, sweep_point

    spec = ctx.lc.claim.intervention
    label = sweep_point(spec, ctx.lc.claim.controls.shuffled_answers)
    point = next(p for p in spec.points if p.label == label)
    rows = shuffled_answer_rows(ctx, modules[label], spec.placement_training(label, point.training(spec.training),
                                                                             ctx.lc.path.parent), point.placement)
    return {NAME: {**beside(label, results[label], rows), "rows": rows}}


@evidence_for("lora_adapter_ablation")
def lora_adapter_ablation(ctx: RunContext) -> EvidenceResult:
    from interventions.lora_training import resolve
    from interventions.steering import continuation_ids

    claim, spec = ctx.lc.claim, ctx.lc.claim.intervention
    seeds, deps, per_seed = claim.controls.seeds, [], []
    ctx.progress.start(len(seeds), f"{claim.id}: train + per-layer adapter ablation x {len(seeds)} seeds")
    for seed in seeds:
        train_p, eval_p = split(ctx, spec.task, seed)
        pairs = [continuation_ids(ctx.loaded.tokenizer, p.prompt, p.answer, claim.suite.chat_template) for p in eval_p]

        mods = resolve({"adapter": spec.placement}, ctx.loaded.model, seed, atlas_layers(ctx, deps),
                       ctx.lc.path.parent)["adapter"]
        res = trained(ctx, mods, spec.placement_training("adapter", spec.training, ctx.lc.path.parent), seed, train_p,
                      eval_p, drift_pairs(ctx, spec.task, seed), pairs, placement=spec.placement)
        analysis = res["analysis"]
        by_prompt = {p.id: {str(k): v[i] for k, v in analysis["per_prompt"].items()} for i, p in enumerate(eval_p)}
        per_seed.append({**_row(res, seed), "effects": {str(k): v for k, v in analysis["effects"].items()},
                         "norms": {str(k): v for k, v in analysis["norms"].items()},
                         "effects_by_prompt": {spec.task.family: by_prompt}})
    evidence = {"kind": "lora_adapter_ablation", "task": spec.task.model_dump(), "training": spec.training.model_dump(),
                "placement": spec.placement.model_dump(), "per_seed": per_seed, "seeds": seeds, "n_layers": ctx.n_layers,
                "mean_exact_match": mean(s["exact_match"] for s in per_seed), "dependencies": deps}
    outcome = judge(claim, evidence)
    # training builds the adapter; the independent causal evidence is the per-layer adapter ablation
    return EvidenceResult(outcome, evidence, kinds={"ablation"}, controls_run={"seeds"},
                          strong=bool(outcome.summary.get("strong")))
