"""The evidence union (discriminated on ``kind``, :class:`OtherEvidence` for an unknown kind) and
:func:`parse_evidence`, which reads an evidence dict into it with a one-line error."""

from __future__ import annotations

from typing import Annotated, Any, Union, get_args

from pydantic import Discriminator, Tag, TypeAdapter, ValidationError

from .base import NO_EVIDENCE_KEYS, EvidenceRecord
from .deployment import LayerSkipEvidence, QuantizationDriftEvidence, QuantizationEvidence
from .steering import SteeringEvidence
from .sweeps import BY_PAIR, BY_SEED, ComparisonEvidence, ComponentSweepEvidence, LayerSweepEvidence
from .training import LoraAdapterAblationEvidence, LoraEvidence, LoraSweepEvidence


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


# the names pydantic gives the members of the package's unions in an error's location
UNION_MEMBERS = frozenset({BY_SEED, BY_PAIR, "int", "str", "list[float]", "dict[str,float]", "list[str]",
                           "DirectionFile"})


def _short(value: Any, limit: int = 60) -> str:
    text = repr(value)
    return text if len(text) <= limit else text[:limit - 3] + "..."
