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

import json
import math
import time

from audit.criteria.steering import CONTROL_NAMES, cell_key
from audit.evidence.base import EvidenceResult, RunContext, evidence_for
from audit.memory import peak_rss_mb
from audit.stats import mean

STEERING_VERSION = 3  # bump when the numbers this builder produces change
EXAMPLE_PROMPTS = 3
EXAMPLE_TOKENS = 24


class ControlDidNotRun(RuntimeError):
    """A configured control produced no null samples."""


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


# --------------------------------------------------------------------------- scoring

class _SeedModel:
    """Lazily built engines and directions of one seed (only when a unit is not cached)."""

    def __init__(self, ctx: RunContext, enc: dict, seed: int, layers: list[int]):
        self.ctx, self.enc, self.seed, self.layers = ctx, enc, seed, layers
        self._eval = self._coll = self._dirs = self._acts = self._base = self._cbase = None
        self.rows = 0  # (steering vector, scored unit) rows computed: the cost of this seed's units

    @property
    def model(self):
        return self.ctx.loaded.model

    def engine(self):
        from interventions.steering import PromptEngine

        if self._eval is None:
            self._eval = PromptEngine(self.model, self.ctx.adapter, self.ctx.loaded.tokenizer, self.enc["eval"],
                                      self.ctx.lc.claim.intervention.positions)
        return self._eval

    def coll_engine(self):
        from interventions.steering import PromptEngine

        if self._coll is None:
            self._coll = PromptEngine(self.model, self.ctx.adapter, self.ctx.loaded.tokenizer, self.enc["collateral"],
                                      self.ctx.lc.claim.intervention.positions)
        return self._coll

    def activations(self):
        from interventions.steering import capture_activations

        if self._acts is None:
            d = self.ctx.lc.claim.intervention.direction
            tok = self.ctx.loaded.tokenizer
            self._acts = {key: capture_activations(self.model, self.ctx.adapter, tok, self.enc[key], self.layers,
                                                   d.position, self.ctx.options.batch_size)
                          for key in ("positive", "negative")}
        return self._acts

    def directions(self) -> dict:
        """{layer: (unit direction, raw norm)}."""
        from interventions.steering import diff_of_means, load_direction_file

        if self._dirs is None:
            spec = self.ctx.lc.claim.intervention
            if spec.direction.source == "contrastive":
                acts = self.activations()
                self._dirs = {layer: diff_of_means(acts["positive"][layer], acts["negative"][layer])
                              for layer in self.layers}
            else:
                path = self.ctx.lc.path.parent / spec.direction.path
                self._dirs = {layer: (v, 1.0) for layer, v in
                              load_direction_file(path, spec.direction.key, self.layers, _hidden(self.ctx),
                                                  self.ctx.n_layers).items()}
        return self._dirs

    def scores(self, steer):
        """[V, P] behavior score per vector and eval prompt (V = 1 unsteered)."""
        import torch

        from interventions.steering import stop_token_ids

        claim = self.ctx.lc.claim
        metric, behavior = claim.metric.kind, claim.intervention.behavior
        eng = self.engine()
        V = 1 if steer is None else steer.vectors.shape[0]
        if metric == "behavior_logprob":
            self.rows += V * sum(len(c) for c in self.enc["conts"])
            return torch.logsumexp(eng.sequence_logprobs(steer, self.enc["conts"]), dim=-1)
        self.rows += V * len(self.enc["eval"])
        gens = eng.generate(steer, behavior.max_new_tokens, stop_token_ids(self.model, self.ctx.loaded.tokenizer))
        tok = self.ctx.loaded.tokenizer
        return torch.tensor([[_score_text(metric, behavior, toks, tok) for toks in row] for row in gens])

    def base(self):
        if self._base is None:
            self._base = self.scores(None)[0]
        return self._base

    def collateral_base(self):
        if self._cbase is None:
            self._cbase = self.collateral_logprobs(None)[0]
        return self._cbase

    def collateral_logprobs(self, steer):
        self.rows += (1 if steer is None else steer.vectors.shape[0]) * len(self.enc["collateral"])
        return self.coll_engine().answer_logprobs(steer)


def _score_text(metric: str, behavior, toks: list[int], tok) -> float:
    if metric == "generation_length":
        return len(toks) / behavior.max_new_tokens
    text = tok.decode(toks, skip_special_tokens=True)
    if metric == "generation_phrase":
        low = text.lower()
        return float(any(m.lower() in low for m in behavior.match))
    if metric == "generation_json":
        try:
            json.loads(text.strip())
            return 1.0
        except ValueError:
            return 0.0
    raise ValueError(f"unknown steering metric {metric}")


def _family_effects(enc: dict, delta) -> dict:
    """{family: mean over its prompts} of a [P] tensor."""
    fams = {}
    for f, d in zip(enc["eval_fams"], delta.tolist()):
        fams.setdefault(f, []).append(d)
    return {f: mean(v) for f, v in fams.items()}


def _pooled(by_family: dict) -> float:
    return mean(by_family.values())


def _observed_unit(sm: _SeedModel, layers, alphas, spec) -> dict:
    import torch

    from interventions.steering import Steer, kl_rows

    base = sm.base()
    cbase = sm.collateral_base()
    dirs = sm.directions()
    unit = {"cells": {}, "base": _family_effects(sm.enc, base),
            "direction": {str(layer): {"raw_norm": dirs[layer][1], "vector": [round(x, 6) for x in dirs[layer][0].tolist()]}
                          for layer in layers}}
    unit["noise"] = {}
    for layer in layers:
        for i, alpha in enumerate(alphas):
            vecs = dirs[layer][0][None]
            if i == 0:  # a zero vector through the same steered path: the measured within-run numerical noise
                vecs = torch.cat([vecs, torch.zeros_like(vecs)])
            steer = Steer(layer, vecs, alpha, spec.scale, spec.positions)
            scores, clp = sm.scores(steer), sm.collateral_logprobs(steer)
            delta = scores[0] - base
            kl = kl_rows(cbase, clp)[0]
            if i == 0:
                unit["noise"][str(layer)] = {"effect": float((scores[1] - base).abs().max()),
                                             "collateral": float(kl_rows(cbase, clp[1:])[0].abs().max())}
            fam = _family_effects(sm.enc, delta)
            unit["cells"][cell_key(layer, alpha)] = {"by_family": fam, "effect": _pooled(fam),
                                                     "collateral": float(kl.mean()),
                                                     "collateral_max": float(kl.max()),
                                                     "per_prompt_effect": [float(x) for x in delta.tolist()],
                                                     "per_prompt_collateral": [float(x) for x in kl.tolist()]}
    return unit


def _null_unit(sm: _SeedModel, control: str, layer: int, alpha: float, n: int, spec) -> dict:
    from controls import random_vector, shuffled_label
    from interventions.steering import Steer

    observed, raw_norm = sm.directions()[layer]
    if control == "random_vector":
        vecs = random_vector.random_directions(sm.seed, layer, n, observed.shape[0])
        diag = random_vector.describe(vecs, observed)
    elif control == "shuffled_label":
        if spec.direction.source != "contrastive":
            raise ControlDidNotRun("shuffled_label needs contrastive labels; a direction from a file has none")
        acts = sm.activations()
        pos, neg = acts["positive"][layer], acts["negative"][layer]
        # scaled by the real direction's norm, not their own: the un-normalised statistic
        vecs = shuffled_label.shuffled_directions(pos, neg, sm.seed, layer, n, relative_to=raw_norm)
        diag = shuffled_label.describe(vecs, observed, len(pos), len(neg), sm.seed, layer)
    else:
        raise ControlDidNotRun(f"unknown control {control}")
    scores = sm.scores(Steer(layer, vecs, alpha, spec.scale, spec.positions))  # all n draws as one batch
    base = sm.base()
    effects = [_pooled(_family_effects(sm.enc, row - base)) for row in scores]
    if len(effects) != n or not all(math.isfinite(e) for e in effects):
        raise ControlDidNotRun(f"{control} at {cell_key(layer, alpha)} produced {len(effects)} finite of {n} samples")
    return {"effects": effects, "diagnostics": diag}


def _examples_unit(sm: _SeedModel, layer: int, alpha: float, spec) -> dict:
    """A few greedy answers, unsteered and steered at the judged cell (for the report)."""
    from interventions.steering import PromptEngine, Steer, stop_token_ids

    tok = sm.ctx.loaded.tokenizer
    prompts = sm.enc["eval"][:EXAMPLE_PROMPTS]
    eng = PromptEngine(sm.model, sm.ctx.adapter, tok, prompts, spec.positions)
    stops = stop_token_ids(sm.model, tok)
    base = eng.generate(None, EXAMPLE_TOKENS, stops)[0]
    steered = eng.generate(Steer(layer, sm.directions()[layer][0][None], alpha, spec.scale, spec.positions),
                           EXAMPLE_TOKENS, stops)[0]
    return {"cell": cell_key(layer, alpha),
            "rows": [{"prompt": pid, "base": tok.decode(b, skip_special_tokens=True),
                      "steered": tok.decode(s, skip_special_tokens=True)}
                     for pid, b, s in zip(sm.enc["eval_ids"], base, steered)]}


# --------------------------------------------------------------------------- the builder

def _hidden(ctx: RunContext) -> int:
    return getattr(ctx.loaded.config, "text_config", ctx.loaded.config).hidden_size


def _direction_source(ctx: RunContext, layers: list[int]):
    """``"contrastive"``, or for a file the provenance mapping (file, sha256, format, key and norm per
    layer); reading the file here checks it before any model pass."""
    d = ctx.lc.claim.intervention.direction
    if d.source != "file":
        return d.source
    from interventions.directions import read_direction_file

    return read_direction_file(ctx.lc.path.parent / d.path, d.key, layers, _hidden(ctx), ctx.n_layers).source


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

    t0 = time.perf_counter()
    lc, claim = ctx.lc, ctx.lc.claim
    spec, acc, cache = claim.intervention, claim.acceptance, ctx.options.evidence_cache
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
    seed_models = {s: _SeedModel(ctx, enc[s], s, layers) for s in seeds}
    n_units = len(seeds) * (1 + len(required)) + 1
    ctx.progress.start(n_units, f"{claim.id}: {len(seeds)} seeds x {len(layers)} layers x {len(alphas)} alphas"
                       + (f", nulls {', '.join(required)}" if required else ""))
    computed = cached = 0

    def through_cache(key, compute):
        nonlocal computed, cached
        value = cache.get(key)
        if value is None:
            value = compute()
            cache.put(key, value)
            computed += 1
        else:
            cached += 1
        ctx.progress.advance(1)
        return value

    observed = {s: through_cache(unit_key(kind="steer_observed", seed=s, enc=enc[s], **common),
                                 lambda s=s: _observed_unit(seed_models[s], layers, alphas, spec)) for s in seeds}
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
    control_cells = acc.control_cells(ev)
    ev["control_cells"] = control_cells
    by_cell = {cell_key(layer, a): (layer, a) for layer in layers for a in alphas}
    for control in required:
        n = getattr(claim.controls, control).n
        ev["nulls"][control], ev["null_diagnostics"][control] = {}, {}
        for c in control_cells:
            layer, alpha = by_cell[c]
            units = [through_cache(unit_key(kind="steer_null", control=control, n=n, cell=c, seed=s, enc=enc[s],
                                            **common),
                                   lambda s=s: _null_unit(seed_models[s], control, layer, alpha, n, spec))
                     for s in seeds]
            if any(len(u["effects"]) != n for u in units):
                raise ControlDidNotRun(f"{control} at {c}: expected {n} null samples per seed")
            ev["nulls"][control][c] = [u["effects"] for u in units]
            ev["null_diagnostics"][control][c] = {str(s): u["diagnostics"] for s, u in zip(seeds, units)}
    first = control_cells[0]
    ev["examples"] = through_cache(unit_key(kind="steer_examples", seed=seeds[0], cell=first, enc=enc[seeds[0]],
                                            **common),
                                   lambda: _examples_unit(seed_models[seeds[0]], *by_cell[first], spec))
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
    outcome = acc.evaluate_steering(ev)
    ev["controls"] = _control_summary(ev, outcome.summary)
    ev["resources"] = {"units_computed": computed, "units_from_cache": cached, "peak_rss_mb": peak_rss_mb(),
                       "steered_rows_computed": sum(m.rows for m in seed_models.values()),
                       "evidence_s": round(time.perf_counter() - t0, 2)}
    ran = {"seeds"} | {c for c in required if c in ev["nulls"] and ev["nulls"][c]}
    return EvidenceResult(outcome, ev, kinds={"steering"}, controls_run=ran,
                          strong=bool(outcome.summary.get("strong", False)), waived=bool(waived))


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
    return out
