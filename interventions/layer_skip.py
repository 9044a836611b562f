"""``kind: layer_skip`` — run the model with a set of decoder layers deleted (naive layer skipping).

Each config names the layers to skip: explicit ``layers``, a contiguous ``block`` [first, last],
``every_other`` [first, last] (first, first+2, ...), or the ``least_important`` k layers of
another claim's layer sweep (run or read from the evidence cache). Skipped layers are removed
from the decoder for real (the remaining layers renumbered for the KV cache), so the measured
speedup is the one a deployment would get; for a single forward pass it equals replacing the
layer's output by its input.
"""

from __future__ import annotations

from contextlib import contextmanager
from pathlib import Path
from typing import ClassVar, Literal, Optional

from pydantic import Field, NonNegativeInt, PositiveInt, model_validator

from audit.spec import Indices, StrictModel
from audit.evidence_models.judged import SkipRuns
from interventions.registry import intervention


class LeastImportant(StrictModel):
    claim: str = Field(description="a layer_ablation claim file, relative to this claim file")
    k: PositiveInt = Field(description="how many of its lowest-effect layers to skip")


class SkipConfig(StrictModel):
    """Exactly one way of naming the skipped layers."""

    layers: Optional[Indices] = Field(None, description="the layer indices skipped")
    # strict=False: YAML gives a list for a tuple (the items stay strict)
    block: Optional[tuple[NonNegativeInt, NonNegativeInt]] = Field(None, strict=False,
                                                                   description="[first, last], inclusive")
    every_other: Optional[tuple[NonNegativeInt, NonNegativeInt]] = Field(None, strict=False,
                                                                         description="[first, last], step 2")
    least_important: Optional[LeastImportant] = Field(
        None, description="the k lowest-effect layers of another claim's layer sweep")

    @model_validator(mode="after")
    def _exactly_one(self):
        given = [k for k in ("layers", "block", "every_other", "least_important") if getattr(self, k) is not None]
        if len(given) != 1:
            raise ValueError("a skip config names its layers exactly one way: layers, block, every_other or "
                             f"least_important (got {', '.join(given) or 'none'})")
        for key in ("block", "every_other"):
            pair = getattr(self, key)
            if pair is not None and pair[0] > pair[1]:
                raise ValueError(f"{key} [{pair[0]}, {pair[1]}] must be [first, last] with first <= last")
        return self

    def label(self) -> str:
        if self.layers is not None:
            return "L" + ",".join(map(str, sorted(set(self.layers))))
        if self.block is not None:
            return f"L{self.block[0]}-{self.block[1]}"
        if self.every_other is not None:
            return f"every other L{self.every_other[0]}-{self.every_other[1]}"
        return f"least important {self.least_important.k} ({Path(self.least_important.claim).stem})"

    def explicit(self) -> list[int] | None:
        """The layer indices when they do not depend on another claim's evidence."""
        if self.layers is not None:
            return sorted(set(self.layers))
        if self.block is not None:
            return list(range(self.block[0], self.block[1] + 1))
        if self.every_other is not None:
            return list(range(self.every_other[0], self.every_other[1] + 1, 2))
        return None


@intervention("layer_skip")
class LayerSkip(StrictModel):
    """Skip each config's layers during generation and compare with the unmodified model."""

    # reported beside the verdict, not judged: random_component, random layer sets of each config's size
    # (audit/evidence/layer_skip_random.py); shuffled_label, the reference re-paired: each prompt's skipped
    # output against the unmodified model's on another prompt of its family (audit/evidence/layer_skip_repaired.py)
    accepted_controls: ClassVar[frozenset[str]] = frozenset({"seeds", "random_component", "shuffled_label"})

    kind: Literal["layer_skip"]
    configs: list[SkipConfig] = Field(min_length=1, description="the skip configs compared with the unmodified "
                                                                "model, each naming its layers one way")
    max_new_tokens: PositiveInt = Field(16, le=256, description="greedy tokens generated per prompt")
    speed_prompts: PositiveInt = Field(16, description="prompts in the timed generation batch")
    speed_repeats: PositiveInt = Field(5, description="timed repeats per config, after the warm-ups")
    speed_warmup: NonNegativeInt = Field(1, description="untimed warm-up rounds of every variant")
    why: str = ""

    evidence_type: ClassVar[type] = SkipRuns

    def layer_problems(self, n_layers: int) -> list[tuple[tuple, str, str]]:
        out = []
        for i, c in enumerate(self.configs):
            layers = c.explicit()
            if layers is not None and max(layers) >= n_layers:
                out.append((("intervention", "configs", i), f"skip config {c.label()} names layer {max(layers)}",
                            f"the model has {n_layers} layers: 0..{n_layers - 1}"))
            if layers is not None and len(layers) >= n_layers:
                out.append((("intervention", "configs", i), f"skip config {c.label()} removes every layer",
                            "keep at least one decoder layer"))
            if c.least_important is not None and c.least_important.k >= n_layers:
                out.append((("intervention", "configs", i, "least_important", "k"),
                            f"k={c.least_important.k} would remove every layer", f"the model has {n_layers} layers"))
        return out

    def claim_problems(self, lc) -> list[tuple[tuple, str, str]]:
        out = metric_problem(lc, "skip_faithfulness")
        for i, c in enumerate(self.configs):
            if c.least_important is not None and not (lc.path.parent / c.least_important.claim).is_file():
                out.append((("intervention", "configs", i, "least_important", "claim"),
                            f"claim file {c.least_important.claim} not found",
                            f"paths are relative to {lc.path.parent}"))
        return out


def metric_problem(lc, metric: str) -> list[tuple[tuple, str, str]]:
    """An intervention whose evidence defines its own metric accepts only that metric kind."""
    if lc.claim.metric.kind == metric:
        return []
    return [(("metric", "kind"), f"intervention '{lc.claim.intervention.kind}' measures '{metric}', "
             f"not '{lc.claim.metric.kind}'", f"use `metric: {{kind: {metric}}}`")]


def least_important(pooled: list[float], layers: list[int], k: int) -> list[int]:
    """The k layers with the smallest pooled effect (ties: the lower index first)."""
    order = sorted(range(len(layers)), key=lambda i: (pooled[i], layers[i]))
    return sorted(layers[i] for i in order[:k])


def _layer_container(model, adapter):
    """(owner module, attribute name) of the decoder's ModuleList of layers."""
    layers = adapter.layers(model)
    for module in model.modules():
        for name, child in module.named_children():
            if child is layers:
                return module, name
    raise RuntimeError("decoder layer list not found in the model")


@contextmanager
def removed_layers(model, adapter, skip: list[int]):
    """Delete the ``skip`` layers from the decoder for the duration of the block.

    The kept layers are renumbered (their ``layer_idx``, used to address the KV cache) and the
    decoder config is told the new depth and per-layer attention types; all restored on exit.
    """
    import torch.nn as nn

    if not skip:
        yield
        return
    owner, attr = _layer_container(model, adapter)
    original = getattr(owner, attr)
    kept = [i for i in range(len(original)) if i not in set(skip)]
    config = owner.config
    saved_config = {k: getattr(config, k) for k in ("num_hidden_layers", "layer_types") if hasattr(config, k)}
    renumbered = []
    for new, old in enumerate(kept):
        for m in original[old].modules():
            if isinstance(getattr(m, "layer_idx", None), int):
                renumbered.append((m, m.layer_idx))
                m.layer_idx = new
    try:
        setattr(owner, attr, nn.ModuleList([original[i] for i in kept]))
        config.num_hidden_layers = len(kept)
        if isinstance(saved_config.get("layer_types"), list):
            config.layer_types = [saved_config["layer_types"][i] for i in kept]
        yield
    finally:
        setattr(owner, attr, original)
        for k, v in saved_config.items():
            setattr(config, k, v)
        for m, idx in renumbered:
            m.layer_idx = idx
