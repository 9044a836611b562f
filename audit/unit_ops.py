"""The registry of model-side ops (:mod:`audit.units`): ``@unit_op("<kind>.<what>")`` on a function
``op(ctx, **args)``; the ops themselves live in ``interventions/compute/`` and kind folders."""

from __future__ import annotations

from audit.registry import Registry

OPS: Registry = Registry("evidence unit op")


def unit_op(name: str):
    """Decorator registering a model-side op under ``name`` (``"<kind>.<what>"``)."""
    return OPS.register(name)
