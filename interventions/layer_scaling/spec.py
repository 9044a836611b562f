"""``kind: layer_scaling`` — scale one decoder layer's contribution at a time (a dose of ablation).

Each swept layer's write to the residual stream (its output minus its input) is multiplied by
``factor``: 0 removes it (the same model as ``layer_ablation`` with ``method: skip``), 1 leaves the
model unchanged, 0.5 halves it. A hub claim that survives only ``factor: 0`` says the layer
matters when deleted; one that survives 0.5 says its effect is graded, not an all-or-nothing break.
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


@intervention("layer_scaling")
class LayerScaling(TakesRepairedAnswers, StrictModel):
    """Scale each listed decoder layer's contribution in turn (a sweep) and measure the metric per layer."""

    work_like: ClassVar[str] = "layer_ablation"  # its work estimate: a layer sweep's
    tokenwise: ClassVar[bool] = True  # the scaling acts on each token alone: a shared prefix is run once
    evidence_type: ClassVar[type] = PromptTable  # per prompt and layer, like a layer ablation's
    accepted_controls: ClassVar[frozenset[str]] = frozenset({"seeds", "random_vector", "shuffled_label"})  # as a layer ablation's
    layer_controls: ClassVar[tuple[str, ...]] = ("random_vector", "shuffled_label")

    kind: Literal["layer_scaling"]
    factor: float = Field(ge=0.0, lt=1.0, description="multiplier of the layer's write (output - input): 0 removes "
                                                        "it, 0.5 halves it (1 would change nothing, so it is refused)")
    layers: Literal["all"] | Indices = Field("all", description="'all' or explicit layer indices")
    why: str = Field("", description="why this dose makes the claim meaningful")

    @property
    def method(self) -> str:
        return f"scale x{self.factor:g}"

    def layer_indices(self, n_layers: int) -> list[int]:
        return list(range(n_layers)) if self.layers == "all" else sorted(set(self.layers))

    def hooks(self, adapter, model, layer_index: int) -> list[Hook]:
        """The hook that scales ``layer_index``'s write; installed by the engine around one forward pass."""
        factor = self.factor

        def scale(module, args, kwargs, output):
            before = hidden_input(args, kwargs)
            return replace_output(output, before + factor * (first_output(output) - before))

        return [Hook(adapter.layers(model)[layer_index], scale, f"layers.{layer_index}:scale{factor:g}")]

    def null_hooks(self, adapter, model, layer_index: int, direction) -> list[Hook]:
        """The random-vector null: each token's output moved by the norm of what the scaling removes,
        (1 - factor) x the layer's write, along the unit ``direction`` (controls/layer_random_vector.py)."""
        kept = 1.0 - self.factor
        return [same_norm_perturbation(adapter.layers(model)[layer_index],
                                       lambda a, k, out: kept * layer_write(a, k, out), direction,
                                       f"layers.{layer_index}:scale{self.factor:g}:random_vector")]
