"""Base classes for every declarative spec: unknown keys are errors, never ignored."""

from typing import ClassVar

from pydantic import BaseModel, ConfigDict, model_validator


class StrictModel(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True, validate_default=True)


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
