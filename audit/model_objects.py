"""Models the user already has: an in-memory ``PreTrainedModel``, a ``PeftModel``, or a peft adapter
directory on its base model, turned into an ordinary model directory so that every evidence kind
(reloads in other precisions, fresh bases for LoRA training, Ray workers) sees a checkpoint.

The directory is content-addressed under the model cache (``models/object-<sha256 of the state
dict, config and tokenizer>``): the same weights are saved once and give the same evidence-cache
keys and provenance on every run. A PeftModel is merged into a copy of its base (the audited
function is base + adapter; the user's object is never changed).
"""

from __future__ import annotations

import copy
import hashlib
import json
import shutil
import tempfile
from pathlib import Path


class ModelObjectError(ValueError):
    """An object that cannot be audited as a model (one line: what it is, what was expected)."""


def is_model_object(obj) -> bool:
    try:
        from transformers import PreTrainedModel
    except ImportError:  # pragma: no cover - transformers is a dependency
        return False
    return isinstance(obj, PreTrainedModel) or _is_peft(obj)


def _is_peft(obj) -> bool:
    try:
        from peft import PeftModel
    except ImportError:  # pragma: no cover - peft is a dependency
        return False
    return isinstance(obj, PeftModel)


def state_digest(model, tokenizer) -> str:
    """sha256 over the state dict (names, dtypes, shapes, bytes), the config and the tokenizer's vocabulary."""
    import torch

    h = hashlib.sha256()
    for name, t in sorted(model.state_dict().items()):
        t = t.detach().to("cpu").contiguous()
        h.update(f"{name}|{t.dtype}|{tuple(t.shape)}|".encode())
        h.update(t.reshape(-1).view(torch.uint8).numpy().tobytes() if t.numel() else b"")
    h.update(model.config.to_json_string(use_diff=False).encode())
    h.update(json.dumps(sorted(tokenizer.get_vocab().items()), default=str).encode())
    return h.hexdigest()


def _peft_provenance(peft_model) -> dict:
    name = getattr(peft_model, "active_adapter", "default")
    cfg = peft_model.peft_config[name if isinstance(name, str) else name[0]]
    return {"peft_type": str(getattr(cfg, "peft_type", "")), "base_model": getattr(cfg, "base_model_name_or_path", ""),
            "r": getattr(cfg, "r", None), "target_modules": sorted(getattr(cfg, "target_modules", None) or [])}


def materialise(model, tokenizer, label: str = "") -> tuple[Path, dict]:
    """The content-addressed model directory of ``model`` + ``tokenizer``, and its provenance."""
    from audit.cache import cache_root

    if not is_model_object(model):
        raise ModelObjectError(f"model={type(model).__name__}: expected an alias, a Hugging Face id, a directory, "
                               "a transformers PreTrainedModel or a peft PeftModel")
    if tokenizer is None:
        raise ModelObjectError(f"model={type(model).__name__} given as an object: pass its tokenizer too "
                               "(tokenizer=AutoTokenizer.from_pretrained(...))")
    prov = {"object_class": type(model).__name__, "label": label or getattr(model.config, "name_or_path", "") or ""}
    if _is_peft(model):
        prov["peft"] = _peft_provenance(model)
        model = copy.deepcopy(model).merge_and_unload()
    digest = state_digest(model, tokenizer)
    target = cache_root() / "models" / f"object-{digest[:24]}"
    if not (target / "config.json").is_file():
        target.parent.mkdir(parents=True, exist_ok=True)
        tmp = Path(tempfile.mkdtemp(prefix=".object-", dir=target.parent))
        try:
            model.save_pretrained(tmp, safe_serialization=True)
            tokenizer.save_pretrained(tmp)
            tmp.rename(target)
        except OSError:
            shutil.rmtree(tmp, ignore_errors=True)
            if not (target / "config.json").is_file():  # not a concurrent save of the same weights
                raise
    prov["state_sha256"] = digest
    return target, prov
