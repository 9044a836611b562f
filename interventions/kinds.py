"""Intervention kinds that live in one folder, ``interventions/<kind>/``; adding one is the folder
plus its name in :data:`FOLDERS`. Each part registers itself where it is used:

- ``spec.py``: the YAML spec (``@intervention``; no torch at import) — read by the claim schema;
- ``evidence.py``: the builder (``@evidence_for``: plan tasks, run them with
  :func:`audit.units.run_tasks`, assemble the evidence) — imported with the evidence builders;
- ``ops.py`` (optional): the model-side ops its tasks run (``@unit_op``) — imported only where
  units are computed (this process or a Ray worker);
- ``card.py`` (optional): a report card for a new evidence shape (``@card_for``) — imported by the
  renderer; the only part allowed to import the reporting side.

A kind whose evidence has the shape of an existing one reuses that builder's pieces, card and
acceptance criteria (``layer_scaling`` is a layer sweep: it brings only its spec and hooks).
"""

from __future__ import annotations

import importlib
import importlib.util

FOLDERS: tuple[str, ...] = ("layer_scaling",)
PARTS = ("spec", "evidence", "ops", "card")


def load(part: str) -> None:
    """Import ``part`` of every folder kind that has it (registering it)."""
    if part not in PARTS:
        raise ValueError(f"unknown part {part!r} of a kind folder; parts: {', '.join(PARTS)}")
    for name in FOLDERS:
        module = f"interventions.{name}.{part}"
        if importlib.util.find_spec(module) is not None:
            importlib.import_module(module)
