"""Evidence builders, one module per intervention ``kind``: model + claim -> outcome + evidence
(the registry, :class:`RunContext` and :class:`EvidenceResult`: :mod:`audit.evidence.base`)."""

from audit.evidence.base import (BUILDERS, EvidenceResult, RunContext,  # noqa: F401
                                 checks_decided, evidence_for)

from audit.evidence import ablation, comparison, layer_sweep, patching  # noqa: E402,F401  (registers)
from audit.evidence import layer_skip, lora, quantization, steering  # noqa: E402,F401  (registers)
from interventions.kinds import load  # noqa: E402

load("evidence")  # the builders of the kinds that live in one folder
