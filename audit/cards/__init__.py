"""Report cards, one module per evidence ``kind``: ledger record -> plots, tables and notes
(the registry and shared helpers: :mod:`audit.cards.base`)."""

from audit.cards.base import CARDS, build_card, card_for, confidence_sentence, fmt_mb, plot_path, plot_stem  # noqa: F401

from audit.cards import comparison, component_sweep, layer_sweep  # noqa: E402,F401  (registers)
from audit.cards import deployment, steering, training  # noqa: E402,F401  (registers)
from interventions.kinds import load  # noqa: E402

load("card")  # the cards of the kinds that live in one folder
