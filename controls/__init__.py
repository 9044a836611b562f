"""Controls, one module per YAML key under ``controls:``, and which kinds take them.

``seeds`` (every kind: each seed resamples the prompts); the null controls, which may be waived
with a reason: ``random_vector`` (steering's random directions; a layer sweep's same-norm random
perturbations of the claimed layer, ``controls/layer_random_vector.py``; quantization's same-norm
weight noise, ``controls/weight_noise.py``, and its drift sweeps, ``controls/drift_noise.py``) and ``shuffled_label`` (steering's relabelled sets;
patching's re-paired sources, ``controls/shuffled_pairs.py``; ablation's re-paired answers,
``controls/repaired_answers.py``, also quantization's re-paired exact-match floor; a layer-skip
config's re-paired reference; quantization drift's shuffled layer labels,
``controls/shuffled_layers.py``); and the controls a kind may take without
a waiver: ``random_component``, ``method_agreement``, ``shuffled_answers``, ``random_subspace``,
``negative_position``, ``prompting_baseline``. An intervention spec
declares what it accepts and requires as class attributes
``accepted_controls`` / ``required_controls`` (default: seeds only); the claim schema and the
gate both read that declaration, so no kind name is spelled anywhere else.
"""

from __future__ import annotations

SEEDS = "seeds"
NULL_CONTROLS = ("random_vector", "shuffled_label")  # controls/random_vector.py, controls/shuffled_label.py
OPTIONAL_CONTROLS = ("random_component", "method_agreement", "shuffled_answers", "random_subspace",
                     "negative_position", "prompting_baseline")  # controls/<name>.py
ONLY_SEEDS = frozenset({SEEDS})


def accepted(spec) -> frozenset[str]:
    """The controls an intervention spec (class or instance) accepts."""
    return frozenset(getattr(spec, "accepted_controls", ONLY_SEEDS))


def required(spec) -> frozenset[str]:
    """The controls it requires (run, or a null control waived with a reason)."""
    return frozenset(getattr(spec, "required_controls", ONLY_SEEDS))
