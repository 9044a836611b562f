"""Evidence models of a steering sweep (``steering``): per-cell effects and collateral, the nulls
and controls at the judged cells, the direction's provenance and statistics."""

from __future__ import annotations

from typing import Literal, Optional, Union

from pydantic import Field

from .base import EvidenceRecord, Resources, Samples


class DirectionFile(EvidenceRecord):
    """Where a steering direction read from a file came from."""

    file: str
    sha256: str
    format: Optional[str] = None
    layers: Optional[list[int]] = None
    key_per_layer: Optional[dict[str, str]] = None
    norm_per_layer: Optional[dict[str, float]] = None


class PromptSet(EvidenceRecord):
    """One seed's prompt ids and their families, in the order the per-prompt lists use."""

    ids: list[str]
    families: list[str]


class SteeringPrompts(EvidenceRecord):
    """Per seed, the eval and the collateral prompts."""

    eval: list[PromptSet]
    collateral: list[PromptSet]


class CellPerPrompt(EvidenceRecord):
    """One cell's per-prompt values: [seed][prompt]."""

    effect: list[list[float]]
    collateral: list[list[float]]


class Noise(EvidenceRecord):
    """Within-run numerical noise of one cell (a zero vector through the steered path)."""

    effect: float
    collateral: float


class NullDraws(EvidenceRecord):
    """Diagnostics of one seed's null directions (how many, their cosines and norms)."""

    n: int
    __pydantic_extra__: dict[str, float] = Field(init=False)


class Example(EvidenceRecord):
    """A greedy answer unsteered and steered."""

    prompt: str
    base: str
    steered: str


class Examples(EvidenceRecord):
    """A few greedy answers at the judged cell."""

    cell: str
    rows: list[Example]


class DirectionStats(EvidenceRecord):
    """One layer's direction: raw norm per seed and cosine between seeds."""

    raw_norm_per_seed: list[float]
    cos_between_seeds: list[float]


class SteeringCounts(EvidenceRecord):
    """Prompts per seed (contrastive examples only for a contrastive direction)."""

    eval_per_seed: int
    collateral_per_seed: int
    positive_per_seed: Optional[int] = None
    negative_per_seed: Optional[int] = None


class SeedControl(EvidenceRecord):
    """The seed control at the judged cell: effect and collateral per seed."""

    cell: str
    effect_per_seed: list[float]
    collateral_per_seed: list[float]
    effect_ci_pooled: Optional[list[float]] = None
    collateral_ci_pooled: Optional[list[float]] = None
    effect_sd: Optional[float] = None


class NullControl(EvidenceRecord):
    """One null control's row for the report (its full draws stay in ``nulls``)."""

    status: Optional[str] = None
    reason: Optional[str] = None
    p: Optional[float] = None
    n_draws: Optional[int] = None
    n_seeds: Optional[int] = None
    observed: Optional[float] = None
    median: Optional[float] = None
    q75: Optional[float] = None
    q_significance: Optional[float] = None
    per_seed_p: Optional[list[float]] = None
    max_abs_cos_with_observed: Optional[float] = None
    median_abs_cos_with_observed: Optional[float] = None
    median_norm_ratio: Optional[float] = None
    quantile: Optional[float] = None
    margin: Optional[float] = None
    seeds_beating: Optional[int] = None


class SteeringControls(EvidenceRecord):
    """The seed control and one row per null control (keyed by its name)."""

    seeds: Optional[SeedControl] = None
    __pydantic_extra__: dict[str, NullControl] = Field(init=False)


class SteeringResources(Resources):
    """Evidence units computed and cached, steered rows, wall time."""

    units_computed: int
    units_from_cache: int
    evidence_s: float
    steered_rows_computed: Optional[int] = None


class SteeringEvidence(EvidenceRecord):
    """A steering sweep (``steering``): behaviour effect and collateral KL per (layer, alpha) cell
    and seed, with the random-vector and shuffled-label nulls at the judged cells."""

    kind: Literal["steering"]
    metric: str
    layers: list[int]
    alphas: list[float]
    cells: list[str]
    scale: str
    positions: str
    seeds: list[int]
    families: list[str]
    collateral_families: list[str]
    direction_source: Union[str, DirectionFile]
    effect: dict[str, list[float]]  # cell -> per seed
    effect_by_family: dict[str, dict[str, list[float]]]  # cell -> family -> per seed
    collateral: dict[str, list[float]]
    collateral_max: dict[str, list[float]]
    base: dict[str, list[float]]  # family -> per seed
    prompts: Optional[SteeringPrompts] = None
    per_prompt: Optional[dict[str, CellPerPrompt]] = None
    numerical_noise: Optional[dict[str, Noise]] = None
    required_controls: list[str]
    waived: dict[str, str]
    nulls: dict[str, dict[str, list[list[float]]]]  # control -> cell -> [seed][draw]
    null_diagnostics: dict[str, dict[str, dict[str, NullDraws]]]  # control -> cell -> seed
    control_cells: list[str]
    examples: Examples
    direction: dict[str, DirectionStats]  # layer -> stats
    samples: Samples
    n_prompts: SteeringCounts
    controls: SteeringControls
    resources: SteeringResources
