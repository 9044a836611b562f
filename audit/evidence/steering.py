"""Evidence for ``kind: steering``: behavior effect, collateral KL and the two null controls, per seed.

Per seed the whole pipeline runs again: the seed samples the eval prompts, the collateral prompts
and the contrastive examples; the direction is re-estimated from them; the random vectors and the
label shuffles are drawn from that seed. Observed effects are computed for every (layer, alpha)
cell and kept *per prompt* (steered minus unsteered behaviour score per eval prompt, KL per
collateral prompt: the criteria's intervals resample prompts); the nulls only at the cells the
acceptance criterion judges (``control_cells``: the claimed cell, or the best layer for a
layer-sensitivity claim), each with N draws applied exactly like the real direction. The N null
directions of one seed go to the engine as one batch of steering vectors (``Steer.vectors`` is
[N, H]; the engine scores every (vector, prompt) pair in calls of ``ROWS_PER_CALL`` rows), so 199
draws cost 199 x prompts short rows, not 199 separate passes over the prompts.

Shuffled-label directions are divided by the real direction's raw norm (controls/shuffled_label.py):
the null compares the un-normalised statistic; random vectors are unit like the real direction.

Evidence units (observed per seed; null per seed x control x cell; example generations) go through
the content-addressed cache, so an interrupted run resumes and an unchanged re-run loads no weights.
A configured control that produces no null samples raises: the claim ends errored, never passed.
"""

from __future__ import annotations

import time

from audit.criteria.base import judge
from audit.criteria.steering import CONTROL_NAMES, cell_key
from audit.evidence.base import EvidenceResult, RunContext, evidence_for
from audit.evidence_models.judged import SteeringSweep
from audit.evidence import steering_prompting as prompting
from audit.memory import peak_rss_mb
from controls import prompting_baseline

STEERING_VERSION = 3  # bump when the numbers this builder produces change
from interventions.compute.steering import ControlDidNotRun, hidden_size  # noqa: F401  (raised by its ops)


# --------------------------------------------------------------------------- sampling and encoding

def _samples(lc, collateral_suite, seeds) -> dict:
    claim, spec = lc.claim, lc.claim.intervention
    out = {}
    for seed in seeds:
        s = {"eval": {f: lc.suite.sample(seed, f, claim.suite.prompts_per_family) for f in lc.families()},
             "collateral": {f: collateral_suite.sample(seed, f, spec.collateral.prompts_per_family)
                            for f in spec.collateral.families}}
        d = spec.direction
        if d.source == "contrastive":
            k = d.per_set or 10**9
            s["positive"] = lc.suite.sample(seed, d.positive, k)
            s["negative"] = lc.suite.sample(seed, d.negative, k)
        out[seed] = s
    return out


def _encode_seed(tok, spec, metric: str, chat: bool, s: dict) -> dict:
    from interventions.steering import continuation_ids, render_ids

    evals = [(f, p) for f, ps in s["eval"].items() for p in ps]
    enc = {"eval_fams": [f for f, _ in evals], "eval_ids": [p.id for _, p in evals],
           "eval": [render_ids(tok, p.prompt, chat)[0] for _, p in evals],
           "collateral": [render_ids(tok, p.prompt, chat)[0] for ps in s["collateral"].values() for p in ps],
           "collateral_ids": [p.id for ps in s["collateral"].values() for p in ps],
           "collateral_fams": [f for f, ps in s["collateral"].items() for _ in ps]}
    if metric == "behavior_logprob":
        phrases = spec.behavior.phrases
        enc["conts"] = [[continuation_ids(tok, p.prompt, ph, chat)[1] for ph in (phrases or [p.answer])]
                        for _, p in evals]
    d = spec.direction
    if d.source == "contrastive":
        for key in ("positive", "negative"):
            examples = []
            for p in s[key]:
                if d.position == "answer_mean":
                    pids, aids = continuation_ids(tok, p.prompt, p.answer, chat)
                    examples.append((pids + aids, len(pids)))
                else:
                    pids = render_ids(tok, p.prompt, chat)[0]
                    examples.append((pids, len(pids)))
            enc[key] = examples
    return enc


# --------------------------------------------------------------------------- the builder

def _direction_source(ctx: RunContext, layers: list[int]):
    """``"contrastive"``, or for a file the provenance mapping (file, sha256, format, key and norm per
    layer); reading the file here checks it before any model pass."""
    d = ctx.lc.claim.intervention.direction
    if d.source != "file":
        return d.source
    from interventions.directions import read_direction_file

    return read_direction_file(ctx.lc.path.parent / d.path, d.key, layers, hidden_size(ctx), ctx.n_layers).source


def _cos(a: list[float], b: list[float]) -> float:
    """Cosine similarity (NaN when either vector is zero)."""
    import numpy as np

    a, b = np.asarray(a, dtype=float), np.asarray(b, dtype=float)
    norms = float(np.linalg.norm(a) * np.linalg.norm(b))
    return float(a @ b) / norms if norms else float("nan")


@evidence_for("steering")
def steering_evidence(ctx: RunContext) -> EvidenceResult:
    from audit.cache import unit_key
    from audit.suite import load_suite, suite_path
    from audit.units import Task, cached, run_tasks

    t0 = time.perf_counter()
    lc, claim = ctx.lc, ctx.lc.claim
    spec, acc = claim.intervention, claim.acceptance
    seeds, metric, chat = claim.controls.seeds, claim.metric.kind, claim.suite.chat_template
    layers, alphas = spec.layer_indices(ctx.n_layers), list(spec.alphas)
    required = [c for c in CONTROL_NAMES if getattr(claim.controls, c, None) is not None]
    waived = dict(claim.controls.waive)
    cpath = suite_path(spec.collateral.suite, lc.path)
    csuite = lc.suite if cpath == lc.suite.path else load_suite(cpath)
    samples = _samples(lc, csuite, seeds)
    tok = ctx.loaded.tokenizer
    enc = {s: _encode_seed(tok, spec, metric, chat, samples[s]) for s in seeds}
    spec_json = spec.model_dump(mode="json", exclude={"why"})
    direction_source = _direction_source(ctx, layers)
    common = dict(model=ctx.loaded.weights_sha256, dtype=ctx.loaded.dtype, spec=spec_json, metric=metric,
                  version=STEERING_VERSION)
    if isinstance(direction_source, dict):  # a changed file must not reuse cached units
        common["direction_sha256"] = direction_source["sha256"]
    n_units = len(seeds) * (1 + len(required) + (claim.controls.prompting_baseline is not None)) + 1
    ctx.progress.start(n_units, f"{claim.id}: {len(seeds)} seeds x {len(layers)} layers x {len(alphas)} alphas"
                       + (f", nulls {', '.join(required)}" if required else ""))
    counts = {"computed": 0, "cached": 0}

    def run(op: str, keyed: dict, per_seed: dict | None = None, **args) -> dict:
        """``{name: value}`` of one ``op`` task per ``name: (seed, unit key)``, through the cache
        (``per_seed[seed]``: arguments of that seed's task only)."""
        found, missing = cached(ctx, [k for _, k in keyed.values()])
        tasks = [Task(op, {"seed": sd, "enc": enc[sd], "layers": layers, "key": k, **args, **(per_seed or {}).get(sd, {})},
                      (k,), f"{op} seed {sd}")
                 for sd, k in keyed.values() if k in missing]
        values, _ = run_tasks(ctx, tasks, lookup=False)
        ctx.progress.advance(len(found))
        counts["computed"] += len(tasks)
        counts["cached"] += len(found)
        return {name: {**found, **values}[k] for name, (_, k) in keyed.items()}

    observed = run("steering.observed", {s: (s, unit_key(kind="steer_observed", seed=s, enc=enc[s], **common))
                                         for s in seeds}, alphas=alphas)
    cells = [cell_key(layer, a) for layer in layers for a in alphas]
    ev = {
        "kind": "steering", "metric": metric, "layers": layers, "alphas": alphas, "cells": cells,
        "scale": spec.scale, "positions": spec.positions, "seeds": seeds, "families": lc.families(),
        "collateral_families": list(spec.collateral.families), "direction_source": direction_source,
        "effect": {c: [observed[s]["cells"][c]["effect"] for s in seeds] for c in cells},
        "effect_by_family": {c: {f: [observed[s]["cells"][c]["by_family"][f] for s in seeds] for f in lc.families()}
                             for c in cells},
        "collateral": {c: [observed[s]["cells"][c]["collateral"] for s in seeds] for c in cells},
        "collateral_max": {c: [observed[s]["cells"][c]["collateral_max"] for s in seeds] for c in cells},
        "base": {f: [observed[s]["base"][f] for s in seeds] for f in lc.families()},
        "prompts": {"eval": [{"ids": enc[s]["eval_ids"], "families": enc[s]["eval_fams"]} for s in seeds],
                    "collateral": [{"ids": enc[s]["collateral_ids"], "families": enc[s]["collateral_fams"]}
                                   for s in seeds]},
        "per_prompt": {c: {"effect": [observed[s]["cells"][c]["per_prompt_effect"] for s in seeds],
                           "collateral": [observed[s]["cells"][c]["per_prompt_collateral"] for s in seeds]}
                       for c in cells},
        "numerical_noise": {cell_key(layer, a): {k: max(observed[s]["noise"][str(layer)][k] for s in seeds)
                                                 for k in ("effect", "collateral")}
                            for layer in layers for a in alphas},
        "required_controls": required, "waived": waived, "nulls": {}, "null_diagnostics": {},
    }
    control_cells = acc.control_cells(SteeringSweep.of(ev, claim))
    ev["control_cells"] = control_cells
    by_cell = {cell_key(layer, a): (layer, a) for layer in layers for a in alphas}
    for control in required:
        n = getattr(claim.controls, control).n
        ev["nulls"][control], ev["null_diagnostics"][control] = {}, {}
        for c in control_cells:
            layer, alpha = by_cell[c]
            by_seed = run("steering.null", {s: (s, unit_key(kind="steer_null", control=control, n=n, cell=c, seed=s,
                                                            enc=enc[s], **common)) for s in seeds},
                          control=control, layer=layer, alpha=alpha, n=n)
            units = [by_seed[s] for s in seeds]
            if any(len(u["effects"]) != n for u in units):
                raise ControlDidNotRun(f"{control} at {c}: expected {n} null samples per seed")
            ev["nulls"][control][c] = [u["effects"] for u in units]
            ev["null_diagnostics"][control][c] = {str(s): u["diagnostics"] for s, u in zip(seeds, units)}
    baseline = prompting.plan(ctx, run, lambda s, **extra: unit_key(seed=s, enc=enc[s], **extra, **common), tok, spec,
                              metric, chat, samples, seeds)
    if baseline is not None:
        ev[prompting.NAME] = baseline
    first = control_cells[0]
    ev["examples"] = run("steering.examples", {"rows": (seeds[0], unit_key(
        kind="steer_examples", seed=seeds[0], cell=first, enc=enc[seeds[0]], **common))},
        layer=by_cell[first][0], alpha=by_cell[first][1])["rows"]
    ev["direction"] = {str(layer): {"raw_norm_per_seed": [observed[s]["direction"][str(layer)]["raw_norm"] for s in seeds],
                                    "cos_between_seeds": [_cos(observed[a]["direction"][str(layer)]["vector"],
                                                               observed[b]["direction"][str(layer)]["vector"])
                                                          for i, a in enumerate(seeds) for b in seeds[i + 1:]]}
                       for layer in layers}
    ev["samples"] = {str(s): {"eval": enc[s]["eval_ids"], "collateral": enc[s]["collateral_ids"],
                              **({k: [p.id for p in samples[s][k]] for k in ("positive", "negative")}
                                 if spec.direction.source == "contrastive" else {})} for s in seeds}
    ev["n_prompts"] = {"eval_per_seed": len(enc[seeds[0]]["eval"]), "collateral_per_seed": len(enc[seeds[0]]["collateral"]),
                       **({"positive_per_seed": len(samples[seeds[0]]["positive"]),
                           "negative_per_seed": len(samples[seeds[0]]["negative"])}
                          if spec.direction.source == "contrastive" else {})}
    outcome, cap = judge(claim, ev), None
    if baseline is not None:
        outcome, _, cap = prompting_baseline.judge(ev, claim, outcome)
    ev["controls"] = _control_summary(ev, outcome.summary)
    ev["resources"] = {"units_computed": counts["computed"], "units_from_cache": counts["cached"],
                       "peak_rss_mb": peak_rss_mb(),
                       # rows computed in this process (on Ray, the workers computed them)
                       "steered_rows_computed": sum(m.rows for k, m in ctx.memo.items() if k[0] == "steering.seed"),
                       "evidence_s": round(time.perf_counter() - t0, 2)}
    ran = {"seeds"} | {c for c in required if c in ev["nulls"] and ev["nulls"][c]} | \
        ({prompting.NAME} if baseline is not None else set())
    return EvidenceResult(outcome, ev, kinds={"steering"}, controls_run=ran,
                          strong=bool(outcome.summary.get("strong", False)), waived=bool(waived), cap=cap,
                          cap_reason=prompting_baseline.BEATEN if cap else None)


def _control_summary(ev: dict, summary: dict) -> dict:
    """Compact per-control rows for the report's control tables (full nulls stay in the evidence)."""
    out = {}
    cell = summary.get("cell")
    if cell and cell in ev["effect"]:
        out["seeds"] = {"cell": cell, "effect_per_seed": ev["effect"][cell],
                        "effect_ci_pooled": summary.get("effect_ci") or summary.get("best_effect_ci"),
                        "collateral_per_seed": ev["collateral"][cell],
                        "collateral_ci_pooled": summary.get("collateral_ci")}
    for name, c in (summary.get("controls") or {}).items():
        row = {"status": c.get("status")}
        for k in ("p", "n_draws", "n_seeds", "observed", "median", "q75", "q_significance", "per_seed_p",
                  "max_abs_cos_with_observed", "median_abs_cos_with_observed", "median_norm_ratio"):
            if k in c:
                row[k] = c[k]
        row["reason"] = c.get("reason", "")
        out[name] = row
    if prompting_baseline.NAME in summary:
        rec = summary[prompting_baseline.NAME]
        out[prompting_baseline.NAME] = {"status": rec["status"], "cell": rec["cell"], "reason": rec["reason"],
                                        "intervals": rec["pooled"]["rows"]}
    return out
