"""Evidence for ``layer_scaling``: a layer sweep (the ``layer_ablation`` builder, its cached
per-prompt units and ``layer_ablation.batch`` op, its card and hub criteria), run with this kind's hooks."""

from audit.evidence.base import evidence_for
from audit.evidence.layer_sweep import layer_sweep

evidence_for("layer_scaling")(layer_sweep)
