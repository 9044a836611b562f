"""Evidence models of the deployment kinds: layers deleted for real (``layer_skip``), precision
modes side by side (``quantization``) and the layer sweep re-run per mode (``quantization_drift``)."""

from __future__ import annotations

from typing import Literal, Optional

from .base import Dependency, EvidenceRecord, Hardware, PeakMemory, Samples, SeedRow, SpeedProtocol


class SkipConfig(EvidenceRecord):
    """One layer-skip config against the unmodified model: quality per seed and prompt, speed."""

    name: str
    skipped: list[int]
    n_skipped: int
    compute_ratio: Optional[float] = None
    seeds: list[SeedRow]
    per_prompt: Optional[dict[str, dict[str, float]]] = None  # prompt id -> metric -> value
    speedups: list[float]
    median_speedup: float


class SkipBase(EvidenceRecord):
    """The unmodified model on the skip prompts."""

    mean_answer_nll: float
    mean_continuation_tokens: float


class LayerSkipEvidence(EvidenceRecord):
    """Decoder layers deleted for real (``layer_skip``): each config's quality and tokens/s ratio
    against the unmodified model, on the same prompts and machine."""

    kind: Literal["layer_skip"]
    configs: list[SkipConfig]
    families: list[str]
    seeds: list[int]
    max_new_tokens: int
    speed: SpeedProtocol
    dependencies: list[Dependency]
    samples: Samples
    n_prompts: int
    n_layers: int
    hardware: Optional[Hardware] = None
    base: SkipBase


class QuantMode(EvidenceRecord):
    """One precision mode: weights' memory, quality per seed and prompt, speed against the others."""

    memory_mb: float
    peak_memory: Optional[PeakMemory] = None
    seeds: list[SeedRow]
    per_prompt: Optional[dict[str, dict[str, float]]] = None  # prompt id -> metric -> value
    speed_ratios: dict[str, list[float]]  # other mode -> tokens/s ratio per repeat
    tokens_per_s: float


class QuantizationEvidence(EvidenceRecord):
    """Precision modes side by side (``quantization``): speed, memory and quality of each against
    the reference mode."""

    kind: Literal["quantization"]
    reference: str
    modes: dict[str, QuantMode]
    order: list[str]
    families: list[str]
    seeds: list[int]
    n_prompts: int
    speed: SpeedProtocol
    max_new_tokens: int
    hardware: Hardware
    peak_rss_mb: float
    samples: Samples


class UnitCounts(EvidenceRecord):
    """Evidence units computed now and read from the cache."""

    computed: int
    from_cache: int


class DriftRow(EvidenceRecord):
    """(Older records) one seed's comparison of a mode's layer ranking with the reference's."""

    spearman: float
    top_reference: int
    top: int
    same_top: bool
    top_tied: bool
    magnitude_ratio: float


class QuantizationDriftEvidence(EvidenceRecord):
    """The layer ablation sweep re-run under each precision mode (``quantization_drift``), to
    compare with the reference mode's."""

    kind: Literal["quantization_drift"]
    reference: str
    modes: list[str]
    method: str
    metric: str
    layers: list[int]
    families: list[str]
    seeds: list[int]
    samples: Optional[Samples] = None
    per_prompt: Optional[dict[str, dict[str, list[float]]]] = None  # mode -> prompt id -> per layer
    per_seed_layer_effects: dict[str, list[list[float]]]  # mode -> [seed][layer]
    units: dict[str, UnitCounts]
    drifts: Optional[dict[str, list[DriftRow]]] = None
    hardware: Hardware
    peak_rss_mb: float
