"""``kind: steering`` — activation addition along a direction, swept over layers and strengths.

Direction
    ``direction.source: contrastive``: the difference of mean residual activations (the output of
    decoder layer L, i.e. the residual stream after it) between a positive and a negative set of
    suite prompts, at ``position`` ``last`` (the answer position of the rendered prompt),
    ``prompt_mean`` (mean over the prompt's tokens) or ``answer_mean`` (mean over the tokens of
    the example's answer, rendered after the prompt: contrastive answers, CAA style). One
    direction per steered layer, recomputed per seed from the examples that seed samples.
    ``direction.source: file``: vectors made elsewhere (safetensors, torch, numpy, steering-vectors
    ``layer_activations`` dicts, repeng control vectors), read by ``interventions/directions.py``.

Application (documented choice)
    The real direction is unit-normalised (d̂ = d / ||d||) and random-vector draws are unit too
    (the real direction's norm). Shuffled-label draws are divided by the *real* direction's norm
    ||d||, not their own (controls/shuffled_label.py): the null compares the un-normalised
    statistic, so a relabelling that keeps most labels is a shortened near-copy, not a full-strength
    copy. Vectors are applied as given: ``scale: norm`` (the default) adds
    ``alpha * ||h_t|| * vec`` to each steered position t (alpha is a fraction of that token's
    residual norm, so strengths are comparable across layers whose norms differ by orders of
    magnitude); ``scale: absolute`` adds ``alpha * vec`` (alpha in residual-stream units).

Batches
    ``Steer.vectors`` is [V, H]: V steering vectors (the real one, or all N null draws of a control
    at once). The engine scores every (vector, prompt) pair in calls of at most ``ROWS_PER_CALL``
    rows, reusing one unsteered prompt cache, so a null of N draws costs N x prompts short rows.

Positions
    ``positions: last`` steers the answer position and every position after it (each generated
    token, or each teacher-forced token of a scored phrase) — the study's ``h[last] += s * v``
    carried through generation. Nothing before the answer position changes, so the prompt's
    KV cache is computed once and shared by every steering vector (the fast path).
    ``positions: all`` also steers every prompt token (the prompt is recomputed per vector).

Scoring works in one forward pass (answer log-probabilities, teacher-forced phrases) and during
greedy generation; both run with the same hooks (``interventions/hooks.py``), which must fire.
"""

from __future__ import annotations

import contextlib
import math
from dataclasses import dataclass
from pathlib import Path
from typing import Annotated, ClassVar, Literal, Optional, Union

from pydantic import Field, PositiveInt, field_validator

from audit.spec import DistinctNames, Indices, Names, StrictModel
from audit.evidence_models.judged import SteeringSweep
from interventions.registry import intervention

# metric kinds a steering claim may use (listed in audit/metric_kinds.py)
STEERING_METRICS = ("behavior_logprob", "generation_length", "generation_phrase", "generation_json")
GENERATION_METRICS = ("generation_length", "generation_phrase", "generation_json")


class ContrastiveDirection(StrictModel):
    source: Literal["contrastive"] = Field(description="contrastive: the difference of mean activations of two "
                                                       "suite families, computed per seed")
    positive: str = Field(description="suite family of the positive examples (e.g. refusals)")
    negative: str = Field(description="suite family of the negative examples (e.g. compliances)")
    per_set: Optional[PositiveInt] = Field(None, description="examples sampled per set per seed (default: all)")
    position: Literal["last", "prompt_mean", "answer_mean"] = Field(
        "last", description="last: the answer position of the rendered prompt; prompt_mean: mean over prompt "
                            "tokens; answer_mean: mean over the example answer's tokens (rendered after the prompt)")


class FileDirection(StrictModel):
    source: Literal["file"] = Field(description="file: a vector made elsewhere, loaded from a file")
    path: str = Field(description="direction file, relative to the claim file: .safetensors, .pt/.pth (tensors, "
                                  "{layer: tensor} dicts, a steering-vectors layer_activations dict), .npy, .npz, "
                                  "or a repeng control-vector .gguf (interventions/directions.py)")
    key: Optional[str] = Field(None, description="tensor name used at every steered layer; default: per layer the "
                                                 "tensor naming it (12, '12', 'layers.12', 'direction.12', "
                                                 "'model.layers.12'), else the file's only tensor "
                                                 "([hidden] or [n_layers, hidden])")

    @field_validator("path")
    @classmethod
    def _suffix(cls, v):
        from interventions.directions import suffix_problem

        problem = suffix_problem(v)
        if problem:
            raise ValueError(problem)
        return v


Direction = Annotated[Union[ContrastiveDirection, FileDirection], Field(discriminator="source")]


class Behavior(StrictModel):
    phrases: DistinctNames = Field(default_factory=list, description="behavior_logprob: log P(any of these phrases) at "
                               "the answer position (teacher forced); empty: each eval prompt's suite answer")
    match: DistinctNames = Field(default_factory=list, description="generation_phrase: case-insensitive substrings "
                                 "that mark the behavior in a generated answer")
    max_new_tokens: PositiveInt = Field(16, le=256, description="generation metrics: greedy tokens per answer")


class Collateral(StrictModel):
    suite: str = Field("main", description="suite of the unrelated prompts (name or .yaml path relative to the claim)")
    families: Names = Field(description="unrelated families: KL(base || steered) at their answer")
    prompts_per_family: PositiveInt = Field(4, le=1000, description="per seed")


@intervention("steering")
class Steering(StrictModel):
    """Add a unit direction times alpha (norm-scaled or absolute) at a layer's output; sweep layers x alphas."""

    kind: Literal["steering"]
    direction: Direction = Field(description="the steering direction: `source` contrastive (computed from suite "
                                             "families) or file")
    layers: Indices = Field(description="layers whose output is steered (a sweep)")
    alphas: list[float] = Field(min_length=1, description="strengths (a sweep); see scale")
    scale: Literal["norm", "absolute"] = Field("norm", description="norm: h += alpha*||h||*d_hat per position; "
                                               "absolute: h += alpha*d_hat")
    positions: Literal["last", "all"] = Field("last", description="last: the answer position and everything "
                                              "generated after it; all: every position")
    behavior: Behavior = Field(default_factory=Behavior, description="what the metric scores as the behavior "
                                                                     "(phrases, matches, generation length)")
    collateral: Collateral = Field(description="unrelated prompts on which steering should change little (KL)")
    why: str = Field("", description="why this direction, layer and strength make the claim meaningful")

    evidence_type: ClassVar[type] = SteeringSweep
    # the study: "random-vector and shuffled-label controls are still required" for steering
    accepted_controls: ClassVar[frozenset[str]] = frozenset({"seeds", "random_vector", "shuffled_label",
                                                             "prompting_baseline"})
    required_controls: ClassVar[frozenset[str]] = frozenset({"seeds", "random_vector", "shuffled_label"})

    @field_validator("alphas")
    @classmethod
    def _alphas(cls, v):
        if any(a == 0 or not math.isfinite(a) for a in v):
            raise ValueError("alphas must be finite and non-zero (alpha 0 is the unsteered baseline, always measured)")
        if len(set(v)) != len(v):
            raise ValueError("alphas must be distinct")
        return v

    def layer_indices(self, n_layers: int) -> list[int]:
        return sorted(set(self.layers))

    def claim_problems(self, lc) -> list[tuple[tuple, str, str]]:
        """Cross-field checks (positioned by the schema): families exist, eval prompts are not the
        contrastive examples, the metric suits a steering claim, the judged cell is in the sweep."""
        from audit.suite import load_suite, suite_path

        out = []
        claim, known = lc.claim, lc.suite.family_names()
        evals = lc.families()
        if claim.metric.kind not in STEERING_METRICS:
            out.append((("metric", "kind"), f"metric '{claim.metric.kind}' does not measure a steering behavior",
                        "use one of " + ", ".join(STEERING_METRICS)))
        if claim.metric.kind == "generation_phrase" and not self.behavior.match:
            out.append((("intervention", "behavior"), "generation_phrase needs behavior.match: [phrases]", ""))
        if claim.metric.kind != "behavior_logprob" and self.behavior.phrases:
            out.append((("intervention", "behavior", "phrases"), "behavior.phrases is only used by behavior_logprob", ""))
        if isinstance(self.direction, ContrastiveDirection):
            for key in ("positive", "negative"):
                fam = getattr(self.direction, key)
                if fam not in known:
                    out.append((("intervention", "direction", key), f"unknown family '{fam}' in suite '{lc.suite.name}'",
                                f"known: {', '.join(known)}"))
                elif fam in evals:
                    out.append((("intervention", "direction", key), f"family '{fam}' is also an eval family: the "
                                "direction would be measured on the prompts it was estimated from",
                                "list only held-out families under suite.families"))
            if self.direction.positive == self.direction.negative:
                out.append((("intervention", "direction", "negative"), "positive and negative sets are the same family", ""))
        else:
            path = (lc.path.parent / self.direction.path)
            if not path.is_file():
                out.append((("intervention", "direction", "path"), f"direction file {path} not found", ""))
        spath = suite_path(self.collateral.suite, lc.path)
        if not spath.is_file():
            out.append((("intervention", "collateral", "suite"), f"suite file {spath} not found", ""))
        else:
            cknown = load_suite(spath).family_names() if spath != lc.suite.path else known
            for i, fam in enumerate(self.collateral.families):
                if fam not in cknown:
                    out.append((("intervention", "collateral", "families", i), f"unknown family '{fam}'",
                                f"known: {', '.join(cknown)}"))
        acc = claim.acceptance
        alpha = getattr(acc, "alpha", None)
        if alpha is not None and alpha not in self.alphas:
            out.append((("acceptance", "alpha"), f"alpha {alpha} is not in intervention.alphas {self.alphas}",
                        "the judged cell must be swept"))
        if acc.kind == "steering_ratio":
            for key in ("numerator", "denominator"):
                for i, fam in enumerate(getattr(acc, key)):
                    if fam not in evals:
                        out.append((("acceptance", key, i), f"'{fam}' is not an eval family (suite.families)",
                                    f"eval families: {', '.join(evals)}"))
        if acc.kind == "steering_layer_sensitivity" and len(self.layers) < 3:
            out.append((("intervention", "layers"), "a layer-sensitivity claim needs at least 3 layers", ""))
        return out


# =========================================================================== torch below

def model_device(model):
    from interventions.engine import model_device as device_of

    return device_of(model)


def _torch():
    import torch

    return torch


def _inference(fn):
    """Run ``fn`` under ``torch.inference_mode`` (torch imported lazily: the spec module stays light)."""
    import functools

    @functools.wraps(fn)
    def wrapped(*args, **kwargs):
        with _torch().inference_mode():
            return fn(*args, **kwargs)

    return wrapped


@dataclass
class Steer:
    """What to add: vectors [V, H] (one row per steering vector, applied as given: the real direction
    and random draws are unit, shuffled-label draws carry their norm relative to the real one), at
    ``layer``, times ``alpha``."""

    layer: int
    vectors: object  # torch.Tensor [V, H]
    alpha: float
    scale: str = "norm"
    positions: str = "last"


def unit(v):
    torch = _torch()
    n = v.norm(dim=-1, keepdim=True)
    if not bool(torch.all(n > 0)) or not bool(torch.isfinite(v).all()):
        raise ValueError("a steering direction has zero or non-finite norm")
    return v / n


def steering_hook(adapter, model, layer: int, row_vectors, alpha: float, scale: str, start_col: int = 0):
    """A Hook adding ``alpha * (||h|| or 1) * vec[row]`` to columns >= start_col of layer ``layer``'s output."""
    from interventions.hooks import Hook, first_output, replace_output

    def add(module, args, kwargs, output):
        h = first_output(output)
        v = row_vectors.to(h.device, h.dtype)[:, None, :]
        region = h[:, start_col:, :]
        delta = alpha * (region.norm(dim=-1, keepdim=True) * v if scale == "norm" else v.expand_as(region))
        h = torch_cat_cols(h[:, :start_col, :], region + delta) if start_col else h + delta
        return replace_output(output, h)

    return Hook(adapter.layers(model)[layer], add, f"layers.{layer}:steer")


def torch_cat_cols(a, b):
    return _torch().cat([a, b], dim=1)


# --------------------------------------------------------------------------- encoding

def render_ids(tokenizer, prompt: str, use_chat: bool, system: Optional[str] = None) -> tuple[list[int], bool]:
    from audit.encoding import render

    text, templated = render(tokenizer, prompt, use_chat, system)
    return list(tokenizer(text, add_special_tokens=not templated)["input_ids"]), templated


def continuation_ids(tokenizer, prompt: str, answer: str, use_chat: bool,
                     system: Optional[str] = None) -> tuple[list[int], list[int]]:
    """(prompt ids, answer ids): the answer tokenized as it continues the rendered prompt."""
    from audit.encoding import render

    text, templated = render(tokenizer, prompt, use_chat, system)
    add = not templated
    cont = answer if templated else " " + answer
    p = list(tokenizer(text, add_special_tokens=add)["input_ids"])
    full = list(tokenizer(text + cont, add_special_tokens=add)["input_ids"])
    if full[:len(p)] == p and len(full) > len(p):
        return p, full[len(p):]
    a = list(tokenizer(cont, add_special_tokens=False)["input_ids"])
    if not a:
        raise ValueError(f"answer {answer!r} tokenizes to nothing")
    return p, a


def left_pad(tokenizer, seqs: list[list[int]], device=None):
    """Left-padded ids and attention mask (moved to ``device`` when given)."""
    torch = _torch()
    pad = tokenizer.pad_token_id if tokenizer.pad_token_id is not None else (tokenizer.eos_token_id or 0)
    width = max(len(s) for s in seqs)
    ids = torch.full((len(seqs), width), pad, dtype=torch.long)
    mask = torch.zeros((len(seqs), width), dtype=torch.long)
    for i, s in enumerate(seqs):
        ids[i, width - len(s):] = torch.tensor(s, dtype=torch.long)
        mask[i, width - len(s):] = 1
    return (ids.to(device), mask.to(device)) if device is not None else (ids, mask)


def position_ids(mask):
    return (mask.cumsum(-1) - 1).clamp(min=0)


# --------------------------------------------------------------------------- directions

@_inference
def capture_activations(model, adapter, tokenizer, examples: list[tuple[list[int], int]], layers: list[int],
                        position: str, batch_size: int = 16) -> dict:
    """Per layer, one residual vector per example ([E, H], float32): the output of the layer at
    the last prompt token, or averaged over the prompt's / the answer's tokens.

    ``examples``: (token ids, number of prompt tokens); answer tokens follow the prompt tokens.
    """
    torch = _torch()
    from interventions.hooks import Hook, first_output, hooked, require_fired

    out = {layer: [None] * len(examples) for layer in layers}
    order = sorted(range(len(examples)), key=lambda i: (len(examples[i][0]), i))
    for start in range(0, len(order), batch_size):
        idx = order[start:start + batch_size]
        ids, mask = left_pad(tokenizer, [examples[i][0] for i in idx], device=model_device(model))
        store = {}

        def grab(layer):
            def fn(module, args, kwargs, output):
                store[layer] = first_output(output).detach().float()
                return output
            return fn

        hooks = [Hook(adapter.layers(model)[layer], grab(layer), f"layers.{layer}:capture") for layer in layers]
        with torch.inference_mode(), hooked(hooks):
            model.model(input_ids=ids, attention_mask=mask, position_ids=position_ids(mask), use_cache=False)
        require_fired(hooks)
        width = ids.shape[1]
        for row, i in enumerate(idx):
            seq, n_prompt = examples[i]
            off = width - len(seq)
            if position == "last":
                sl = slice(off + n_prompt - 1, off + n_prompt)
            elif position == "prompt_mean":
                sl = slice(off, off + n_prompt)
            else:
                if len(seq) <= n_prompt:
                    raise ValueError("answer_mean needs examples with answer tokens")
                sl = slice(off + n_prompt, width)
            for layer in layers:
                out[layer][i] = store[layer][row, sl].mean(0)
    return {layer: torch.stack(vs) for layer, vs in out.items()}


def diff_of_means(pos, neg):
    """Unit direction of mean(pos) - mean(neg), and the raw difference's norm."""
    d = pos.mean(0) - neg.mean(0)
    return unit(d[None])[0], float(d.norm())


def load_direction_file(path: Path, key: Optional[str], layers: list[int], hidden: int,
                        n_layers: Optional[int] = None) -> dict:
    """{layer: unit direction [H]} from a direction file (see FileDirection, interventions/directions.py)."""
    from interventions.directions import read_direction_file

    return read_direction_file(path, key, layers, hidden, n_layers).vectors


# --------------------------------------------------------------------------- the prompt engine

ROWS_PER_CALL = 64


def _cache_of(out):
    c = getattr(out, "cache", None)
    return c if c is not None else getattr(out, "past_key_values", None)


def _plain_kv_cache(cache) -> bool:
    layers = getattr(cache, "layers", None)
    return (type(cache).__name__ == "DynamicCache" and bool(layers)
            and all(type(layer).__name__ == "DynamicLayer" and hasattr(layer, "keys") for layer in layers))


class PromptEngine:
    """Steered scoring of a fixed set of prompts (each's last token is the answer position).

    Fast path (``positions: last`` on a plain KV cache): the prompt minus its last token is run
    once; every steering vector reuses that cache (tiled per row), so one steered evaluation costs
    a few tokens per prompt. Otherwise each call recomputes whole sequences (same numbers, slower).
    """

    def __init__(self, model, adapter, tokenizer, prompts: list[list[int]], positions: str = "last"):
        torch = _torch()
        if any(len(p) < 2 for p in prompts):
            raise ValueError("every steered prompt needs at least two tokens")
        self.model, self.adapter, self.tok, self.positions = model, adapter, tokenizer, positions
        self.ids, self.mask = left_pad(tokenizer, prompts, device=model_device(model))
        self.n = len(prompts)
        from interventions.engine import cache_kwarg

        self.kw = cache_kwarg(model)
        self.fast = False
        self._memo: dict = {}
        if positions == "last":
            with torch.inference_mode():
                out = model.model(input_ids=self.ids[:, :-1], attention_mask=self.mask[:, :-1],
                                  position_ids=position_ids(self.mask[:, :-1]), use_cache=True)
            cache = _cache_of(out)
            if cache is not None and _plain_kv_cache(cache):
                self.fast, self.cache = True, cache
                self.base_kv = [(layer.keys, layer.values) for layer in cache.layers]

    # one call ---------------------------------------------------------------------------------
    @contextlib.contextmanager
    def _rows_cache(self, rows):
        cache = self.cache
        for layer, (k, v) in zip(cache.layers, self.base_kv):
            layer.keys, layer.values = k.index_select(0, rows), v.index_select(0, rows)
        try:
            yield cache
        finally:
            for layer, (k, v) in zip(cache.layers, self.base_kv):
                layer.keys, layer.values = k, v

    def _hooks(self, steer: Optional[Steer], row_vecs, start_col: int):
        if steer is None:
            return []
        return [steering_hook(self.adapter, self.model, steer.layer, row_vecs, steer.alpha, steer.scale, start_col)]

    def hidden(self, rows, chunk, steer: Optional[Steer], row_vecs):
        """Final (normed) hidden states of ``chunk`` [R, C] continuing prompt ``rows`` [R]; chunk[:, 0]
        must be the prompt's last token. Steering per ``steer`` with per-row steering vectors."""
        torch = _torch()
        from interventions.hooks import first_output, hooked, require_fired

        R, C = chunk.shape
        rows = rows.to(self.mask.device)
        pmask = self.mask.index_select(0, rows)
        with torch.inference_mode():
            if self.fast and steer is not None and steer.layer > 0:
                # layers below the steered one see nothing steered: restart from its recorded input
                start, kwargs = self._recorded(steer.layer, rows, chunk)
                hooks = self._hooks(steer, row_vecs, 0)
                layers = self.adapter.layers(self.model)
                with self._rows_cache(rows), hooked(hooks):
                    h = start
                    for i, kw in zip(range(steer.layer, len(layers)), kwargs):
                        h = first_output(layers[i](h, **kw))
                h = self.adapter.final_norm(self.model)(h)
            elif self.fast:
                hooks = self._hooks(steer, row_vecs, 0)
                with self._rows_cache(rows) as cache, hooked(hooks):
                    out = self.model.model(input_ids=chunk, **self._chunk_inputs(pmask, C), use_cache=True,
                                           **{self.kw: cache})
                h = out.last_hidden_state
            else:
                pids = self.ids.index_select(0, rows)
                full = torch.cat([pids, chunk[:, 1:]], dim=1)
                amask = torch.cat([pmask, pmask.new_ones(R, C - 1)], dim=1)
                start = pids.shape[1] - 1 if self.positions == "last" else 0
                hooks = self._hooks(steer, row_vecs, start)
                with hooked(hooks):
                    out = self.model.model(input_ids=full, attention_mask=amask, position_ids=position_ids(amask),
                                           use_cache=False)
                h = out.last_hidden_state[:, pids.shape[1] - 1:]
        if hooks:
            require_fired(hooks)
        return h

    def _chunk_inputs(self, pmask, C: int) -> dict:
        torch = _torch()
        pos = pmask.sum(-1, keepdim=True) - 1 + torch.arange(C, device=pmask.device)[None]
        amask = torch.cat([pmask, pmask.new_ones(pmask.shape[0], C - 1)], dim=1)
        return {"attention_mask": amask, "position_ids": pos}

    def _recorded(self, layer: int, rows, chunk):
        """(input of ``layer``, keyword arguments of every layer from it on) for an unsteered pass of
        this exact batch, recorded once and reused by every steering vector."""
        from interventions.hooks import Hook, hooked

        key = (layer, tuple(rows.tolist()), tuple(chunk.flatten().tolist()))
        if key not in self._memo:
            layers = self.adapter.layers(self.model)
            store: dict = {}

            def grab(i):
                def fn(module, args, kwargs):
                    kw = dict(kwargs)
                    hidden = args[0] if args else kw.pop("hidden_states")
                    store[i] = (hidden, kw)
                return fn

            hooks = [Hook(layers[i], grab(i), f"layers.{i}:record", pre=True) for i in range(layer, len(layers))]
            with self._rows_cache(rows) as cache, hooked(hooks):
                self.model.model(input_ids=chunk, **self._chunk_inputs(self.mask.index_select(0, rows), chunk.shape[1]),
                                 use_cache=True, **{self.kw: cache})
            for h in hooks:
                if h.fired != 1:
                    raise RuntimeError(f"recording layer inputs: {h.name} fired {h.fired} times")
            if len(self._memo) > 64:
                self._memo.clear()
            self._memo[key] = (store[layer][0], [store[i][1] for i in range(layer, len(layers))])
        return self._memo[key]

    def _chunks(self, steer: Optional[Steer], units: int):
        """(row vector index [R], row unit index [R], per-row steering vectors or None) with R <= ROWS_PER_CALL:
        every (vector, unit) pair once, vector-major, so memory stays bounded however many units."""
        torch = _torch()
        V = 1 if steer is None else steer.vectors.shape[0]
        pairs_v = torch.arange(V).repeat_interleave(units)
        pairs_u = torch.arange(units).repeat(V)
        # a multiple of the unit count when it fits: every call then has the same rows (recorded once)
        size = (ROWS_PER_CALL // units) * units if units <= ROWS_PER_CALL else ROWS_PER_CALL
        for s in range(0, V * units, size):
            rv, ru = pairs_v[s:s + size], pairs_u[s:s + size]
            yield rv, ru, (None if steer is None else steer.vectors.index_select(0, rv.to(steer.vectors.device)))

    # scores -----------------------------------------------------------------------------------
    @_inference
    def answer_logprobs(self, steer: Optional[Steer]):
        """[V, P, vocab] log-probabilities at the answer position (V = 1 when unsteered)."""
        torch = _torch()
        V = 1 if steer is None else steer.vectors.shape[0]
        out = None
        for rv, ru, vecs in self._chunks(steer, self.n):
            h = self.hidden(ru, self.ids.index_select(0, ru.to(self.ids.device))[:, -1:], steer, vecs)[:, -1]
            lp = torch.log_softmax(self.adapter.unembed(self.model, h).float(), dim=-1)
            if out is None:
                out = torch.empty(V, self.n, lp.shape[-1])
            out[rv, ru] = lp.cpu()
        return out

    @_inference
    def sequence_logprobs(self, steer: Optional[Steer], continuations: list[list[list[int]]]):
        """[V, P, J] teacher-forced log P(continuation j | prompt p); every continuation token is
        an answer-side position (steered under ``positions: last``). Prompts with fewer than J
        continuations get -inf for the missing ones."""
        torch = _torch()
        V = 1 if steer is None else steer.vectors.shape[0]
        J = max(len(c) for c in continuations)
        units = [(p, j) for p in range(self.n) for j in range(len(continuations[p]))]
        width = max(len(continuations[p][j]) for p, j in units)
        pad = self.tok.pad_token_id if self.tok.pad_token_id is not None else 0
        u_prompt = torch.tensor([p for p, _ in units])
        u_j = torch.tensor([j for _, j in units])
        u_chunk = torch.full((len(units), width), pad, dtype=torch.long)
        u_target = torch.full((len(units), width), -1, dtype=torch.long)
        for u, (p, j) in enumerate(units):
            c = continuations[p][j]
            u_chunk[u, 0] = self.ids[p, -1]
            u_chunk[u, 1:len(c)] = torch.tensor(c[:-1], dtype=torch.long)
            u_target[u, :len(c)] = torch.tensor(c, dtype=torch.long)
        out = torch.full((V, self.n, J), float("-inf"))
        for rv, ru, vecs in self._chunks(steer, len(units)):
            rows, target = u_prompt.index_select(0, ru), u_target.index_select(0, ru)
            h = self.hidden(rows, u_chunk.index_select(0, ru).to(self.ids.device), steer, vecs)
            lp = torch.log_softmax(self.adapter.unembed(self.model, h).float(), dim=-1).cpu()
            picked = lp.gather(-1, target.clamp(min=0)[..., None])[..., 0]
            out[rv, rows, u_j.index_select(0, ru)] = (picked * (target >= 0)).sum(-1)
        return out

    @_inference
    def generate(self, steer: Optional[Steer], max_new_tokens: int, stop_ids: set[int]) -> list[list[list[int]]]:
        """Greedy continuations [V][P] (token ids, stop token excluded), steered at every generated
        position (and the answer position) under ``positions: last``; all positions under ``all``."""
        V = 1 if steer is None else steer.vectors.shape[0]
        results = [[None] * self.n for _ in range(V)]
        for rv, ru, vecs in self._chunks(steer, self.n):
            R = len(ru)
            tokens = [[] for _ in range(R)]
            done = [False] * R
            rows = ru.to(self.ids.device)
            chunk = self.ids.index_select(0, rows)[:, -1:]
            gen = self._generate_fast if self.fast else self._generate_full
            gen(rows, chunk, steer, vecs, max_new_tokens, stop_ids, tokens, done)
            for r, (v, u) in enumerate(zip(rv.tolist(), ru.tolist())):
                results[v][u] = tokens[r]
        return results

    def _pick(self, h, stop_ids, tokens, done, max_new):
        torch = _torch()
        nxt = self.adapter.unembed(self.model, h[:, -1]).float().argmax(-1)
        for r, t in enumerate(nxt.tolist()):
            if not done[r]:
                if t in stop_ids:
                    done[r] = True
                else:
                    tokens[r].append(t)
                    done[r] = len(tokens[r]) >= max_new
        return nxt[:, None].to(torch.long)

    def _generate_fast(self, rows, chunk, steer, vecs, max_new, stop_ids, tokens, done):
        torch = _torch()
        from interventions.hooks import hooked, require_fired

        pmask = self.mask.index_select(0, rows)
        pos = pmask.sum(-1, keepdim=True) - 1
        amask = pmask
        hooks = self._hooks(steer, vecs, 0)
        with torch.inference_mode(), self._rows_cache(rows) as cache, hooked(hooks):
            for _ in range(max_new):
                out = self.model.model(input_ids=chunk, attention_mask=amask, position_ids=pos, use_cache=True,
                                       **{self.kw: cache})
                chunk = self._pick(out.last_hidden_state, stop_ids, tokens, done, max_new)
                if all(done):
                    break
                amask = torch.cat([amask, torch.ones_like(amask[:, :1])], dim=1)
                pos = pos + 1
        if hooks:
            require_fired(hooks)
        return tokens

    def _generate_full(self, rows, chunk, steer, vecs, max_new, stop_ids, tokens, done):
        torch = _torch()
        from interventions.hooks import hooked, require_fired

        seq = self.ids.index_select(0, rows)
        amask = self.mask.index_select(0, rows)
        start = seq.shape[1] - 1 if self.positions == "last" else 0
        hooks = self._hooks(steer, vecs, start)
        with torch.inference_mode(), hooked(hooks):
            for _ in range(max_new):
                out = self.model.model(input_ids=seq, attention_mask=amask, position_ids=position_ids(amask),
                                       use_cache=False)
                nxt = self._pick(out.last_hidden_state, stop_ids, tokens, done, max_new)
                if all(done):
                    break
                seq = torch.cat([seq, nxt], dim=1)
                amask = torch.cat([amask, torch.ones_like(amask[:, :1])], dim=1)
        if hooks:
            require_fired(hooks)
        return tokens


def stop_token_ids(model, tokenizer) -> set[int]:
    ids = set()
    for src in (getattr(getattr(model, "generation_config", None), "eos_token_id", None), tokenizer.eos_token_id):
        if isinstance(src, int):
            ids.add(src)
        elif isinstance(src, (list, tuple)):
            ids.update(int(x) for x in src)
    return ids


def kl_rows(base_lp, steered_lp):
    """KL(base || steered) per prompt: base [P, vocab], steered [V, P, vocab] -> [V, P]."""
    from audit.metrics import kl_divergence

    return kl_divergence(base_lp[None], steered_lp)
