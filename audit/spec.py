"""Base classes and shared field types for every declarative spec: unknown keys are errors, never
ignored, and values are taken as written (no bool for a number, no infinite or NaN float)."""

from typing import Annotated, ClassVar, TypeVar

from pydantic import AfterValidator, BaseModel, ConfigDict, Field, NonNegativeInt, model_validator


class StrictModel(BaseModel):
    """``extra=forbid``, frozen, and strict: ``true`` is not 1, ``"3"`` is not 3, ``.inf`` and
    ``.nan`` are not numbers. YAML has no tuples, so a tuple field declares ``Field(strict=False)``
    (its items stay strict)."""

    model_config = ConfigDict(extra="forbid", frozen=True, validate_default=True, strict=True, allow_inf_nan=False)


T = TypeVar("T")


def distinct(values: list[T]) -> list[T]:
    """``values`` unchanged, or a ValueError naming the entries listed more than once."""
    repeated = sorted({v for v in values if values.count(v) > 1}, key=values.index)
    if repeated:
        raise ValueError(f"{', '.join(map(repr, repeated))} listed more than once: each entry must appear once")
    return values


def disjoint(spec: BaseModel, first: str, second: str) -> None:
    """A ValueError when the list fields ``first`` and ``second`` of ``spec`` share an entry."""
    shared = [v for v in getattr(spec, first) if v in getattr(spec, second)]
    if shared:
        raise ValueError(f"{', '.join(map(repr, shared))} listed in both {first} and {second}: the two sides "
                         "of a comparison must be different")


Distinct = AfterValidator(distinct)  # Annotated[list[...], Distinct]: no entry twice

# What is swept or counted (layers, heads, families) must name something and count each thing once.
Indices = Annotated[list[NonNegativeInt], Field(min_length=1), Distinct]
Names = Annotated[list[str], Field(min_length=1), Distinct]
DistinctNames = Annotated[list[str], Distinct]  # may be empty (an optional side set)


class ReplacedKeys(StrictModel):
    """A spec some of whose keys were removed: each one is rejected with a message naming what
    replaced it (instead of a bare "unknown key"). Subclasses set ``REPLACED = {key: why}``."""

    REPLACED: ClassVar[dict[str, str]] = {}

    @model_validator(mode="before")
    @classmethod
    def _replaced_keys(cls, data):
        if isinstance(data, dict):
            for key, why in cls.REPLACED.items():
                if key in data and key not in cls.model_fields:
                    raise ValueError(why)
        return data
