"""Evidence for ``quantization`` (speed, memory, quality per precision mode, side by side; memory is
the weights' footprint and the RSS during each mode's untimed quality pass) and
``quantization_drift`` (the layer-ablation sweep re-run under each mode, compared with the
reference mode's). Their controls: audit/evidence/quantization_controls.py."""

from __future__ import annotations

from dataclasses import replace

from audit.criteria.base import judge
from audit.evidence import drift_noise, quantization_controls
from audit.evidence.base import EvidenceResult, RunContext, evidence_for
from audit.evidence.deployment import hardware, sample_pairs, seed_table, speedups
from audit.evidence.layer_sweep import cached_sweep, encode_samples
from audit.inference import rounded
from audit.memory import peak_rss_mb
from controls import shuffled_layers
from controls.seeds import sample_prompts
from controls.shuffled_layers import NAME as SHUFFLED
from controls.weight_noise import NAME as NOISE


@evidence_for("quantization")
def quantization(ctx: RunContext) -> EvidenceResult:
    from audit.units import Task, run_one, run_tasks

    claim, spec = ctx.lc.claim, ctx.lc.claim.intervention
    seeds, families = claim.controls.seeds, ctx.lc.families()
    samples, pairs = sample_pairs(ctx)
    order = [spec.reference] + [m for m in spec.modes if m != spec.reference]
    ctx.progress.start(len(order) + 1, f"{claim.id}: {len(pairs)} prompts x {len(order)} modes")
    def quality(modes: list[str], reference_first) -> list[dict]:
        return run_tasks(ctx, [Task("quantization.quality", {"mode": m, "pairs": pairs, "reference_first": reference_first,
                                                             "max_new_tokens": spec.max_new_tokens}, label=f"{m} quality")
                               for m in modes])[1]

    (ref,) = quality(order[:1], None)  # the reference's answer distributions are the others' KL baseline
    measured = {order[0]: ref} | dict(zip(order[1:], quality(order[1:], ref["first"])))
    modes = {m: {"memory_mb": r["memory_mb"], "peak_memory": r["peak"],
                 "seeds": seed_table(r["per_prompt"], samples, seeds, families), "per_prompt": r["per_prompt"]}
             for m, r in measured.items()}
    times, protocol = run_one(ctx, Task("quantization.timing", {"order": order, "pairs": pairs, "speed": spec.speed},
                                        label="side-by-side timing"))
    for m in order:
        modes[m]["speed_ratios"] = {o: speedups(times, o, m) for o in order if o != m}
        modes[m]["tokens_per_s"] = protocol["tokens_per_s"][m]
    ids = {str(s): {f: [p.id for p in ps] for f, ps in fam.items()} for s, fam in samples.items()}
    evidence = {"kind": "quantization", "reference": spec.reference, "modes": modes, "order": order,
                "families": families, "seeds": seeds, "n_prompts": len(pairs), "speed": protocol,
                "max_new_tokens": spec.max_new_tokens, "hardware": hardware(), "peak_rss_mb": peak_rss_mb(),
                "samples": ids}
    controls = {}  # reported beside the verdict, never turning it
    if claim.controls.random_vector is not None:
        controls[NOISE] = quantization_controls.weight_noise(ctx, order, modes, samples, pairs)
    if claim.controls.shuffled_label is not None:
        controls[SHUFFLED] = quantization_controls.repaired_match(ctx, order, measured, samples, pairs)
    if controls:
        evidence["controls"] = controls
    outcome = judge(claim, evidence)
    outcome = replace(outcome, reasons=[*outcome.reasons, *(line for records in controls.values()
                                                            for line in quantization_controls.notes(records))])
    # quantizing builds the compared models; the side-by-side measurement is the one evidence kind
    return EvidenceResult(outcome, evidence, kinds={"quantization"}, controls_run={"seeds"} | set(controls),
                          strong=bool(outcome.summary.get("strong")))


@evidence_for("quantization_drift")
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
        per_seed[mode] = drift_noise.seed_effects(per_prompt[mode], ids, layers, seeds)  # [seed][layer]
        computed[mode] = {"computed": result["computed"], "from_cache": result["from_cache"]}
    evidence = {"kind": "quantization_drift", "reference": spec.reference, "modes": spec.modes, "method": spec.method,
                "metric": claim.metric.kind, "layers": layers, "families": families, "seeds": seeds, "samples": ids,
                "per_prompt": per_prompt, "per_seed_layer_effects": per_seed, "units": computed,
                "hardware": hardware(), "peak_rss_mb": peak_rss_mb()}
    controls = {}  # reported beside the verdict, never turning it
    if claim.controls.shuffled_label is not None:
        controls[SHUFFLED] = quantization_controls.drift_layers(evidence, claim.controls.shuffled_label.n)
    if claim.controls.random_vector is not None:
        controls[NOISE] = drift_noise.run(ctx, sweep, encoded, evidence)
    if controls:
        evidence["controls"] = controls
    outcome = judge(claim, evidence)
    outcome = replace(outcome, reasons=[*outcome.reasons, *shuffled_layers.note(controls.get(SHUFFLED, {})),
                                        *quantization_controls.notes(controls.get(NOISE, {}))])
    # quantizing builds the compared models; the causal evidence is the layer ablation sweep
    return EvidenceResult(outcome, evidence, kinds={"ablation"}, controls_run={"seeds"} | set(controls),
                          strong=bool(outcome.summary.get("strong")))
