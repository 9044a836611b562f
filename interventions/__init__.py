"""Interventions on a model, one module per YAML ``kind``; importing this package registers them all."""

from interventions.registry import INTERVENTIONS, intervention
from interventions import ablation, comparison, layer_ablation, patching  # noqa: F401  (registers)
from interventions import layer_skip, lora, quantization, steering  # noqa: F401  (registers)
from interventions import kinds

kinds.load("spec")  # the kinds that live in one folder (interventions/kinds.py)

__all__ = ["INTERVENTIONS", "intervention"]
