"""The registry of acceptance criteria (one module per YAML ``acceptance.kind`` registers here)."""

from audit.registry import Registry

CRITERIA: Registry = Registry("acceptance kind")


def criterion(kind: str):
    """Class decorator registering an acceptance spec under its YAML ``kind``."""
    return CRITERIA.register(kind)
