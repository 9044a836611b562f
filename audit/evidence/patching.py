"""Evidence for ``kind: patching``: normalized recovery per component on counterfactual pairs.

Each seed samples its own pairs per family. Misaligned pairs are refused (both tokenizations
recorded); uninformative pairs (clean ~ corrupt) are counted, not used; trivially recovering
components (full residual at the last layer) are flagged so they are never read as findings.
"""

from __future__ import annotations

from audit.criteria.effects import named_components
from audit.criteria.hub import is_strong, per_seed_pooled
from audit.evidence.base import EvidenceResult, RunContext, evidence_for
from audit.inference import PromptTable, rounded
from audit.memory import peak_rss_mb
from audit.stats import mean
from audit.suite import sample_pairs
from audit.verdict import Outcome, Verdict
from controls.seeds import replication_summary


class NoPatchingEvidence(RuntimeError):
    """Every pair was refused or uninformative: nothing to judge."""


def _encode_pair(tok, pair, chat):
    from audit.encoding import encode

    clean = encode(tok, pair.id, pair.clean, pair.clean_answer, chat)
    corrupt = encode(tok, pair.id, pair.corrupt, pair.corrupt_answer, chat)
    problem = None
    if len(clean.ids) != len(corrupt.ids):
        show = lambda e: " ".join(repr(t) for t in tok.convert_ids_to_tokens(list(e.ids)))  # noqa: E731
        problem = (f"pair {pair.id} refused: clean and corrupt tokenize to different lengths "
                   f"({len(clean.ids)} vs {len(corrupt.ids)}), so positions cannot be aligned.\n"
                   f"  clean:   {show(clean)}\n  corrupt: {show(corrupt)}")
    elif clean.target == corrupt.target:
        problem = f"pair {pair.id} refused: both answers start with the same token, the logit difference is 0"
    return clean, corrupt, problem


def _pair_units(ctx: RunContext, spec, comps, pairs: list, drawn: bool = False, subspace: dict | None = None,
                claimed=None) -> dict:
    """Per pair: ``{"clean": LD, "corrupt": LD, "patched": [LD per component]}`` (cached; the
    missing pairs computed in ``patching.batch`` tasks). ``drawn``: the components are a control's
    draw, not the spec's own: their labels join the unit key. ``subspace`` (``{"seed", "n", "dim"}``):
    the one component patched in ``n`` random subspaces instead (``patching.random_subspace``), one
    LD per draw. ``claimed`` (``(basis, record)``, interventions/subspace.py): the one component
    patched in the claim's subspace, with its whole patch's LD beside (``"whole"``)."""
    from audit.cache import unit_key
    from audit.encoding import batches
    from audit.units import Task, run_batched

    tok, size = ctx.loaded.tokenizer, ctx.options.batch_size
    spec_json = spec.model_dump(mode="json", exclude={"why", "min_gap"})
    keys = {c.id: unit_key(kind="patch_pair", model=ctx.loaded.weights_sha256, dtype=ctx.loaded.dtype, spec=spec_json,
                           clean=(c.ids, c.target), corrupt=(k.ids, k.target),
                           **({"components": [x.label for x in comps]} if drawn or subspace else {}),
                           **({"subspace": subspace} if subspace else {}),
                           **({"claimed_subspace": claimed[1]["sha256"]} if claimed else {})) for c, k in pairs}
    op, what = ("patching.random_subspace", f"{comps[0].label} in {subspace['n']} random subspaces") if subspace \
        else ("patching.batch", f"{len(comps)} components")

    def tasks(missing: list) -> list[Task]:
        by_id = {c.id: (c, k) for c, k in missing}
        out = []
        for cb in batches(tok, [c for c, _ in missing], size):
            # the corrupt batch has the same lengths, hence the same padding: positions align
            kb = batches(tok, [by_id[pid][1] for pid in cb.prompt_ids], len(cb.prompt_ids))[0]
            kb = kb if kb.prompt_ids == cb.prompt_ids else _reorder(kb, cb.prompt_ids)
            ids = [keys[pid] for pid in cb.prompt_ids]
            args = {"comp": comps[0], **subspace} if subspace else {"comps": comps}
            args.update({"basis": claimed[0]} if claimed else {})
            out.append(Task(op, {"spec": spec, **args, "clean": cb, "corrupt": kb, "keys": ids},
                            tuple(ids), f"{what} on {len(ids)} pairs", len(ids)))
        return out

    by_key = run_batched(ctx, {keys[c.id]: (c, k) for c, k in pairs}, tasks)
    return {pid: by_key[k] for pid, k in keys.items()}


def _claimed_basis(ctx: RunContext, comp, config):
    """``(basis [d, k], record)`` of the claim's subspace of ``comp``'s site."""
    from controls.random_subspace import site_width
    from interventions.subspace import load_basis

    sub = ctx.lc.claim.intervention.subspace
    return load_basis(ctx.lc.path.parent / sub.path, sub.key, site_width(comp, config))


def _judge_claimed_subspace(spec, record: dict, label: str, units: dict, recovery: dict, ids: dict, evidence: dict,
                            outcome: Outcome) -> Outcome:
    """The claimed subspace's record (with its whole component's recovery beside) in the evidence,
    and the outcome flagged when the subspace recovers more than the component (dormant pathway)."""
    from controls.random_subspace import claimed_subspace_check, flag_dormant
    from interventions.patching import normalized

    whole = {pid: normalized(spec.direction, units[pid]["clean"], units[pid]["corrupt"], units[pid]["whole"])
             for pid in recovery}
    dormant = claimed_subspace_check(ids, lambda pid: recovery[pid][0], whole.__getitem__, label, record["dim"])
    evidence["subspace"] = {**record, "path": spec.subspace.path, "whole_recovery": rounded([whole[p] for p in
                                                                                           sorted(whole)]),
                            "dormant_pathway": dormant}
    evidence["notes"].append(f"Patched in the claimed {record['dim']}-dimensional subspace of the {record['width']}-"
                             f"wide site ({spec.subspace.path}, sha256 {record['sha256'][:12]}): recovery "
                             f"{dormant['subspace']:.4g}, the whole component's {dormant['whole']:.4g}.")
    if not dormant["flagged"]:
        return outcome
    evidence["notes"].append(f"**Dormant pathway flagged**: {dormant['reason']}")
    return flag_dormant(outcome, dormant)


def _reorder(batch, order):
    idx = [batch.prompt_ids.index(pid) for pid in order]
    return type(batch)(batch.input_ids[idx], batch.attention_mask[idx], batch.target_ids[idx], list(order))


@evidence_for("patching")
def patching_sweep(ctx: RunContext) -> EvidenceResult:
    from interventions.patching import normalized

    claim, spec = ctx.lc.claim, ctx.lc.claim.intervention
    families, seeds = ctx.lc.families(), claim.controls.seeds
    absent = [f for f in families if f not in ctx.lc.suite.suite.pairs]
    if absent:
        raise NoPatchingEvidence(f"the suite has no counterfactual pairs for {absent}; "
                                 f"families with pairs: {sorted(ctx.lc.suite.suite.pairs)}")
    config = getattr(ctx.loaded.config, "text_config", ctx.loaded.config)
    comps = spec.components(ctx.adapter, config, ctx.n_layers)
    labels = [c.label for c in comps]
    sampled = sample_pairs(ctx.lc.suite, seeds, families, claim.suite.prompts_per_family)
    unique = {p.id: p for per in sampled.values() for ps in per.values() for p in ps}
    encoded, refused = {}, []
    for pid, pair in sorted(unique.items()):
        clean, corrupt, problem = _encode_pair(ctx.loaded.tokenizer, pair, claim.suite.chat_template)
        if problem:
            refused.append(problem)
        else:
            encoded[pid] = (clean, corrupt)
    ctx.progress.start(max(1, len(encoded)), f"{claim.id}: {len(comps)} components x {len(encoded)} pairs")
    claimed_basis = _claimed_basis(ctx, comps[0], config) if spec.subspace is not None else None
    units = _pair_units(ctx, spec, comps, list(encoded.values()), claimed=claimed_basis)
    informative = {pid for pid, u in units.items() if abs(u["clean"] - u["corrupt"]) >= spec.min_gap}
    recovery = {pid: rounded([normalized(spec.direction, u["clean"], u["corrupt"], p) for p in u["patched"]])
                for pid, u in units.items() if pid in informative}
    kept = [f for f in families if all(any(p.id in recovery for p in sampled[s][f]) for s in seeds)]
    if not kept:
        raise NoPatchingEvidence(f"no informative pairs: {len(refused)} refused, {len(units) - len(informative)} "
                                 f"with |LD_clean - LD_corrupt| < {spec.min_gap}")
    table = [[[mean(recovery[p.id][i] for p in sampled[s][f] if p.id in recovery) for i in range(len(comps))]
              for f in kept] for s in seeds]
    trivial = [c.label for c in comps if spec.is_trivial(c, ctx.n_layers)]
    named = named_components(claim.acceptance)
    # a trivially recovering component can neither support a claim nor, as a competitor, refute one
    judged = [i for i, label in enumerate(labels) if label not in trivial or label in named]
    ids = {str(s): {f: [p.id for p in sampled[s][f] if p.id in recovery] for f in kept} for s in seeds}
    prompt_table = PromptTable.from_samples({pid: [v[i] for i in judged] for pid, v in recovery.items()}, ids,
                                            [labels[i] for i in judged])
    outcome = claim.acceptance.evaluate(prompt_table)
    notes = [f"{spec.direction} patching; {len(informative)} informative pairs of {len(unique)} sampled; "
             f"{len(refused)} refused (alignment); {len(units) - len(informative)} uninformative "
             f"(|LD_clean - LD_corrupt| < {spec.min_gap})."]
    if trivial:
        notes.append(f"Trivial by construction, not a finding: {', '.join(trivial)} (full residual at the last "
                     "layer carries the whole clean run to the logits); left out of the comparison unless named.")
    notes += [f"Families without informative pairs in every seed, dropped: {sorted(set(families) - set(kept))}"] \
        if len(kept) < len(families) else []
    per_seed = per_seed_pooled(table, len(labels))
    evidence = {
        "kind": "component_sweep", "metric": "recovery", "method": f"patching ({spec.direction})", "target": spec.target,
        "labels": labels, "families": kept, "seeds": seeds, "effects": {"recovery": table},
        "samples": {str(s): {f: [p.id for p in ps] for f, ps in fam.items()} for s, fam in sampled.items()},
        "per_prompt": {"recovery": dict(sorted(recovery.items()))}, "judged_samples": ids,
        "refused_pairs": refused, "uninformative_pairs": sorted(set(units) - informative), "trivial": trivial,
        "notes": notes, "controls": {"seeds": replication_summary(per_seed, labels, seeds)},
        "resources": {"peak_rss_mb": peak_rss_mb()},
    }
    ran = {"seeds"}
    flat = {s: [pid for f in kept for pid in ids[str(s)][f]] for s in seeds}
    if claimed_basis is not None:
        outcome = _judge_claimed_subspace(spec, claimed_basis[1], labels[0], units, recovery, ids, evidence, outcome)

    def recoveries(comps_, seed=None, **kw):
        pids = flat[seed] if seed is not None else sorted(recovery)
        got = _pair_units(ctx, spec, comps_, [encoded[pid] for pid in pids], drawn=True, **kw)
        return {pid: [normalized(spec.direction, u["clean"], u["corrupt"], p) for p in u["patched"]]
                for pid, u in got.items()}

    claimed = getattr(claim.acceptance, "component", None)
    observed = lambda seed, pid: recovery[pid][labels.index(claimed)]  # noqa: E731
    if claim.controls.random_component is not None:
        from controls import random_component

        outcome, evidence["controls"]["random_component"] = random_component.run(
            ctx, claimed, comps, flat, observed, lambda seed, null: recoveries(null, seed), outcome)
        ran.add("random_component")
    if claim.controls.random_subspace is not None:
        from controls import random_subspace

        outcome, record = random_subspace.run(
            ctx, claimed, comps, flat, observed, lambda seed, comp, n, k: recoveries(
                [comp], seed, subspace={"seed": int(seed), "n": n, "dim": k}), outcome,
            claimed_dim=claimed_basis[1]["dim"] if claimed_basis is not None else None)
        evidence["controls"]["random_subspace"] = record
        notes += [f"**Dormant pathway flagged**: {record['dormant_pathway']['reason']}"] \
            if record["dormant_pathway"]["flagged"] else []
        ran.add("random_subspace")
    if claim.controls.negative_position is not None:
        from controls import negative_position

        outcome, evidence["controls"]["negative_position"] = negative_position.run(
            ctx, claimed, comps, ids, lambda pid: observed(None, pid),
            lambda comp: {pid: v[0] for pid, v in recoveries([comp]).items()}, outcome)
        ran.add("negative_position")
    if claim.controls.shuffled_label is not None:
        from controls import shuffled_pairs

        outcome, evidence["controls"]["shuffled_label"] = shuffled_pairs.run(
            ctx, spec, comps, encoded, {str(s): ids[str(s)] for s in seeds}, recovery, units, outcome)
        ran.add("shuffled_label")
    trivially_named = [label for label in named if label in trivial]
    if trivially_named and outcome.verdict is not Verdict.ERRORED:
        outcome = Outcome(Verdict.INCONCLUSIVE, outcome.reasons + [
            f"{', '.join(map(str, trivially_named))} recover(s) trivially (last-layer residual carries the whole "
            "clean run): not a finding either way"], outcome.summary | {"strong": False})
    return EvidenceResult(outcome, evidence, kinds={"patching"}, controls_run=ran, strong=is_strong(outcome))
