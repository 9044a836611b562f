"""The model-side ops of every kind (:mod:`audit.units`): the only code that runs hooks on a model
for a claim's evidence. One module per intervention kind; importing this package registers them."""

from interventions.compute import ablation, deployment, layer_ablation, lora, patching, steering  # noqa: F401,E501
from interventions.compute import quantization_controls  # noqa: F401
from interventions.kinds import load

load("ops")  # the ops of the kinds that live in one folder
