"""The Python API: ``from audit import run, check, Result``.

    problems = check("claims/smollm2_hub.yaml")          # [] when valid; else Problem(file, line, ...)
    result = run("claims/smollm2_hub.yaml", model=my_model, tokenizer=my_tokenizer)
    result.verdict, result.confidence, result.reasons, result.evidence, result.provenance
    result.typed_evidence                                 # the evidence as a pydantic model (audit.evidence_models)
    result.save("audit-out")                              # ledger + report, only when asked

``model`` is an alias, a Hugging Face id (``org/name@revision`` pins one), a directory (a
checkpoint or a peft adapter on its base), or an object: a transformers ``PreTrainedModel`` or a
peft ``PeftModel`` (hashed from its state dict for the cache and the provenance; see
:mod:`audit.model_objects`). Nothing is written unless ``save`` is called.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from audit.errors import ClaimFileError, Problem

if TYPE_CHECKING:
    from audit.evidence_models import Evidence


@dataclass(frozen=True)
class Result:
    """One claim's outcome: the verdict, its confidence and reasons, the evidence and provenance,
    and the ledger record they come from (``record``, exactly what ``save`` appends)."""

    claim_id: str
    verdict: str  # supported | refuted | inconclusive | errored | pending
    confidence: str
    reasons: list[str]
    expect: str
    matches_expect: bool
    exit_code: int
    evidence: dict[str, Any]
    provenance: dict[str, Any]
    record: dict[str, Any] = field(repr=False)

    @property
    def typed_record(self):
        """The ledger record as a :class:`audit.record.LedgerRecord` (typed; unknown fields kept)."""
        from audit.record import LedgerRecord

        return LedgerRecord.model_validate(self.record)

    @classmethod
    def from_record(cls, rec: dict) -> "Result":
        return cls(rec["claim_id"], rec["verdict"], rec["confidence"], list(rec["reasons"]), rec["expect"],
                   bool(rec["matches_expect"]), int(rec["exit_code"]), rec["evidence"], rec["provenance"], rec)

    @property
    def typed_evidence(self) -> Evidence | None:
        """``evidence`` as the model of its kind (:func:`audit.evidence_models.parse_evidence`):
        None for an errored or pending claim; ValueError (one line) when it does not fit its kind."""
        from audit.evidence_models import parse_evidence

        return parse_evidence(self.evidence)

    def save(self, out: str | Path, render: bool = True) -> Path | None:
        """Append the record to the ledger in ``out`` (created) and render its report; the report's path."""
        from audit import ledger

        out = Path(out)
        out.mkdir(parents=True, exist_ok=True)
        ledger.append(out, self.record)
        if not render:
            return None
        from audit.render import render_report

        return render_report(out)


def check(path: str | Path) -> list[Problem]:
    """The problems of a claim file (file, line, column, what, hint); [] when it is valid."""
    from audit.schema import load_claim

    try:
        load_claim(path)
    except ClaimFileError as exc:
        return list(exc.problems)
    return []


def run(claim, model=None, tokenizer=None, *, dtype: str = "float32", device: str = "cpu",
        cache: bool = True, allow_download: bool = False, batch_size: int = 16, label: str = "") -> Result:
    """Run one claim (a path or a ``LoadedClaim``) and return its :class:`Result` (nothing written).

    ``model``: None (the claim's own), a name or directory, or a model object (then ``tokenizer``
    is required). ``label`` names an object model in the record (default: its config's name_or_path
    and class). ClaimFileError when the claim file is invalid.
    """
    from audit.cache import EvidenceCache
    from audit.model_objects import is_model_object, materialise
    from audit.runner import RunOptions, run_claim
    from audit.schema import LoadedClaim, load_claim

    lc = claim if isinstance(claim, LoadedClaim) else load_claim(claim)
    options = RunOptions(dtype=dtype, device=device, allow_download=allow_download, batch_size=batch_size,
                         evidence_cache=EvidenceCache(enabled=cache))
    if is_model_object(model):
        path, prov = materialise(model, tokenizer, label)
        options.model = str(path)
        options.model_label = label or f"object:{prov['object_class']}:{prov['state_sha256'][:12]}"
        options.model_provenance = {"object": prov}
    elif model is not None:
        if not isinstance(model, (str, Path)):
            raise TypeError(f"model={type(model).__name__}: expected an alias, a Hugging Face id, a directory, "
                            "a transformers PreTrainedModel or a peft PeftModel")
        options.model = str(model)
    return Result.from_record(run_claim(lc, options))
