"""Run interventions on a real model, reusing the unablated prefix of the forward pass.

The base pass records every decoder layer's input (hidden state and the keyword arguments the
model passed it: masks, rotary embeddings). Ablating layer L cannot change layers < L, so an
ablated run restarts from layer L's recorded input and calls the real decoder layers L..N-1,
with the intervention's hooks installed. Logits are computed only at the answer position.
"""

from __future__ import annotations

import copy
import inspect
from dataclasses import dataclass

import torch

from interventions.hooks import Hook, first_output, hidden_input, hooked, require_fired


@dataclass
class EncodedBatch:
    """Left-padded prompts whose last position is the answer position."""

    input_ids: torch.Tensor
    attention_mask: torch.Tensor
    target_ids: torch.Tensor
    prompt_ids: list[str]

    @property
    def position_ids(self) -> torch.Tensor:
        return (self.attention_mask.cumsum(-1) - 1).clamp(min=0)

    def to(self, device) -> "EncodedBatch":
        """The same batch on ``device`` (itself when already there)."""
        if self.input_ids.device == torch.device(device):
            return self
        return EncodedBatch(self.input_ids.to(device), self.attention_mask.to(device), self.target_ids.to(device),
                            self.prompt_ids)


def cache_kwarg(model) -> str:
    """The name ``model.model`` takes its key/value cache by (``cache`` in newer transformers)."""
    return "cache" if "cache" in inspect.signature(model.model.forward).parameters else "past_key_values"


def model_device(model) -> torch.device:
    """Where the model's inputs go (its first parameter's device; the embedding's under a device_map)."""
    return next(model.parameters()).device


@dataclass
class SharedPrefix:
    """The tokens every row of a batch starts with, run once as a batch of one: each layer's input
    for them and their keys and values. ``cache`` is the cache object the recorded keyword
    arguments name (replaced by a fresh one per run)."""

    layer_inputs: list[tuple[torch.Tensor, dict]]
    kv: list[tuple[torch.Tensor, torch.Tensor]]
    cache: object


@dataclass
class BaseTrace:
    """What the unablated pass left behind: each layer's input and the answer log-probs. With a
    ``shared`` prefix the layer inputs are those of the rest of each row (after the prefix),
    attending to the prefix through ``cache``."""

    layer_inputs: list[tuple[torch.Tensor, dict]]
    logprobs: torch.Tensor
    shared: SharedPrefix | None = None
    cache: object = None


def _answer_logprobs(adapter, model, hidden: torch.Tensor) -> torch.Tensor:
    last = adapter.final_norm(model)(hidden[:, -1:, :])[:, 0, :]
    return torch.log_softmax(adapter.unembed(model, last).float(), dim=-1)


@torch.inference_mode()
def trace_base(model, adapter, batch: EncodedBatch) -> BaseTrace:
    """One unablated forward pass, recording every decoder layer's inputs."""
    layers = adapter.layers(model)
    records: list[tuple[torch.Tensor, dict] | None] = [None] * len(layers)
    handles = []
    for i, layer in enumerate(layers):
        def grab(module, args, kwargs, i=i):
            records[i] = (args[0] if args else kwargs["hidden_states"], dict(kwargs))
        handles.append(layer.register_forward_pre_hook(grab, with_kwargs=True))
    batch = batch.to(model_device(model))
    try:
        out = model.model(input_ids=batch.input_ids, attention_mask=batch.attention_mask,
                          position_ids=batch.position_ids, use_cache=False)
    finally:
        for h in handles:
            h.remove()
    last = out.last_hidden_state[:, -1, :]
    logprobs = torch.log_softmax(adapter.unembed(model, last).float(), dim=-1)
    for i, rec in enumerate(records):
        if rec is not None and "hidden_states" in rec[1]:
            rec[1].pop("hidden_states")
    return BaseTrace(layer_inputs=records, logprobs=logprobs)


@torch.inference_mode()
def replay(model, adapter, trace: BaseTrace, start: int, hooks: list[Hook]) -> torch.Tensor:
    """Answer log-probs of a run that restarts at layer ``start`` with ``hooks`` installed.

    With a shared prefix, the prefix runs once (a batch of one) from ``start`` under the hooks,
    and the rest of every row attends to its keys and values: the hooks must act on every token
    alike (``tokenwise`` interventions), since they see the prefix and the rest separately.
    """
    layers = adapter.layers(model)
    with hooked(hooks):
        if trace.shared is None:
            hidden = _run_layers(layers, start, trace.layer_inputs, None, None)
        else:
            kv = _prefix_kv(model, layers, trace.shared, start)
            rows = trace.logprobs.shape[0]
            cache = _cache_of(model, [(k.expand(rows, -1, -1, -1), v.expand(rows, -1, -1, -1)) for k, v in kv])
            hidden = _run_layers(layers, start, trace.layer_inputs, trace.cache, cache)
    require_fired(hooks)
    return _answer_logprobs(adapter, model, hidden)


def _run_layers(layers, start: int, inputs: list[tuple[torch.Tensor, dict]], recorded, cache) -> torch.Tensor:
    """Layers ``start``.. on the recorded input of ``start``, the recorded cache object swapped for ``cache``."""
    hidden = inputs[start][0]
    for i in range(start, len(layers)):
        kwargs = inputs[i][1] if recorded is None else {k: (cache if v is recorded else v) for k, v in inputs[i][1].items()}
        hidden = first_output(layers[i](hidden, **kwargs))
    return hidden


def _prefix_kv(model, layers, shared: SharedPrefix, start: int) -> list[tuple[torch.Tensor, torch.Tensor]]:
    """The shared prefix's keys and values per layer under the installed hooks: recorded below ``start``,
    recomputed from ``start`` on."""
    fresh = _cache_of(model, None)
    _run_layers(layers, start, shared.layer_inputs, shared.cache, fresh)
    return shared.kv[:start] + [(fresh.layers[i].keys, fresh.layers[i].values) for i in range(start, len(layers))]


def _cache_of(model, kv):
    from transformers import DynamicCache

    return DynamicCache(ddp_cache_data=kv, config=getattr(model.config, "text_config", model.config))


MIN_SHARED = 8  # tokens: below this, running a prefix apart costs more calls than it saves


def shared_length(batch: EncodedBatch) -> int:
    """Tokens every row of the batch starts with (at most all but one of the shortest row's)."""
    lengths = batch.attention_mask.sum(-1)
    width = batch.input_ids.shape[1]
    rows = [batch.input_ids[r, width - int(n):] for r, n in enumerate(lengths)]
    shortest = min(len(r) for r in rows)
    first = rows[0][: shortest - 1]
    same = torch.stack([r[: shortest - 1] == first for r in rows]).all(0)
    return int(same.long().cumprod(0).sum()) if len(first) else 0


def full_attention_only(model) -> bool:
    """Every layer attends to the whole prefix through a plain key/value cache (no sliding window,
    no recurrent state): what sharing a prefix's keys and values needs."""
    config = getattr(model.config, "text_config", model.config)
    return all(k == "full_attention" for k in (getattr(config, "layer_types", None) or ["full_attention"]))


@torch.inference_mode()
def trace_shared(model, adapter, batch: EncodedBatch, min_shared: int = MIN_SHARED) -> BaseTrace | None:
    """The base trace of a batch whose rows share a prefix of at least ``min_shared`` tokens (a chat
    template's system header): the prefix runs once as a batch of one, the rest of each row after
    it against its keys and values, left-padded between the two (masked; positions continue the
    prefix's). ``None`` when nothing is shared or the model cannot share keys and values."""
    if not full_attention_only(model):
        return None
    shared = shared_length(batch)
    if shared < min_shared:
        return None
    batch = batch.to(model_device(model))
    width = batch.input_ids.shape[1]
    lengths = batch.attention_mask.sum(-1)
    rest = int((lengths - shared).max())
    ids = torch.full((len(lengths), rest), int(batch.input_ids[0, 0]), dtype=batch.input_ids.dtype, device=batch.input_ids.device)
    mask = torch.zeros((len(lengths), shared + rest), dtype=batch.attention_mask.dtype, device=ids.device)
    mask[:, :shared] = 1
    for r, n in enumerate(lengths.tolist()):
        ids[r, rest - (n - shared):] = batch.input_ids[r, width - (n - shared):]
        mask[r, shared + rest - (n - shared):] = 1
    prefix_ids = batch.input_ids[0, width - int(lengths[0]):][:shared][None]
    prefix_cache = _cache_of(model, None)
    prefix_inputs, _ = _recorded_pass(model, adapter, prefix_ids, None, torch.arange(shared, device=ids.device)[None],
                                      prefix_cache)
    kv = [(layer.keys, layer.values) for layer in prefix_cache.layers]
    cache = _cache_of(model, [(k.expand(len(lengths), -1, -1, -1), v.expand(len(lengths), -1, -1, -1)) for k, v in kv])
    positions = (shared + mask[:, shared:].cumsum(-1) - 1).clamp(min=shared)
    inputs, out = _recorded_pass(model, adapter, ids, mask, positions, cache)
    logprobs = torch.log_softmax(adapter.unembed(model, out.last_hidden_state[:, -1, :]).float(), dim=-1)
    return BaseTrace(inputs, logprobs, SharedPrefix(prefix_inputs, kv, prefix_cache), cache)


def _recorded_pass(model, adapter, ids, mask, positions, cache):
    """One forward pass of ``model.model`` recording every decoder layer's input (hidden state and
    keyword arguments, the hidden state taken out of them)."""
    layers = adapter.layers(model)
    records: list = [None] * len(layers)
    handles = [layer.register_forward_pre_hook(
        lambda module, args, kwargs, i=i: records.__setitem__(i, (hidden_input(args, kwargs), dict(kwargs))),
        with_kwargs=True) for i, layer in enumerate(layers)]
    try:
        out = model.model(input_ids=ids, attention_mask=mask, position_ids=positions, use_cache=True,
                          **{cache_kwarg(model): cache})
    finally:
        for h in handles:
            h.remove()
    for _, kwargs in records:
        kwargs.pop("hidden_states", None)
    return records, out


@torch.inference_mode()
def full_forward(model, batch: EncodedBatch, hooks: list[Hook]) -> torch.Tensor:
    """A whole forward pass with hooks (no prefix reuse); logits at the answer position only."""
    batch = batch.to(model_device(model))
    with hooked(hooks):
        out = model(input_ids=batch.input_ids, attention_mask=batch.attention_mask,
                    position_ids=batch.position_ids, use_cache=False, logits_to_keep=1)
    if hooks:
        require_fired(hooks)
    return torch.log_softmax(out.logits[:, -1, :].float(), dim=-1)


@dataclass
class PrefixCache:
    """The keys and values of every position but the answer position (the last column), from one
    unintervened pass, and each decoder layer's input for the answer token (its hidden state and
    the keyword arguments the model passed: mask, rotary embeddings, the cache): what a
    position-restricted intervention reuses."""

    cache: object
    layer_inputs: list[tuple[torch.Tensor, dict]]
    logprobs: torch.Tensor
    width: int
    recurrent: bool  # states a new token updates in place (LFM2's convolutions, sliding windows): copied per run


@torch.inference_mode()
def trace_prefix(model, adapter, batch: EncodedBatch) -> PrefixCache:
    """One unintervened pass over all but the last column, keeping its keys and values; then the
    answer token alone, recording every layer's input (the cache is cropped back after it)."""
    from transformers import DynamicCache

    batch = batch.to(model_device(model))
    config = getattr(model.config, "text_config", model.config)
    cache = DynamicCache(config=config)
    model.model(input_ids=batch.input_ids[:, :-1], attention_mask=batch.attention_mask[:, :-1],
                position_ids=batch.position_ids[:, :-1], use_cache=True, **{cache_kwarg(model): cache})
    kinds = getattr(config, "layer_types", None) or []
    recurrent = any(k != "full_attention" for k in kinds)  # convolutions; sliding windows roll, too
    layers = adapter.layers(model)
    records: list = [None] * len(layers)
    handles = [layer.register_forward_pre_hook(
        lambda module, args, kwargs, i=i: records.__setitem__(i, (hidden_input(args, kwargs), dict(kwargs))),
        with_kwargs=True) for i, layer in enumerate(layers)]
    width = batch.input_ids.shape[1] - 1
    run_cache = copy.deepcopy(cache) if recurrent else cache
    try:
        out = model.model(input_ids=batch.input_ids[:, -1:], attention_mask=batch.attention_mask,
                          position_ids=batch.position_ids[:, -1:], use_cache=True,
                          **{cache_kwarg(model): run_cache})
    finally:
        for h in handles:
            h.remove()
        if not recurrent:
            _drop_answer_token(cache, 0, len(layers))
    for i, (hidden, kwargs) in enumerate(records):
        kwargs.pop("hidden_states", None)
        records[i] = (hidden, {k: (cache if v is run_cache else v) for k, v in kwargs.items()})
    logprobs = torch.log_softmax(adapter.unembed(model, out.last_hidden_state[:, -1, :]).float(), dim=-1)
    return PrefixCache(cache, records, logprobs, width, recurrent)


def _drop_answer_token(cache, start: int, stop: int) -> None:
    for i in range(start, stop):
        cache.layers[i].crop(-1)


@torch.inference_mode()
def answer_position_run(model, adapter, prefix: PrefixCache, start: int, hooks: list[Hook]) -> torch.Tensor:
    """Answer log-probs with ``hooks`` acting at the answer position only, from layer ``start`` on.

    An intervention there cannot change any earlier position (attention is causal), so their keys
    and values are the unintervened ones, and layers below ``start`` compute the answer token as
    in the base pass: only the answer token runs, through layers ``start``.., attending to the
    cached prefix — about (L - start) / L x 1/T of a forward pass instead of a whole one. The hooks
    see a one-token sequence (index -1 is the answer position). The cache is cropped back
    afterwards (a recurrent one is copied for the run instead).
    """
    layers = adapter.layers(model)
    cache = copy.deepcopy(prefix.cache) if prefix.recurrent else prefix.cache
    hidden = prefix.layer_inputs[start][0]
    try:
        with hooked(hooks):
            for i in range(start, len(layers)):
                kwargs = {k: (cache if v is prefix.cache else v) for k, v in prefix.layer_inputs[i][1].items()}
                hidden = first_output(layers[i](hidden, **kwargs))
    finally:
        if not prefix.recurrent:
            _drop_answer_token(prefix.cache, start, len(layers))
    if hooks:
        require_fired(hooks)
    return _answer_logprobs(adapter, model, hidden)
