"""``kind: layer_ablation`` — remove one decoder layer (or one of its sublayers) at a time.

Methods:
- ``skip``: the layer's own contribution is removed (its output := its input).
- ``zero_output``: the layer's whole output, i.e. the residual stream, is replaced with zeros
  (the causal-atlas study's method; on bias-free models every layer then gives the same output).
- ``zero_attn`` / ``zero_mlp``: one sublayer's output is zeroed, the residual stream is kept.
"""

from __future__ import annotations

from typing import ClassVar, Literal

from pydantic import Field

from audit.inference import PromptTable
from audit.spec import Indices, StrictModel
from interventions.hooks import (Hook, first_output, hidden_input, layer_write, replace_output,
                                 same_norm_perturbation)
from controls.repaired_answers import TakesRepairedAnswers
from interventions.registry import intervention

Method = Literal["skip", "zero_output", "zero_attn", "zero_mlp"]


@intervention("layer_ablation")
class LayerAblation(TakesRepairedAnswers, StrictModel):
    """Ablate each listed decoder layer in turn (a sweep) and measure the metric per layer."""

    tokenwise: ClassVar[bool] = True  # every method acts on each token alone: a shared prefix is run once
    evidence_type: ClassVar[type] = PromptTable  # per prompt and layer
    # random_vector: the claimed layer's ablation against same-norm random perturbations of the same
    # site (controls/layer_random_vector.py; judged with the acceptance's claimed ``layer``)
    accepted_controls: ClassVar[frozenset[str]] = frozenset({"seeds", "random_vector", "shuffled_label"})
    # controls that judge one claimed layer: shuffled_label as re-paired answers (controls/repaired_answers.py)
    layer_controls: ClassVar[tuple[str, ...]] = ("random_vector", "shuffled_label")

    kind: Literal["layer_ablation"]
    method: Method = Field(description="skip: output := input; zero_output: the residual stream after the layer "
                                       "is zeroed; zero_attn / zero_mlp: one sublayer's output is zeroed")
    layers: Literal["all"] | Indices = Field("all", description="'all' or explicit layer indices")
    why: str = Field("", description="why this method makes the claim meaningful")

    def layer_indices(self, n_layers: int) -> list[int]:
        return list(range(n_layers)) if self.layers == "all" else sorted(set(self.layers))

    def hooks(self, adapter, model, layer_index: int) -> list[Hook]:
        """The hooks that ablate ``layer_index``; installed by the engine around one forward pass."""
        site, name = self._site(adapter, model, layer_index), f"layers.{layer_index}:{self.method}"
        if self.method == "skip":
            return [Hook(site, lambda m, a, k, out: replace_output(out, hidden_input(a, k)), name)]
        return [Hook(site, _zero, name)]

    def null_hooks(self, adapter, model, layer_index: int, direction) -> list[Hook]:
        """The random-vector null of :meth:`hooks`: at the same site, each token's output moved by
        the norm of what the ablation removes there (skip: the layer's write, output - input; the
        zero methods: the site's whole output) along the unit ``direction`` instead of removed."""
        removed = layer_write if self.method == "skip" else (lambda a, k, out: first_output(out))
        return [same_norm_perturbation(self._site(adapter, model, layer_index), removed, direction,
                                       f"layers.{layer_index}:{self.method}:random_vector")]

    def _site(self, adapter, model, layer_index: int):
        layer = adapter.layers(model)[layer_index]
        if self.method in ("skip", "zero_output"):
            return layer
        return adapter.attention(layer) if self.method == "zero_attn" else adapter.mlp(layer)


def _zero(module, args, kwargs, output):
    return replace_output(output, first_output(output).new_zeros(first_output(output).shape))
