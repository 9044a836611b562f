"""Acceptance criteria, one module per YAML ``acceptance.kind``; pure (no torch)."""

from audit.criteria.base import CRITERIA, criterion  # noqa: F401

from audit.criteria import comparison, effects, hub  # noqa: E402,F401  (registers)
from audit.criteria import deployment, lora, steering  # noqa: E402,F401  (registers)
