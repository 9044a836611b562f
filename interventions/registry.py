"""The intervention registry: YAML ``intervention.kind`` -> spec class (a pydantic model)."""

from audit.registry import Registry

INTERVENTIONS: Registry = Registry("intervention kind")


def intervention(kind: str):
    """Class decorator registering an intervention spec under its YAML ``kind``. The spec declares
    ``evidence_type``: the type of the evidence its builder hands the criterion (it decides which
    acceptance kinds apply, :func:`audit.criteria.base.applies`)."""
    def register(spec: type) -> type:
        if not isinstance(getattr(spec, "evidence_type", None), type):
            raise TypeError(f"intervention '{kind}': declare evidence_type: ClassVar[type] (what its criteria judge)")
        return INTERVENTIONS.register(kind)(spec)
    return register
