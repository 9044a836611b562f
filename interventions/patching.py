"""``kind: patching`` — activation patching on clean/corrupt counterfactual pairs.

``denoise`` (default) patches a component's clean activation into the corrupt run and measures
normalized recovery of the logit difference ``LD = logit(clean answer) - logit(corrupt answer)``:
``(LD_patched - LD_corrupt) / (LD_clean - LD_corrupt)``. ``noise`` patches the corrupt activation
into the clean run and measures the fraction destroyed: ``(LD_clean - LD_patched) / (LD_clean - LD_corrupt)``.

Pairs must tokenize to the same length (positions align by index); a pair that does not is
refused, with both tokenizations shown. A pair whose clean and corrupt runs barely differ
(``|LD_clean - LD_corrupt| < min_gap``) is uninformative and not counted as evidence.
"""

from __future__ import annotations

from typing import Annotated, ClassVar, Literal, Optional

from pydantic import Field

from audit.inference import PromptTable
from audit.spec import Distinct, Indices, StrictModel
from interventions.ablation import Ablation
from interventions.components import Component
from interventions.registry import intervention
from interventions.subspace import ClaimedSubspace

# the controls that do not (yet) patch inside a claimed subspace; random_subspace is its null
WHOLE_COMPONENT_CONTROLS = ("random_component", "shuffled_label", "negative_position")


@intervention("patching")
class Patching(StrictModel):
    evidence_type: ClassVar[type] = PromptTable  # per prompt and component
    accepted_controls: ClassVar[frozenset[str]] = frozenset(
        {"seeds", "random_component", "shuffled_label", "random_subspace", "negative_position"})
    # controls that judge one claimed component: shuffled_label as re-paired sources; random_subspace
    # (controls/random_subspace.py) and negative_position (controls/negative_position.py)
    component_controls: ClassVar[tuple[str, ...]] = ("random_component", "shuffled_label", "random_subspace",
                                                     "negative_position")

    kind: Literal["patching"]
    target: Literal["residual", "attn", "mlp", "head"] = Field(
        description="what is patched: residual (a layer's output), attn / mlp (a sublayer's output), head (one "
                    "head's slice before the output projection)")
    layers: Literal["all"] | Indices = Field("all", description="'all' or the decoder layers swept (indices from 0)")
    heads: Literal["all"] | Indices = Field("all", description="target head only: 'all' or the head indices swept")
    positions: Annotated[list[Literal["all", "first", "last", "answer", "middle"] | int], Distinct] = Field(
        default_factory=lambda: ["all"], min_length=1,
        description="token positions patched (named, or an index: from the prompt's first token, negative from its "
                    "last); several: a sweep over them")
    direction: Literal["denoise", "noise"] = Field(
        "denoise", description="denoise: clean activation into the corrupt run (recovery); noise: corrupt into the "
                               "clean run (fraction destroyed)")
    min_gap: float = Field(0.5, gt=0.0, description="pairs with |LD_clean - LD_corrupt| below this are uninformative")
    subspace: Optional[ClaimedSubspace] = Field(
        None, description="a claimed subspace of the (one) patched site: only the projection of the clean - corrupt "
                          "difference onto the span of the file's rows is patched (interventions/subspace.py); the "
                          "whole component's patch is measured beside it, and a subspace that recovers more than its "
                          "component is flagged as a possible dormant pathway")
    why: str = ""

    def claim_problems(self, lc) -> list[tuple[tuple, str, str]]:
        """A claimed subspace: its file and one component (:class:`ClaimedSubspace`), and only the
        controls that patch in it."""
        if self.subspace is None:
            return []
        taken = [c for c in WHOLE_COMPONENT_CONTROLS if getattr(lc.claim.controls, c) is not None]
        return self.subspace.claim_problems(lc, self) + [
            (("controls", c), f"{c} patches whole components, not the claimed subspace",
             "use random_subspace (random subspaces of the claimed one's dimension) with a claimed subspace")
            for c in taken]

    def as_ablation(self) -> Ablation:
        """Patching writes another run's activation into a component: the resample mechanism."""
        return Ablation(kind="ablation", target=self.target, method="resample", layers=self.layers,
                        heads=self.heads, positions=self.positions)

    def components(self, adapter, config, n_layers: int) -> list[Component]:
        return self.as_ablation().components(adapter, config, n_layers)

    def is_trivial(self, comp: Component, n_layers: int) -> bool:
        """Full-residual patching at the last layer at the answer position recovers by construction."""
        return comp.target == "residual" and comp.layer == n_layers - 1 and comp.position in ("all", "last", "answer")


def normalized(direction: str, clean: float, corrupt: float, patched: float) -> float:
    """Recovery (denoise) or destruction (noise) as a fraction of the clean-corrupt gap."""
    gap = clean - corrupt
    return (patched - corrupt) / gap if direction == "denoise" else (clean - patched) / gap
