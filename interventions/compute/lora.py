"""Ops of the training kinds (``lora``, ``lora_sweep``, ``lora_adapter_ablation``): one adapter
trained (or loaded from the evidence cache) and measured, and the model's own baseline.

A trained adapter is a directory of files, not a JSON unit: the op keeps it under the evidence
cache itself (:meth:`audit.cache.EvidenceCache.adapter_dir`; on a Ray worker a scratch copy the
driver writes back), keyed by model hash, modules, training spec, seed and data."""

from __future__ import annotations

from audit.unit_ops import unit_op

# stored measurements every cached adapter must have (older ones are measured again, not retrained)
REQUIRED = ("schema_valid_rate", "exact_by_prompt", "drift_by_prompt", "train_loss_by_prompt")


def _flat(drifts: dict) -> list:
    """The drift pairs as the flat list the adapter cache key has always used."""
    return [pair for by_id in drifts.values() for pair in by_id.values()]


def _analysis(ctx, pairs: list):
    """The per-layer adapter ablation on ``pairs`` (``lora_adapter_ablation``)."""
    from audit.inference import rounded
    from interventions.lora_training import adapter_norms, layer_ablation_effects

    def analyze(model):
        per_prompt = layer_ablation_effects(model, ctx.loaded.tokenizer, pairs, ctx.options.batch_size)
        return {"effects": {k: sum(v) / len(v) for k, v in per_prompt.items()},
                "per_prompt": {k: rounded(v, 8) for k, v in per_prompt.items()}, "norms": adapter_norms(model)}
    return analyze


@unit_op("lora.adapter")
def adapter(ctx, modules: list[str], training, seed: int, train_prompts: list, eval_prompts: list, drifts: dict,
            analysis_pairs: list | None, given: dict | None, start) -> dict:
    """One adapter's measurements (see :func:`audit.evidence.lora.adapter_task`)."""
    from audit.cache import unit_key
    from interventions.lora_training import evaluate, example_losses, examples, run_adapter

    tok, claim = ctx.loaded.tokenizer, ctx.lc.claim
    task = claim.intervention.task
    data = examples(tok, train_prompts, training.format, training.max_length)
    cache = ctx.options.evidence_cache
    started = {} if given is None else {"start": {"sha256": given["sha256"], "train": given["train"]}}
    key = unit_key(kind="lora_adapter", model=ctx.loaded.weights_sha256, dtype=ctx.loaded.dtype, modules=modules,
                   training=training.model_dump(mode="json"), seed=seed, data=[d[0] for d in data],
                   eval=[p.id for p in eval_prompts], drift=_flat(drifts), chat=claim.suite.chat_template,
                   max_new_tokens=task.max_new_tokens, **started)
    directory = cache.adapter_dir(key) if cache.enabled else None
    base = ctx.loaded.model
    if training.qlora:
        from audit.models import load_variant

        base = load_variant(ctx.loaded, "nf4")

    def measure(model):
        return {**evaluate(model, tok, eval_prompts, drifts, claim.suite.chat_template, task.max_new_tokens,
                           ctx.options.batch_size, task.family),
                "train_loss_by_prompt": example_losses(model, tok, data, [p.id for p in train_prompts],
                                                       ctx.options.batch_size, task.family)}

    analyze = _analysis(ctx, analysis_pairs) if analysis_pairs is not None else None
    result = run_adapter(base, tok, modules, training, seed, data, measure, directory, analyze, required=REQUIRED,
                         analysis_required=("per_prompt",) if analyze is not None else (),
                         start=start, further=given is None or given["train"])
    return result if given is None else {**result, "given_adapter": given}


@unit_op("lora.baseline")
def baseline(ctx, eval_prompts: list, key: str) -> dict:
    """The model without an adapter on the held-out prompts."""
    import torch

    from interventions.lora_training import evaluate

    claim = ctx.lc.claim
    task = claim.intervention.task
    with torch.inference_mode():
        return {key: evaluate(ctx.loaded.model, ctx.loaded.tokenizer, eval_prompts, {}, claim.suite.chat_template,
                              task.max_new_tokens, ctx.options.batch_size, task.family)}
