"""The intervention registry: YAML ``intervention.kind`` -> spec class (a pydantic model)."""

from audit.registry import Registry

INTERVENTIONS: Registry = Registry("intervention kind")


def intervention(kind: str):
    """Class decorator registering an intervention spec under its YAML ``kind``."""
    return INTERVENTIONS.register(kind)
