"""Evidence for ``quantization`` (speed, memory, quality per precision mode, side by side; memory is
the weights' footprint and the RSS during each mode's untimed quality pass) and
``quantization_drift`` (the layer-ablation sweep re-run under each mode, compared with the
reference mode's)."""

from __future__ import annotations

from dataclasses import replace

from audit.evidence.base import EvidenceResult, RunContext, evidence_for
from audit.evidence.deployment import hardware, sample_pairs, seed_table, speedups, timing_protocol
from audit.evidence.layer_sweep import cached_sweep, encode_samples
from audit.inference import PromptTable, rounded
from audit.memory import PeakDuring, peak_rss_mb
from controls.seeds import sample_prompts


def model_in(ctx: RunContext, mode: str):
    """The claim's model in ``mode`` (the loaded one when the mode matches the run's dtype)."""
    from audit.models import load_variant

    return ctx.loaded.model if mode == ctx.loaded.dtype else load_variant(ctx.loaded, mode)


def quality(model, tok, pairs: dict, reference_first: dict | None, max_new_tokens: int, batch_size: int) -> tuple[dict, dict]:
    """Per prompt: exact match of the greedy answer (it must start with the reference answer; the
    ramble after it is not scored) and KL(reference || model) at the answer position."""
    from interventions.generation import greedy, kl, score

    ids = sorted(pairs)
    first = {i: s.first_logprobs for i, s in zip(ids, score(model, tok, [pairs[i] for i in ids], batch_size))}
    gens = greedy(model, tok, [pairs[i][0] for i in ids], max_new_tokens, batch_size)
    out = {}
    for i, g in zip(ids, gens):
        answer = tok.decode(pairs[i][1], skip_special_tokens=True).strip()
        text = tok.decode(g, skip_special_tokens=True).strip()
        out[i] = {"exact_match": float(text.startswith(answer)),
                  "kl": rounded([kl(reference_first[i], first[i])])[0] if reference_first is not None else 0.0}
    return out, first


def measured_quality(*args) -> tuple[dict, dict, dict]:
    """:func:`quality`, and the memory of that untimed pass: the process RSS peak while the mode
    generates and scores, and its growth above the RSS at the start (the mode's working memory;
    the peak also counts the models of earlier modes, kept loaded for the interleaved timing).
    On CUDA, also the peak of allocated device memory during the pass."""
    import torch

    cuda = torch.cuda.is_available()
    if cuda:
        torch.cuda.reset_peak_memory_stats()
    with PeakDuring() as memory:
        per_prompt, first = quality(*args)
    peak = memory.result()
    if cuda:
        peak["cuda_peak_mb"] = round(torch.cuda.max_memory_allocated() / 2**20, 1)
    return per_prompt, first, peak


@evidence_for("quantization")
def quantization(ctx: RunContext) -> EvidenceResult:
    claim, spec = ctx.lc.claim, ctx.lc.claim.intervention
    seeds, families = claim.controls.seeds, ctx.lc.families()
    samples, pairs = sample_pairs(ctx)
    tok, bs = ctx.loaded.tokenizer, ctx.options.batch_size
    order = [spec.reference] + [m for m in spec.modes if m != spec.reference]
    ctx.progress.start(len(order) + 1, f"{claim.id}: {len(pairs)} prompts x {len(order)} modes")
    models, modes, reference_first = {}, {}, None
    for mode in order:
        models[mode] = model_in(ctx, mode)
        per_prompt, first, peak = measured_quality(models[mode], tok, pairs, reference_first,
                                                   spec.max_new_tokens, bs)
        reference_first = reference_first or first
        modes[mode] = {"memory_mb": models[mode].get_memory_footprint() / 2**20, "peak_memory": peak,
                       "seeds": seed_table(per_prompt, samples, seeds, families), "per_prompt": per_prompt}
        ctx.progress.advance()
    times, protocol = timing_protocol(ctx, {m: (models[m], None) for m in order}, pairs, spec.speed.prompts,
                                      spec.speed.new_tokens, spec.speed.repeats, spec.speed.warmup)
    for m in order:
        modes[m]["speed_ratios"] = {o: speedups(times, o, m) for o in order if o != m}
        modes[m]["tokens_per_s"] = protocol["tokens_per_s"][m]
    ctx.progress.advance()
    ids = {str(s): {f: [p.id for p in ps] for f, ps in fam.items()} for s, fam in samples.items()}
    outcome = claim.acceptance.evaluate_quant(modes, spec.reference, ids)
    evidence = {"kind": "quantization", "reference": spec.reference, "modes": modes, "order": order,
                "families": families, "seeds": seeds, "n_prompts": len(pairs), "speed": protocol,
                "max_new_tokens": spec.max_new_tokens, "hardware": hardware(), "peak_rss_mb": peak_rss_mb(),
                "samples": ids}
    # quantizing builds the compared models; the side-by-side measurement is the one evidence kind
    return EvidenceResult(outcome, evidence, kinds={"quantization"}, controls_run={"seeds"},
                          strong=bool(outcome.summary.get("strong")))


@evidence_for("quantization_drift", unit_aware=True)
def quantization_drift(ctx: RunContext) -> EvidenceResult:
    claim, spec = ctx.lc.claim, ctx.lc.claim.intervention
    seeds, families = claim.controls.seeds, ctx.lc.families()
    samples = sample_prompts(ctx.lc.suite, seeds, families, claim.suite.prompts_per_family)
    ids = {str(s): {f: [p.id for p in ps] for f, ps in fam.items()} for s, fam in samples.items()}
    encoded = encode_samples(ctx, samples)
    sweep = spec.sweep_spec()
    layers = sweep.layer_indices(ctx.n_layers)
    per_prompt, per_seed, computed = {}, {}, {}
    for mode in [spec.reference] + spec.modes:
        loaded = ctx.loaded if mode == ctx.loaded.dtype else replace(ctx.loaded, dtype=mode, _model=None)
        result = cached_sweep(replace(ctx, loaded=loaded), sweep, encoded, layers)
        per_prompt[mode] = {pid: rounded(v) for pid, v in sorted(result["metrics"][claim.metric.kind].items())}
        table = PromptTable.from_samples(per_prompt[mode], ids, layers)
        per_seed[mode] = [[float(x) for x in table.per_seed()[s]] for s in seeds]  # [seed][layer], for the card
        computed[mode] = {"computed": result["computed"], "from_cache": result["from_cache"]}
    outcome = claim.acceptance.evaluate_drift(per_prompt, spec.reference, spec.modes, layers, ids)
    evidence = {"kind": "quantization_drift", "reference": spec.reference, "modes": spec.modes, "method": spec.method,
                "metric": claim.metric.kind, "layers": layers, "families": families, "seeds": seeds, "samples": ids,
                "per_prompt": per_prompt, "per_seed_layer_effects": per_seed, "units": computed,
                "hardware": hardware(), "peak_rss_mb": peak_rss_mb()}
    # quantizing builds the compared models; the causal evidence is the layer ablation sweep
    return EvidenceResult(outcome, evidence, kinds={"ablation"}, controls_run={"seeds"},
                          strong=bool(outcome.summary.get("strong")))
