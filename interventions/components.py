"""Named components and positions: where in a model an intervention acts.

A component is a hook point (a layer's residual output, its attention or MLP output, one
attention head's slice before the output projection, or any module by dotted path) plus a set of
token positions. Positions are given per prompt and mapped onto left-padded batches.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import TYPE_CHECKING, Literal, Union

from audit.errors import did_you_mean

if TYPE_CHECKING:  # the spec side (claim schema, `audit check`) imports this module without torch
    import torch

Target = Literal["residual", "attn", "mlp", "head", "module"]
NamedPosition = Literal["all", "first", "last", "answer", "middle"]
Position = Union[NamedPosition, int]


@dataclass(frozen=True)
class Component:
    target: str
    layer: int
    head: int | None = None
    module: str = ""
    position: Position = "all"

    @property
    def label(self) -> str:
        if self.target == "module":
            base = self.module
        else:
            base = f"L{self.layer}" + {"residual": "", "attn": ".attn", "mlp": ".mlp"}.get(self.target, "")
            if self.head is not None:
                base += f".H{self.head}"
        return base if self.position == "all" else f"{base}@{self.position}"


_TL = re.compile(r"^blocks\.(\d+)\.(hook_resid_pre|hook_resid_mid|hook_resid_post|hook_mlp_out|hook_attn_out|"
                 r"attn\.hook_result|attn\.hook_z|mlp\.hook_post|mlp\.hook_pre)$")


def transformer_lens_equivalent(path: str) -> str:
    """'' unless ``path`` is a TransformerLens hook name (``blocks.8.hook_resid_post``); then what
    to write here instead (hook points here are named by target and layer, or by the module path
    of the Hugging Face model)."""
    match = _TL.match(path.strip())
    if not match:
        return "" if not path.startswith(("blocks.", "hook_")) else (
            f"'{path}' looks like a TransformerLens hook name, which Hugging Face models do not have; "
            "write target: residual | attn | mlp | head with layers:, or a module path such as model.layers.3.mlp")
    layer, hook = int(match.group(1)), match.group(2)
    instead = {
        "hook_resid_post": f"target: residual, layers: [{layer}] (the layer's residual output)",
        "hook_resid_pre": (f"target: residual, layers: [{layer - 1}] (layer {layer}'s input is layer {layer - 1}'s "
                           "residual output)" if layer else "no equivalent: the embedding output is not a hook point"),
        "hook_resid_mid": f"no single equivalent; target: attn, layers: [{layer}] is the attention output added there",
        "hook_mlp_out": f"target: mlp, layers: [{layer}]",
        "hook_attn_out": f"target: attn, layers: [{layer}]",
        "attn.hook_result": f"target: attn, layers: [{layer}] (or target: head, layers: [{layer}], heads: [...] per head)",
        "attn.hook_z": f"target: head, layers: [{layer}], heads: [...] (each head's slice before o_proj)",
        "mlp.hook_post": f"target: module, module: model.layers.{layer}.mlp.down_proj (its input is the activation)",
        "mlp.hook_pre": f"target: module, module: model.layers.{layer}.mlp.up_proj",
    }[hook]
    return f"'{path}' is a TransformerLens hook name; here write {instead}"


def module_path_problems(loc: tuple, path: str, modules: dict[str, str], *, suffix: bool = False,
                         linear_in_layer: bool = False) -> list[tuple[tuple, str, str]]:
    """Whether a dotted module path names a module of the model (``modules``: path -> kind, from
    :func:`interventions.skeleton.module_types`). ``suffix``: it may name the end of a path
    (``o_proj``, ``layers.8.self_attn.o_proj``); ``linear_in_layer``: only linear modules inside a
    decoder layer count (what a LoRA placement can adapt). ``(loc, message, hint)`` triples."""
    pool = {n: k for n, k in modules.items() if not linear_in_layer or (k == "linear" and module_layer(n, None) is not None)}
    hits = [n for n in pool if n == path or (suffix and n.endswith("." + path))]
    if hits:
        return []
    what = "linear module inside a decoder layer" if linear_in_layer else "module"
    if linear_in_layer and any(n == path or n.endswith("." + path) for n in modules):
        return [(loc, f"'{path}' is not a {what}; a LoRA placement can only adapt those",
                 f"e.g. {', '.join(sorted(pool)[:3])}")]
    depth = path.count(".") + 1  # a suffix is compared with the pool's paths cut to as many parts
    names = sorted({".".join(n.split(".")[-depth:]) for n in pool} if suffix else pool)
    hint = did_you_mean(path, names) or f"e.g. {', '.join(sorted(pool)[:3])}"
    return [(loc, f"'{path}' names no {what} of this model", hint)]


def module_layer(path: str, default: int | None = 0) -> int | None:
    """The decoder layer a dotted module path lives in (``default`` if none: 0 replays from the start)."""
    match = re.search(r"(?:^|\.)layers\.(\d+)(?:\.|$)", path)
    return int(match.group(1)) if match else default


def resolve_module(model, path: str):
    obj = model
    for part in path.split("."):
        obj = obj[int(part)] if part.isdigit() else getattr(obj, part)
    return obj


def position_mask(attention_mask: torch.Tensor, position: Position) -> torch.Tensor:
    """Boolean [batch, width] mask of the positions meant, per prompt (left padding aware).

    ``answer`` is the position whose next-token distribution is scored: the prompt's last token.
    Integers count from the prompt's first token; negative integers from its last.
    """
    import torch

    mask = attention_mask.bool()
    if position == "all":
        return mask
    batch, width = mask.shape
    lengths = mask.sum(-1)
    start = width - lengths
    if position == "first":
        idx = start
    elif position in ("last", "answer"):
        idx = torch.full_like(start, width - 1)
    elif position == "middle":
        idx = start + lengths // 2
    else:
        idx = start + position if position >= 0 else width + position
        if bool(((idx < start) | (idx >= width)).any()):
            raise IndexError(f"position {position} is outside a prompt of {int(lengths.min())} tokens")
    out = torch.zeros_like(mask)
    out[torch.arange(batch, device=mask.device), idx] = True
    return out


def hook_point(adapter, model, comp: Component):
    """(module, is_pre_hook, slice) where ``comp`` is read or written."""
    if comp.target == "module":
        return resolve_module(model, comp.module), False, None
    layer = adapter.layers(model)[comp.layer]
    if comp.target == "residual":
        return layer, False, None
    if comp.target == "attn":
        return adapter.attention(layer), False, None
    if comp.target == "mlp":
        return adapter.mlp(layer), False, None
    heads = adapter.heads(layer)
    if heads is None:
        raise ValueError(f"layer {comp.layer} has no attention heads (a hybrid model's conv layer?)")
    out_proj, n_heads, head_dim = heads
    if comp.head >= n_heads:
        raise IndexError(f"head {comp.head} out of range: layer {comp.layer} has {n_heads} heads")
    return out_proj, True, slice(comp.head * head_dim, (comp.head + 1) * head_dim)
