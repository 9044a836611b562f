"""Ops of ``steering``: per seed, the observed effects of every (layer, alpha) cell, the null
draws of a control at one cell, and a few example generations (see :mod:`audit.evidence.steering`
for what they mean). A seed's engines and direction are built once per process (the claim's memo)
and shared by that seed's tasks."""

from __future__ import annotations

import json
import math

from audit.criteria.steering import cell_key
from audit.stats import mean
from audit.unit_ops import unit_op

EXAMPLE_PROMPTS = 3
EXAMPLE_TOKENS = 24


class ControlDidNotRun(RuntimeError):
    """A configured control produced no null samples."""


# --------------------------------------------------------------------------- scoring

class _SeedModel:
    """Lazily built engines and directions of one seed (only when a unit is not cached)."""

    def __init__(self, ctx, enc: dict, seed: int, layers: list[int]):
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
                              load_direction_file(path, spec.direction.key, self.layers, hidden_size(self.ctx),
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


def hidden_size(ctx) -> int:
    return getattr(ctx.loaded.config, "text_config", ctx.loaded.config).hidden_size


def seed_model(ctx, seed: int, enc: dict, layers: list[int]) -> _SeedModel:
    """The seed's engines and direction, built once per process for the claim."""
    key = ("steering.seed", seed)
    if key not in ctx.memo:
        ctx.memo[key] = _SeedModel(ctx, enc, seed, layers)
    return ctx.memo[key]


@unit_op("steering.observed")
def observed(ctx, seed: int, enc: dict, layers: list[int], alphas: list[float], key: str) -> dict:
    spec = ctx.lc.claim.intervention
    return {key: _observed_unit(seed_model(ctx, seed, enc, layers), layers, alphas, spec)}


@unit_op("steering.null")
def null(ctx, seed: int, enc: dict, layers: list[int], control: str, layer: int, alpha: float, n: int,
         key: str) -> dict:
    spec = ctx.lc.claim.intervention
    return {key: _null_unit(seed_model(ctx, seed, enc, layers), control, layer, alpha, n, spec)}


@unit_op("steering.examples")
def examples(ctx, seed: int, enc: dict, layers: list[int], layer: int, alpha: float, key: str) -> dict:
    spec = ctx.lc.claim.intervention
    return {key: _examples_unit(seed_model(ctx, seed, enc, layers), layer, alpha, spec)}


@unit_op("steering.prompted")
def prompted(ctx, seed: int, enc: dict, layers: list[int], instructed: dict, key: str) -> dict:
    """The prompting baseline of one seed (controls/prompting_baseline.py): per eval prompt the
    unsteered behaviour score with the instruction (``instructed``: the instructed eval prompts'
    ids and, for behavior_logprob, continuations) and without it; no steering vector."""
    plain = seed_model(ctx, seed, enc, layers)
    memo = ("steering.prompted", seed)
    if memo not in ctx.memo:
        ctx.memo[memo] = _SeedModel(ctx, {**enc, **instructed}, seed, layers)
    return {key: {"prompted": [float(x) for x in ctx.memo[memo].base().tolist()],
                  "unprompted": [float(x) for x in plain.base().tolist()]}}
