"""What a criterion judges: one typed model per shape of evidence, the join of interventions and
criteria.

A criterion is ``evaluate(self, evidence: <model>) -> Outcome`` and judges exactly the evidence
type its annotation names; an intervention spec declares ``evidence_type`` (the type its builder
assembles), and an acceptance kind applies to an intervention iff the intervention's evidence type
is (a subclass of) the criterion's (:func:`audit.criteria.base.applies`). The sweeps (layer
ablation, layer scaling, ablation, patching) assemble an :class:`audit.inference.PromptTable`;
every other kind one of the models here.

Each model is a view of the builder's evidence record: the fields the criterion reads, named as
in the record, plus what the claim fixes outside it (a control's margin, a permutation count).
``Model.of(evidence, claim)`` reads it out of the evidence dict (its other keys are ignored); the
builders judge through it and ``bench/rejudge.py`` re-judges a ledger record the same way. Rows are
kept as the builders write them (dicts), so the criteria read exactly what the record holds; the
full record shapes are the models in this package's other modules. Values are validated leniently
(a tuple is a list, an int a float): synthetic evidence (calibration, tests) builds these directly.

Pure: pydantic and the standard library only (no torch).
"""

from __future__ import annotations

from typing import Any, Optional

from pydantic import BaseModel, ConfigDict, Field

Row = dict[str, Any]  # one config / mode / trained adapter as the builder recorded it
Samples = dict[str, dict[str, list[str]]]  # seed -> family -> prompt ids


class Judged(BaseModel):
    """Base of the judged evidence: frozen; a view, so keys it does not read are ignored."""

    model_config = ConfigDict(frozen=True, extra="ignore")

    @classmethod
    def of(cls, evidence: dict, claim) -> Judged:
        """The view of a builder's evidence dict for ``claim``."""
        return cls.model_validate(evidence)


class SteeringSweep(Judged):
    """A steering sweep (``steering``) as its criteria read it: per (layer, alpha) cell the effect
    per seed and per prompt, the numerical noise, and the nulls of the required controls."""

    seeds: list[int]
    layers: list[int]
    alphas: list[float]
    effect: dict[str, list[float]]  # cell -> per seed
    families: Optional[list[str]] = None
    prompts: Optional[dict[str, list[dict[str, list[str]]]]] = None  # eval/collateral -> per seed {ids, families}
    per_prompt: Optional[dict[str, dict[str, list[list[float]]]]] = None  # cell -> effect/collateral -> [seed][prompt]
    numerical_noise: Optional[dict[str, dict[str, float]]] = None  # cell -> effect/collateral -> noise
    required_controls: list[str] = Field(default_factory=list)
    waived: dict[str, str] = Field(default_factory=dict)
    nulls: dict[str, dict[str, list[list[float]]]] = Field(default_factory=dict)  # control -> cell -> [seed][draw]
    null_diagnostics: dict[str, dict[str, dict[str, Any]]] = Field(default_factory=dict)  # control -> cell -> seed


class SkipRuns(Judged):
    """Layer-skip configs (``layer_skip``): per config its name, ``n_skipped``, per-prompt quality
    (``per_prompt[pid]``: top5_overlap, greedy_agreement) and tokens/s ratios per repeat."""

    configs: list[Row]
    n_layers: int
    samples: Samples


class PrecisionModes(Judged):
    """Precision modes side by side (``quantization``): per mode ``speed_ratios``, ``memory_mb``
    and per-prompt quality (``per_prompt[pid]``: exact_match, kl)."""

    modes: dict[str, Row]
    reference: str
    samples: Samples


class DriftSweeps(Judged):
    """The layer sweep under each precision mode (``quantization_drift``):
    ``per_prompt[mode][pid] -> [effect per layer]`` for the reference and every mode."""

    per_prompt: dict[str, dict[str, list[float]]]
    reference: str
    modes: list[str]
    layers: list[int]
    samples: Samples


class ComparedSweeps(Judged):
    """Other claims' sweeps (``comparison``), one row per compared claim (its top, separation,
    depth: :class:`audit.evidence_models.ComparedSweep`)."""

    sweeps: list[Row]


class PlacementRuns(Judged):
    """LoRA adapters at several placements (``lora``): per placement one trained run per seed, the
    no-adapter baseline per seed, and the shuffled-answers control (the candidate trained on
    permuted answers, per seed) with the margin the candidate must beat it by."""

    results: dict[str, list[Row]]
    baseline: Optional[list[Row]] = None
    shuffled: Optional[list[Row]] = None
    shuffled_margin: float = 0.1

    @classmethod
    def of(cls, evidence: dict, claim) -> Judged:
        control = claim.controls.shuffled_answers
        return cls.model_validate({**evidence, "shuffled": (evidence.get("controls") or {}).get("shuffled_answers"),
                                   **({"shuffled_margin": control.min_margin} if control is not None else {})})


class PointRuns(Judged):
    """A grid of LoRA training choices (``lora_sweep``): per point label one trained run per seed."""

    results: dict[str, list[Row]]


class AdapterAblationRuns(Judged):
    """Per-layer adapter ablation (``lora_adapter_ablation``): per seed the adapter's ``norms`` and
    ``effects_by_prompt[family][pid][layer]`` (and its ``losses``), with the model's layer count
    and the permutations of the correlation test."""

    per_seed: list[Row]
    n_layers: int
    permutations: int

    @classmethod
    def of(cls, evidence: dict, claim) -> Judged:
        return cls.model_validate({**evidence, "permutations": claim.intervention.permutations})
