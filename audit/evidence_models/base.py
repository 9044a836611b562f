"""The base of every evidence model and the shapes several kinds share: seed replication, sweep
controls, resources, hardware, the speed protocol, per-seed rows, dependencies, peak memory.

Pure: pydantic and the standard library only (no torch).
"""

from __future__ import annotations

from typing import Optional, Union

from pydantic import BaseModel, ConfigDict, Field, model_serializer


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
