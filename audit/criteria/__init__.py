"""Acceptance criteria, one module per YAML ``acceptance.kind``; pure (no torch)."""

from audit.registry import Registry

CRITERIA: Registry = Registry("acceptance kind")


def criterion(kind: str):
    """Class decorator registering an acceptance spec under its YAML ``kind``."""
    return CRITERIA.register(kind)


from audit.criteria import comparison, effects, hub  # noqa: E402,F401  (registers)
from audit.criteria import deployment, lora, steering  # noqa: E402,F401  (registers)
