"""Typed, versioned views of the ``evidence`` dicts the builders in ``audit/evidence/`` write.

One pydantic model per evidence ``kind``, discriminated on ``kind``; :class:`OtherEvidence` for a
kind this module does not know, so a new kind never breaks an old reader. Values are taken as
written (strict: ``"0.5"`` is not a number, ``true`` is not 1), unknown keys pass through, and
``model_dump(mode="json")`` gives back exactly the dict that was read (fields the record did not
have are not added). Fields that older ledger records lack are Optional with a None default.

    ev = parse_evidence(record["evidence"])   # None for an errored/pending record
    if isinstance(ev, LayerSweepEvidence):
        ev.effects[ev.metric]                 # [seed][family][layer]

Pure: pydantic and the standard library only (no torch).
"""

from __future__ import annotations

from typing import Annotated, Any, Literal, Optional, Union, get_args

from pydantic import BaseModel, ConfigDict, Discriminator, Field, Tag, TypeAdapter, ValidationError, model_serializer

# The shapes these models describe. Bump when a builder changes the type or meaning of a field in
# a way an old reader would misread; adding a key is no change (unknown keys pass through).
EVIDENCE_VERSION = 1

# Notes the runner writes instead of evidence: an errored record's error, a pending one's reason.
NO_EVIDENCE_KEYS = frozenset({"error", "traceback", "pending"})


class EvidenceRecord(BaseModel):
    """Base of every evidence model: frozen, strict, unknown keys kept; dumps only the keys read."""

    model_config = ConfigDict(extra="allow", frozen=True, strict=True, ser_json_inf_nan="constants")

    @model_serializer(mode="wrap")
    def _as_read(self, handler):
        data = handler(self)
        unset = set(type(self).model_fields) - self.model_fields_set
        return {k: v for k, v in data.items() if k not in unset}


# --------------------------------------------------------------------------- shared shapes

Samples = dict[str, dict[str, list[str]]]  # seed -> family (or role) -> prompt ids
Table = list[list[list[float]]]  # [seed][family][layer or component]
FamilyValues = dict[str, dict[str, float]]  # family -> prompt id -> value
Label = Union[int, str]  # a layer index or a component label


class Replication(EvidenceRecord):
    """Seed-to-seed replication of a sweep: each seed's winner, the modal one, the spread."""

    seeds: list[int]
    winner_per_seed: dict[str, Label]
    modal_winner: Label
    agreement: int
    n_seeds: int
    std_per_component: list[float]


class SweepControls(EvidenceRecord):
    """The controls a sweep ran (the seed replication)."""

    seeds: Replication


class Resources(EvidenceRecord):
    """What the run cost: the process's peak resident memory."""

    peak_rss_mb: float


class Hardware(EvidenceRecord):
    """The machine timings were measured on (older records have fewer facts)."""

    python: Optional[str] = None
    platform: Optional[str] = None
    processor: Optional[str] = None
    cpu_count: Optional[int] = None
    cpu_model: Optional[str] = None
    ram_gb: Optional[float] = None
    torch_threads: Optional[int] = None
    cuda: Optional[bool] = None
    cuda_device: Optional[str] = None
    bitsandbytes: Optional[str] = None


class SpeedProtocol(EvidenceRecord):
    """Interleaved side-by-side generation timing: the protocol, tokens/s and seconds per variant."""

    prompts: int
    new_tokens: int
    repeats: int
    warmup: int
    interleaved: bool
    torch_threads: int
    tokens_per_s: dict[str, float]
    seconds: dict[str, list[float]]


class SeedRow(EvidenceRecord):
    """One seed's metrics, each averaged over families."""

    seed: int
    __pydantic_extra__: dict[str, float] = Field(init=False)


class Dependency(EvidenceRecord):
    """A claim this one builds on (run or read from the cache) and what was taken from it."""

    claim_id: str
    file: str
    verdict: str
    claim_sha256: str
    weights_sha256: Optional[str]
    skipped: Optional[list[int]] = None  # layer skip: the layers it chose
    top_k: Optional[int] = None  # training: the atlas layers it chose
    layers: Optional[list[int]] = None


class PeakMemory(EvidenceRecord):
    """Sampled RSS peak during one section (None where the platform reports no RSS)."""

    peak_mb: Optional[float]
    growth_mb: Optional[float]
    method: str
    cuda_peak_mb: Optional[float] = None


# --------------------------------------------------------------------------- sweeps

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


# --------------------------------------------------------------------------- deployment

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


# --------------------------------------------------------------------------- steering

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


# --------------------------------------------------------------------------- training

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


# --------------------------------------------------------------------------- the union

class OtherEvidence(EvidenceRecord):
    """Evidence of a kind this module does not know: its keys kept as read, untyped."""

    kind: str


MODELS = (ComponentSweepEvidence, ComparisonEvidence, LayerSkipEvidence, LayerSweepEvidence, LoraEvidence,
          LoraSweepEvidence, LoraAdapterAblationEvidence, QuantizationEvidence, QuantizationDriftEvidence,
          SteeringEvidence)
KINDS: dict[str, type[EvidenceRecord]] = {get_args(m.model_fields["kind"].annotation)[0]: m for m in MODELS}
OTHER = "other"  # the tag of OtherEvidence in the union (never a kind's name: kinds are known names)


def _tag(value: Any) -> str:
    kind = value.get("kind") if isinstance(value, dict) else getattr(value, "kind", None)
    return kind if kind in KINDS else OTHER


Evidence = Annotated[Union[tuple(Annotated[m, Tag(k)] for k, m in KINDS.items())
                           + (Annotated[OtherEvidence, Tag(OTHER)],)], Discriminator(_tag)]
_ADAPTER: TypeAdapter = TypeAdapter(Evidence)


def parse_evidence(d: dict) -> Evidence | None:
    """The typed model of an evidence dict: None when it holds no evidence (empty, or only an
    errored/pending record's note), :class:`OtherEvidence` for an unknown kind; a one-line
    ValueError naming the kind and the failing field otherwise."""
    if not isinstance(d, dict):
        raise ValueError(f"evidence is a {type(d).__name__}; expected a mapping with a 'kind' key")
    if "kind" not in d:
        if set(d) <= NO_EVIDENCE_KEYS:
            return None
        raise ValueError(f"evidence has no 'kind' (keys: {', '.join(sorted(map(str, d))[:8])}); "
                         "every builder writes one")
    if not isinstance(d["kind"], str):
        raise ValueError(f"evidence kind is {d['kind']!r}; expected a string such as 'layer_sweep'")
    try:
        return _ADAPTER.validate_python(d)
    except ValidationError as exc:
        raise ValueError(_one_line(d["kind"], exc)) from None


def _one_line(kind: str, exc: ValidationError) -> str:
    """``<kind> evidence: field a.b.0: <what> (got <value>)``, and how many more problems."""
    errors = exc.errors(include_url=False)
    first = errors[0]
    loc = first["loc"][1:] if first["loc"] and first["loc"][0] in (kind, OTHER) else first["loc"]
    where = ".".join(str(part) for part in loc if part not in UNION_MEMBERS) or "(top level)"
    what = "missing" if first["type"] == "missing" else f"{first['msg'].lower()} (got {_short(first['input'])})"
    more = f" (and {len(errors) - 1} more problem{'s' * (len(errors) > 2)})" if len(errors) > 1 else ""
    return f"{kind} evidence: field {where}: {what}{more}"


# the names pydantic gives the members of this module's unions in an error's location
UNION_MEMBERS = frozenset({BY_SEED, BY_PAIR, "int", "str", "list[float]", "dict[str,float]", "list[str]",
                           "DirectionFile"})


def _short(value: Any, limit: int = 60) -> str:
    text = repr(value)
    return text if len(text) <= limit else text[:limit - 3] + "..."
