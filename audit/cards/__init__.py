"""Report cards, one module per evidence ``kind``: ledger record -> plots, tables and notes.

A card builder returns ``{"plots": [(relative_png, caption)], "tables": [{"title", "columns",
"rows"}], "notes": [str]}``; the templates render every card the same way.
"""

from __future__ import annotations

from audit.ledger import slug
from audit.registry import Registry

CARDS: Registry = Registry("report card (evidence kind)")


def card_for(kind: str):
    return CARDS.register(kind)


def plot_stem(rec: dict) -> str:
    """Where a claim's plots go, relative to the report: ``plots/<slug of the claim id>`` (the id
    read back from the ledger never becomes a path by itself)."""
    return f"plots/{slug(rec['claim_id'])}"


def plot_path(rec: dict, name: str) -> str:
    return f"{plot_stem(rec)}-{name}.png"


def build_card(rec: dict, out_dir) -> dict:
    """The card of one record; records without a registered builder get an empty card."""
    kind = (rec.get("evidence") or {}).get("kind")
    empty = {"plots": [], "tables": [], "notes": []}
    if kind in CARDS:
        return {**empty, **CARDS.get(kind)(rec, out_dir)}
    return empty


from audit.cards import comparison, component_sweep, layer_sweep  # noqa: E402,F401  (registers)
from audit.cards import deployment, steering, training  # noqa: E402,F401  (registers)
