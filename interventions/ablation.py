"""``kind: ablation`` — remove components (residual, attention, MLP, one head, any module) at
chosen positions, by zeroing, mean-ablation or resampling.

- ``zero``: the activation becomes 0.
- ``mean``: the activation becomes its mean over the suite prompts of the seed (all real token
  positions); computed per seed, an error when it cannot be computed — never a silent no-op.
- ``resample``: the activation becomes that of another prompt of the same family (chosen by the
  seed), aligned from the answer position backwards.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Annotated, ClassVar, Literal

from pydantic import Field, model_validator

from audit.inference import PromptTable
from audit.spec import Distinct, Indices, StrictModel
from interventions.components import (Component, Position, Target, hook_point, module_layer, module_path_problems,
                                      position_mask, transformer_lens_equivalent)
from interventions.hooks import Hook, first_output, replace_output
from controls.repaired_answers import TakesRepairedAnswers
from interventions.registry import intervention

if TYPE_CHECKING:  # the spec is imported by the claim schema without torch; hooks import it when run
    import torch


class AblationValuesMissing(RuntimeError):
    """A mean or resample ablation without the activations it needs."""


@intervention("ablation")
class Ablation(TakesRepairedAnswers, StrictModel):
    kind: Literal["ablation"]
    target: Target = Field(description="what is ablated: residual (a layer's output), attn / mlp (a sublayer's "
                                       "output), head (one head's slice before the output projection), module "
                                       "(any module, by dotted path)")
    method: Literal["zero", "mean", "resample"] = Field(
        description="zero: the activation becomes 0; mean: its mean over the seed's suite prompts; resample: "
                    "another prompt's of the same family")
    layers: Literal["all"] | Indices = Field("all", description="'all' or the decoder layers swept (indices from 0)")
    heads: Literal["all"] | Indices = Field("all", description="target head only: 'all' or the head indices swept")
    module: str = Field("", description="target module only: dotted path, e.g. model.layers.3.mlp.down_proj")
    positions: Annotated[list[Literal["all", "first", "last", "answer", "middle"] | int], Distinct] = Field(
        default_factory=lambda: ["all"], description="one entry: that position set; several: a sweep over them")
    why: str = ""

    evidence_type: ClassVar[type] = PromptTable  # per prompt and component
    accepted_controls: ClassVar[frozenset[str]] = frozenset({"seeds", "method_agreement", "random_component",
                                                             "shuffled_label"})
    # controls that judge one claimed component: shuffled_label as re-paired answers
    # (controls/repaired_answers.py)
    component_controls: ClassVar[tuple[str, ...]] = ("random_component", "shuffled_label")

    @model_validator(mode="after")
    def _consistent(self):
        if self.target == "module" and not self.module:
            raise ValueError("target 'module' needs module: <dotted path>")
        if self.target != "module" and self.module:
            raise ValueError("module: is only for target 'module'")
        if transformer_lens_equivalent(self.module):
            raise ValueError(transformer_lens_equivalent(self.module))
        if not self.positions:
            raise ValueError("positions must not be empty")
        return self

    def module_problems(self, modules: dict[str, str]) -> list[tuple[tuple, str, str]]:
        """The module path (target module) must name a module of the model (known from its config)."""
        return module_path_problems(("intervention", "module"), self.module, modules) if self.module else []

    def components(self, adapter, config, n_layers: int) -> list[Component]:
        positions: list[Position] = list(self.positions)
        if self.target == "module":
            return [Component("module", module_layer(self.module), module=self.module, position=p) for p in positions]
        layers = list(range(n_layers)) if self.layers == "all" else sorted(set(self.layers))
        if self.target != "head":
            return [Component(self.target, layer, position=p) for layer in layers for p in positions]
        n_heads = config.num_attention_heads
        heads = list(range(n_heads)) if self.heads == "all" else sorted(set(self.heads))
        return [Component("head", layer, head=h, position=p) for layer in layers for h in heads for p in positions]

    def hooks(self, adapter, model, comp: Component, attention_mask: torch.Tensor, values=None) -> list[Hook]:
        """Hooks that ablate ``comp`` in one batch. ``values``: the mean vector ([d]) or the
        resampled activations ([batch, width, d]) for this component."""
        import torch

        if self.method != "zero" and values is None:
            raise AblationValuesMissing(f"{self.method} ablation of {comp.label} has no {self.method} activations")
        module, pre, part = hook_point(adapter, model, comp)
        mask = position_mask(attention_mask, comp.position)

        def ablate(x: torch.Tensor) -> torch.Tensor:
            x = x.clone()
            region = x[..., part] if part is not None else x
            if self.method == "zero":
                replacement = torch.zeros_like(region)
            elif self.method == "mean":
                replacement = values.to(region.dtype).expand_as(region)
            else:
                replacement = values.to(region.dtype)
            region[mask] = replacement[mask]
            return x

        if pre:
            def pre_fn(mod, args, kwargs):
                return (ablate(args[0]),) + tuple(args[1:]), kwargs
            return [Hook(module, pre_fn, comp.label, pre=True)]
        return [Hook(module, lambda mod, a, k, out: replace_output(out, ablate(first_output(out))), comp.label)]


def capture_hooks(adapter, model, comps: list[Component], store: dict) -> list[Hook]:
    """Hooks that record each component's activation (head: its slice) into ``store[label]``."""
    hooks = []
    for comp in comps:
        module, pre, part = hook_point(adapter, model, comp)

        def keep(x, label=comp.label, part=part):
            store[label] = (x[..., part] if part is not None else x).detach()

        if pre:
            hooks.append(Hook(module, lambda mod, a, k, keep=keep: keep(a[0]), f"capture {comp.label}", pre=True))
        else:
            hooks.append(Hook(module, lambda mod, a, k, out, keep=keep: keep(first_output(out)) or out,
                              f"capture {comp.label}"))
    return hooks
