"""``kind: quantization`` and ``kind: quantization_drift`` — the same weights in several precision
modes (float32, bfloat16, float16, bitsandbytes int8 and NF4).

``quantization`` measures what a deployment sees: generation tokens/s (batched, warm, median of
interleaved repeats, as ratios between modes measured in one run), model memory, exact match of
greedy answers and KL to the reference mode at the answer position.
``quantization_drift`` re-runs a layer-ablation sweep under each mode and compares its per-layer
effect vector with the reference mode's (Spearman correlation, top layer, magnitude ratio).
"""

from __future__ import annotations

from typing import ClassVar, Literal

from pydantic import Field, NonNegativeInt, PositiveInt, field_validator

from audit.evidence_models.judged import DriftSweeps, PrecisionModes
from audit.spec import Indices, StrictModel
from interventions.layer_ablation import Method
from interventions.registry import intervention

Mode = Literal["float32", "bfloat16", "float16", "int8", "nf4"]


class ModesSpec(StrictModel):
    """Shared by both kinds: the listed precision modes must be distinct."""

    @field_validator("modes", check_fields=False)
    @classmethod
    def _modes_distinct(cls, v):
        if len(set(v)) != len(v):
            raise ValueError(f"modes must be distinct (got {v})")
        return v


def noise_reference_problem(lc, reference: str) -> list[tuple[tuple, str, str]]:
    """random_vector noises the float32 weights: the reference must be float32."""
    if lc.claim.controls.random_vector is None or reference == "float32":
        return []
    return [(("controls", "random_vector"), f"random_vector noises the float32 weights, and the reference is "
             f"{reference}", "use `reference: float32` with this control, or drop it")]


class SpeedProtocol(StrictModel):
    prompts: PositiveInt = Field(16, description="prompts in the timed batch")
    new_tokens: PositiveInt = Field(32, le=512, description="tokens every prompt generates (forced length)")
    repeats: PositiveInt = Field(5, description="timed repeats per mode, interleaved, after the warm-ups")
    warmup: NonNegativeInt = Field(1, description="untimed warm-up rounds of every mode")


@intervention("quantization")
class Quantization(ModesSpec):
    kind: Literal["quantization"]
    modes: list[Mode] = Field(min_length=2, description="precision modes measured (distinct, include the reference)")
    reference: Mode = Field("float32", description="quality reference: exact match and KL are measured against it")
    max_new_tokens: PositiveInt = Field(24, le=256, description="greedy tokens generated for exact match")
    speed: SpeedProtocol = Field(default_factory=SpeedProtocol, description="how generation speed is timed")
    why: str = ""

    evidence_type: ClassVar[type] = PrecisionModes
    # reported beside the verdict (audit/evidence/quantization_controls.py): random_vector, each mode's KL
    # against same-norm random weight noise (controls/weight_noise.py); shuffled_label, its exact match
    # against the answers of other prompts of the family (the re-paired floor)
    accepted_controls: ClassVar[frozenset[str]] = frozenset({"seeds", "random_vector", "shuffled_label"})

    def claim_problems(self, lc) -> list[tuple[tuple, str, str]]:
        from interventions.layer_skip import metric_problem

        out = metric_problem(lc, "quantization_tradeoff") + noise_reference_problem(lc, self.reference)
        if self.reference not in self.modes:
            out.append((("intervention", "reference"), f"reference mode {self.reference} is not in modes",
                        f"add it to modes: {self.modes}"))
        acc = lc.claim.acceptance
        for mode in sorted(getattr(acc, "modes_needed", lambda: set())() - set(self.modes)):
            out.append((("acceptance",), f"acceptance compares mode {mode}, which is not measured",
                        f"add it to intervention.modes: {self.modes}"))
        return out


@intervention("quantization_drift")
class QuantizationDrift(ModesSpec):
    kind: Literal["quantization_drift"]
    modes: list[Mode] = Field(min_length=1, description="modes compared with the reference")
    reference: Mode = Field("float32", description="the mode whose layer sweep the others are compared with")
    method: Method = Field("skip", description="the layer-ablation method of the re-run sweep")
    layers: Literal["all"] | Indices = Field("all", description="'all' or the decoder layers swept")
    why: str = ""

    evidence_type: ClassVar[type] = DriftSweeps
    # reported beside the verdict: shuffled_label, each mode's Spearman against shuffled layer labels
    # (controls/shuffled_layers.py); random_vector, against the sweep of same-norm weight noise (controls/drift_noise.py)
    accepted_controls: ClassVar[frozenset[str]] = frozenset({"seeds", "shuffled_label", "random_vector"})

    def claim_problems(self, lc) -> list[tuple[tuple, str, str]]:
        out = noise_reference_problem(lc, self.reference)
        if self.reference in self.modes:
            out.append((("intervention", "modes"), f"the reference mode {self.reference} is also in modes",
                        "modes are compared with the reference; list the others"))
        return out

    def sweep_spec(self):
        """The layer-ablation sweep re-run under every mode."""
        from interventions.layer_ablation import LayerAblation

        return LayerAblation(kind="layer_ablation", method=self.method, layers=self.layers)
