"""Evidence models of the training kinds: LoRA placements (``lora``), grids of training choices
(``lora_sweep``) and per-layer adapter ablation (``lora_adapter_ablation``)."""

from __future__ import annotations

from typing import Literal, Optional, Union

from .base import Dependency, EvidenceRecord, FamilyValues, PeakMemory


class LoraTask(EvidenceRecord):
    """The trained task: family, prompt counts, drift families, generation length."""

    family: str
    train_prompts: int
    eval_prompts: int
    drift_families: list[str]
    drift_prompts: int
    max_new_tokens: int


class LoraTraining(EvidenceRecord):
    """The base training settings."""

    rank: int
    alpha: float
    learning_rate: float
    steps: int
    batch_size: int
    optimizer: str
    max_length: int
    format: str
    qlora: bool


class Placement(EvidenceRecord):
    """Where adapters go (``placement`` kind; its other keys depend on the kind)."""

    placement: str


class SweepPoint(EvidenceRecord):
    """One grid point of a LoRA sweep: a placement and the training fields it overrides."""

    label: str
    placement: Placement
    rank: Optional[int] = None
    learning_rate: Optional[float] = None
    optimizer: Optional[str] = None
    format: Optional[str] = None


class GivenAdapter(EvidenceRecord):
    """A supplied adapter's identity (``placement: adapter``)."""

    path: str
    sha256: str
    train: bool
    r: Optional[int] = None
    lora_alpha: Optional[float] = None
    target_modules: Optional[Union[list[str], str]] = None
    base_model_name_or_path: Optional[str] = None


class TrainedRun(EvidenceRecord):
    """One adapter trained (or loaded) on one seed, measured on held-out, drift and training prompts."""

    seed: int
    trainable_params: int
    final_loss: Optional[float]
    exact_match: float
    answer_nll: float
    json_parse_rate: Optional[float] = None
    schema_valid_rate: Optional[float] = None
    kl_drift: Optional[float]
    train_seconds: float
    train_memory: Optional[PeakMemory] = None
    peak_rss_mb: Optional[float] = None  # older records
    from_cache: bool
    examples: list[str]
    exact_by_prompt: Optional[FamilyValues] = None
    train_loss_by_prompt: Optional[FamilyValues] = None
    drift_by_prompt: Optional[FamilyValues] = None
    given_adapter: Optional[GivenAdapter] = None
    losses: list[float]
    loss_noise: Optional[float] = None
    n_modules: int


class Baseline(EvidenceRecord):
    """The model without an adapter on one seed's held-out prompts."""

    seed: int
    exact_match: float
    exact_by_prompt: Optional[FamilyValues] = None
    answer_nll: float
    json_parse_rate: Optional[float]
    schema_valid_rate: Optional[float]
    examples: list[str]


class LoraEvidence(EvidenceRecord):
    """LoRA adapters trained at several placements (``lora``), per seed, against the no-adapter
    baseline."""

    kind: Literal["lora"]
    task: LoraTask
    training: LoraTraining
    placements: dict[str, Placement]
    results: dict[str, list[TrainedRun]]  # placement -> per seed
    baseline: Optional[list[Baseline]] = None
    modules: dict[str, dict[str, list[str]]]  # placement -> seed -> module names
    seeds: list[int]
    dependencies: list[Dependency]


class LoraSweepEvidence(EvidenceRecord):
    """A grid of LoRA training choices (``lora_sweep``): one adapter per point and seed."""

    kind: Literal["lora_sweep"]
    task: LoraTask
    training: LoraTraining
    points: list[SweepPoint]
    results: dict[str, list[TrainedRun]]  # point label -> per seed
    baseline: Optional[list[Baseline]] = None
    seeds: list[int]
    dependencies: list[Dependency]


class AdapterAblationRun(TrainedRun):
    """One seed's adapter and the NLL increase when each layer's adapter alone is switched off."""

    effects: dict[str, float]  # layer -> mean effect
    norms: dict[str, float]  # layer -> adapter norm
    effects_by_prompt: Optional[dict[str, dict[str, dict[str, float]]]] = None  # family -> prompt -> layer


class LoraAdapterAblationEvidence(EvidenceRecord):
    """Where a trained adapter's effect sits (``lora_adapter_ablation``): per-layer adapter
    ablation effects, per seed."""

    kind: Literal["lora_adapter_ablation"]
    task: LoraTask
    training: LoraTraining
    placement: Placement
    per_seed: list[AdapterAblationRun]
    seeds: list[int]
    n_layers: int
    mean_exact_match: float
    dependencies: list[Dependency]
