"""Ops of ``ablation``: one batch of prompts with every component ablated in turn.

Mean and resample ablations take their values from the seed's whole sample: captured once per
process (kept in the claim's memo for the sample's batches) and reused by each batch."""

from __future__ import annotations

import random

from audit.unit_ops import unit_op


def capture_real_positions(model, adapter, comps, batches):
    """Per prompt and component, the activation at real positions ([length, d])."""
    from interventions.ablation import capture_hooks
    from interventions.engine import full_forward

    acts: dict = {}
    for batch in batches:
        store: dict = {}
        full_forward(model, batch, capture_hooks(adapter, model, comps, store))
        for row, pid in enumerate(batch.prompt_ids):
            keep = batch.attention_mask[row].bool()
            acts[pid] = {label: t[row][keep] for label, t in store.items()}
    return acts


def _means(acts, comps):
    import torch

    from interventions.ablation import AblationValuesMissing

    out = {}
    for comp in comps:
        rows = [a[comp.label] for a in acts.values()]
        if not rows:
            raise AblationValuesMissing(f"mean ablation of {comp.label}: no prompts to average over")
        value = torch.cat(rows).mean(0)
        if not torch.isfinite(value).all():
            raise AblationValuesMissing(f"mean ablation of {comp.label}: the mean is not finite")
        out[comp.label] = value
    return out


def donors(seed: int, ids_by_family: dict[str, list[str]]) -> dict[str, str]:
    """For every prompt, another prompt of its family, chosen by the seed."""
    from interventions.ablation import AblationValuesMissing

    out = {}
    for fam, ids in ids_by_family.items():
        if len(ids) < 2:
            raise AblationValuesMissing(f"resample ablation needs >= 2 prompts per family; {fam} has {len(ids)}")
        for pid in ids:
            rng = random.Random(f"{seed}:{pid}:resample")
            out[pid] = rng.choice([d for d in ids if d != pid])
    return out


def donor_aligned(batch, label, acts, donor_of):
    """Donor activations right-aligned to each row (answer position to answer position)."""
    import torch

    rows = []
    width = batch.input_ids.shape[1]
    for pid in batch.prompt_ids:
        donor = acts[donor_of[pid]][label]
        take = donor[-width:]
        pad = donor[:1].expand(width - take.shape[0], -1)
        rows.append(torch.cat([pad, take]))
    return torch.stack(rows)


def _sample_values(ctx, spec, comps, sample: dict):
    """(activations, means, donors) of the seed's sample, once per process and sample."""
    if spec.method == "zero":
        return None, None, None
    key = (sample["key"], spec.method, tuple(c.label for c in comps))
    held = ctx.memo.get("ablation.sample")
    if held is None or held[0] != key:
        acts = capture_real_positions(ctx.loaded.model, ctx.adapter, comps, sample["batches"])
        means = _means(acts, comps) if spec.method == "mean" else None
        donor_of = donors(sample["seed"], sample["families"]) if spec.method == "resample" else None
        held = ctx.memo["ablation.sample"] = (key, (acts, means, donor_of))
    return held[1]


def ablated(ctx, spec, comps, batch, sample: dict | None):
    """``(trace, [(component, ablated answer-position log-probs)])`` for one batch: each component
    ablated in turn, replayed from its layer (a module outside the layers: a full forward)."""
    from interventions.engine import full_forward, replay, trace_base

    model = ctx.loaded.model
    acts, means, donor_of = _sample_values(ctx, spec, comps, sample)
    trace = trace_base(model, ctx.adapter, batch)
    out = []
    for comp in comps:
        values = means[comp.label] if means else (donor_aligned(batch, comp.label, acts, donor_of) if donor_of else None)
        hooks = spec.hooks(ctx.adapter, model, comp, batch.attention_mask, values)
        inside = comp.target != "module" or "layers." in comp.module
        out.append((comp, replay(model, ctx.adapter, trace, comp.layer, hooks) if inside
                    else full_forward(model, batch, hooks)))
    return trace, out


@unit_op("ablation.batch")
def ablate_batch(ctx, spec, comps, batch, keys: list[str], sample: dict | None = None) -> dict:
    """``{key: {metric: [value per component]}}`` for the batch's prompts. ``sample`` (mean and
    resample): the seed's whole sample — ``key``, ``seed``, ``batches``, ``families`` (ids)."""
    from audit.metrics import all_metrics

    trace, results = ablated(ctx, spec, comps, batch, sample)
    per = {pid: {} for pid in batch.prompt_ids}
    for _, logprobs in results:
        for name, vals in all_metrics(trace.logprobs, logprobs, batch.target_ids).items():
            for pid, v in zip(batch.prompt_ids, vals):
                per[pid].setdefault(name, []).append(v)
    return {key: per[pid] for key, pid in zip(keys, batch.prompt_ids)}


@unit_op("ablation.repaired")
def ablate_repaired(ctx, spec, comps, batch, keys: list[str], candidates: dict, sample: dict | None = None) -> dict:
    """``{key: [NLL increase of each candidate target]}``: the (one) claimed component ablated,
    scored on other answers' first tokens (``candidates``: prompt id -> token ids; the
    shuffled-label control of an ablation claim, controls/repaired_answers.py)."""
    from audit.metrics import nll_increase_at

    trace, [(_, logprobs)] = ablated(ctx, spec, comps, batch, sample)
    values = nll_increase_at(trace.logprobs, logprobs, [candidates[pid] for pid in batch.prompt_ids])
    return dict(zip(keys, values))
