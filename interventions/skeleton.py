"""A model's module tree from its config alone: built on the meta device (no weights, no memory),
so claims naming dotted module paths are checked before anything is computed."""

from __future__ import annotations

import functools


def module_types(config) -> dict[str, str]:
    """``{dotted path: kind}`` of every module of the causal LM ``config`` describes; kind is
    ``"linear"`` for ``torch.nn.Linear`` and the class name otherwise."""
    return dict(_module_types(config.to_json_string(use_diff=False)))


@functools.lru_cache(maxsize=8)
def _module_types(config_json: str) -> tuple[tuple[str, str], ...]:
    import json

    import torch
    from transformers import AutoConfig, AutoModelForCausalLM

    data = json.loads(config_json)
    config = AutoConfig.for_model(data.pop("model_type"), **data)
    with torch.device("meta"):
        model = AutoModelForCausalLM.from_config(config)
    return tuple((name, "linear" if isinstance(m, torch.nn.Linear) else type(m).__name__)
                 for name, m in model.named_modules() if name)
