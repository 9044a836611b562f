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
from interventions.hooks import Hook, hidden_input, replace_output, first_output
from interventions.registry import intervention

Method = Literal["skip", "zero_output", "zero_attn", "zero_mlp"]


@intervention("layer_ablation")
class LayerAblation(StrictModel):
    """Ablate each listed decoder layer in turn (a sweep) and measure the metric per layer."""

    tokenwise: ClassVar[bool] = True  # every method acts on each token alone: a shared prefix is run once
    evidence_type: ClassVar[type] = PromptTable  # per prompt and layer

    kind: Literal["layer_ablation"]
    method: Method = Field(description="skip: output := input; zero_output: the residual stream after the layer "
                                       "is zeroed; zero_attn / zero_mlp: one sublayer's output is zeroed")
    layers: Literal["all"] | Indices = Field("all", description="'all' or explicit layer indices")
    why: str = Field("", description="why this method makes the claim meaningful")

    def layer_indices(self, n_layers: int) -> list[int]:
        return list(range(n_layers)) if self.layers == "all" else sorted(set(self.layers))

    def hooks(self, adapter, model, layer_index: int) -> list[Hook]:
        """The hooks that ablate ``layer_index``; installed by the engine around one forward pass."""
        layer = adapter.layers(model)[layer_index]
        name = f"layers.{layer_index}:{self.method}"
        if self.method == "skip":
            return [Hook(layer, lambda m, a, k, out: replace_output(out, hidden_input(a, k)), name)]
        if self.method == "zero_output":
            return [Hook(layer, _zero, name)]
        target = adapter.attention(layer) if self.method == "zero_attn" else adapter.mlp(layer)
        return [Hook(target, _zero, name)]


def _zero(module, args, kwargs, output):
    return replace_output(output, first_output(output).new_zeros(first_output(output).shape))
