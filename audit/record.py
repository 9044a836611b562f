"""The ledger record, typed: what every reader (report, gate, history, API) relies on. Other
fields pass through untouched (``extra="allow"``), so older and newer records both load.

``schema_version`` comes first in every written line. Version 1 is the only one; a reader meeting a
newer version keeps its known fields and passes the rest through.
"""

from __future__ import annotations

from typing import Literal, Optional, Union

from pydantic import BaseModel, ConfigDict, Field

SCHEMA_VERSION = 1
# The claim id rule of claim files (audit.schema.Claim.id); ids read back from the ledger obey it too.
CLAIM_ID_PATTERN = r"^[a-z0-9][a-z0-9_.-]*$"
CLAIM_ID_MAX = 100
CLAIM_ID_RULE = "lower-case letters, digits and _ . -, starting with a letter or digit, at most 100 characters"
_OPTIONAL_ID = r"^([a-z0-9][a-z0-9_.-]*)?$"  # superseded_by, selected_by: another claim's id, or ""


class _Shape(BaseModel):
    model_config = ConfigDict(extra="allow", strict=True)


class RecordSuite(_Shape):
    name: str = ""
    families: Union[str, list[str]] = []
    split: Optional[str] = None


class RecordControls(_Shape):
    seeds: list[int] = []


class RecordClaim(_Shape):
    """The claim file as it was run (its validated fields)."""

    id: str = ""
    statement: str = ""
    model: str = ""
    expect: str = ""
    suite: Union[RecordSuite, str] = ""
    intervention: dict = {}
    metric: dict = {}
    controls: RecordControls = RecordControls()
    acceptance: dict = {}
    rationale: str = ""
    falsifier: str = ""
    caveats: list[str] = []
    tags: list[str] = []
    negative_result: bool = False
    retired: bool = False
    superseded_by: str = Field("", pattern=_OPTIONAL_ID, max_length=CLAIM_ID_MAX)
    stage: str = ""
    selected_by: str = Field("", pattern=_OPTIONAL_ID, max_length=CLAIM_ID_MAX)


class Provenance(_Shape):
    """Where a result comes from: the claim, suite, model weights, code, packages and machine."""

    claim_file: str = ""
    claim_sha256: str = ""
    suite: str = ""
    suite_version: int = 0
    suite_sha256: str = ""
    suite_split: str = ""
    seeds: list[int] = []
    packages: dict = {}
    machine: dict = {}
    code_commit: str = ""
    dtype: str = ""
    model_requested: str = ""
    model_id: str = ""
    model_upstream_id: str = ""
    weights_sha256: str = ""
    wall_time_s: float = 0.0


class LedgerRecord(_Shape):
    """One claim run: verdict, confidence and why, the evidence, its provenance and the claim as run."""

    schema_version: int = SCHEMA_VERSION
    claim_id: str = Field(pattern=CLAIM_ID_PATTERN, max_length=CLAIM_ID_MAX)
    run_id: str = ""
    statement: str = ""
    expect: Literal["supported", "refuted", "inconclusive"] = "supported"
    verdict: Literal["supported", "refuted", "inconclusive", "errored", "pending"] = "errored"
    confidence: Literal["none", "low", "medium", "high", "very_high"] = "none"
    confidence_cap: str = ""
    confidence_notes: list[str] = []
    matches_expect: bool = False
    exit_code: int = 0
    reasons: list[str] = []
    summary: dict = {}
    evidence: dict = {}
    provenance: Provenance = Provenance()
    evidence_kinds: list[str] = []
    controls_run: list[str] = []
    started_at: str = ""
    finished_at: str = ""
    claim: RecordClaim = RecordClaim()
    claim_text: Optional[str] = None
    stage: str = ""
    selected_by: str = Field("", pattern=_OPTIONAL_ID, max_length=CLAIM_ID_MAX)
