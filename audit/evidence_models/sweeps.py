"""Evidence models of the sweeps: layer ablation sweeps (``layer_sweep``), component sweeps
(``component_sweep``) and comparisons of other claims' sweeps (``comparison``)."""

from __future__ import annotations

from typing import Annotated, Any, Literal, Optional, Union

from pydantic import Discriminator, Tag

from .base import EvidenceRecord, Label, Resources, Samples, SweepControls, Table


class SweepCounts(EvidenceRecord):
    """Prompts per family and seed, unique prompts, and how many were computed or cached."""

    per_family_per_seed: int
    unique: int
    computed: int
    from_cache: int


class SweepBase(EvidenceRecord):
    """The unmodified model on the swept prompts."""

    mean_target_nll: float
    top1_accuracy: float
    unaligned_targets: int


class DtypeCheck(EvidenceRecord):
    """KL(float32 || run dtype) of the base next-token distribution, for a reduced-precision run."""

    reference: str
    dtype: str
    n_prompts: int
    mean_kl: float
    max_kl: float


class SweepResources(Resources):
    """Trace budget, batch size and prefix reuse of a layer sweep, and its peak memory."""

    trace_budget_mb: float
    batch_size: int
    prefix_reuse: bool
    trace_mb_per_batch: float


class LayerSweepEvidence(EvidenceRecord):
    """A layer ablation sweep (``layer_ablation``): each layer's effect on the metric, per seed,
    family and prompt."""

    kind: Literal["layer_sweep"]
    metric: str
    method: str
    layers: list[int]
    families: list[str]
    seeds: list[int]
    effects: dict[str, Table]  # metric -> [seed][family][layer]
    samples: Samples
    per_prompt: Optional[dict[str, dict[str, list[float]]]] = None  # metric -> prompt id -> per layer
    n_prompts: SweepCounts
    base: SweepBase
    controls: SweepControls
    dtype_check: Optional[DtypeCheck] = None
    resources: Optional[SweepResources] = None


BY_SEED, BY_PAIR = "<by seed>", "<by pair>"  # union tags (they appear in an error's location)


def _by_seed_or_pair(value: Any) -> str:
    first = next(iter(value.values()), None) if isinstance(value, dict) else None
    return BY_SEED if isinstance(first, dict) else BY_PAIR


# ablation: seed -> prompt id -> per component; patching: pair id -> per component
ComponentValues = Annotated[Union[Annotated[dict[str, dict[str, list[float]]], Tag(BY_SEED)],
                                  Annotated[dict[str, list[float]], Tag(BY_PAIR)]], Discriminator(_by_seed_or_pair)]


class ComponentSweepEvidence(EvidenceRecord):
    """A component sweep: ablation effects (``ablation``) or normalized recovery (``patching``) of
    each component, per seed, family and prompt."""

    kind: Literal["component_sweep"]
    metric: str
    method: str
    target: str
    labels: list[str]
    families: list[str]
    seeds: list[int]
    effects: dict[str, Table]  # metric -> [seed][family][component]
    samples: Samples
    per_prompt: Optional[dict[str, ComponentValues]] = None  # metric -> ...
    judged_samples: Optional[Samples] = None
    refused_pairs: Optional[list[str]] = None
    uninformative_pairs: Optional[list[str]] = None
    trivial: Optional[list[str]] = None
    notes: Optional[list[str]] = None
    subspace: Optional[dict] = None  # patching in a claimed subspace: its file, sha256, dim, whole recovery
    controls: SweepControls
    resources: Resources


class ComparedSweep(EvidenceRecord):
    """One compared claim's sweep, as the comparison criterion reads it."""

    claim_id: str
    verdict: str
    top: Optional[Label]
    top_separated: bool
    flat: bool
    strong: Optional[bool] = None
    stage: Optional[str] = None
    confidence_cap: Optional[str] = None
    closest_interval: Optional[list[float]] = None
    n_layers: int
    labels: list[Label]
    pooled: Optional[Union[list[float], dict[str, float]]]
    metric: Optional[str]
    method: Optional[str]
    model_id: Optional[str]
    n_seeds: int
    weights_sha256: Optional[str]
    claim_sha256: Optional[str]
    reasons: list[str]


class ComparisonEvidence(EvidenceRecord):
    """A comparison of other claims' sweeps (their tops), with each input's confidence cap."""

    kind: Literal["comparison"]
    sweeps: list[ComparedSweep]
    input_caps: Optional[dict[str, str]] = None
