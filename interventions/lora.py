"""``kind: lora`` — train LoRA adapters (peft) on a suite family under several placements and
compare them; ``kind: lora_sweep`` — a grid over training choices (rank, modules, optimizer,
learning rate, data format); ``kind: lora_adapter_ablation`` — where a trained adapter's effect
sits, layer by layer.

Placements name the adapted modules:
- ``atlas``: the ``top_k`` highest-effect layers of another claim's layer sweep (run or read from
  the evidence cache; recorded as a dependency), with the listed module names;
- ``all_linear``: every linear module of every decoder layer;
- ``modules``: an explicit list (``layers.8.self_attn.o_proj``);
- ``random_matched``: for each module of a ``reference`` placement, a random module of the same
  shape elsewhere (chosen by the seed): the trainable parameter count is equal by construction;
- ``adapter``: a peft LoRA adapter directory the researcher already has: its target modules are the
  placement, its weights the start (trained further, or measured as given with ``train: false``),
  its rank and alpha replace the claim's.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated, ClassVar, Literal, Optional, Union

from pydantic import Field, PositiveFloat, PositiveInt, model_validator

from audit.evidence_models.judged import AdapterAblationRuns, PlacementRuns, PointRuns
from audit.spec import DistinctNames, Names, StrictModel
from interventions.registry import intervention

Format = Literal["plain", "chat", "chat_multiturn_verbose", "bad"]


class Task(StrictModel):
    family: str = Field(description="suite family trained on, e.g. json_schema")
    train_prompts: PositiveInt = Field(24, description="training examples (drawn by the seed)")
    eval_prompts: PositiveInt = Field(12, description="held-out evaluation prompts, disjoint from training")
    drift_families: DistinctNames = Field(default_factory=list, description="unrelated families for KL drift")
    drift_prompts: PositiveInt = Field(8, description="prompts per drift family")
    max_new_tokens: PositiveInt = Field(40, le=256, description="greedy tokens generated per eval prompt")


class Training(StrictModel):
    rank: PositiveInt = Field(8, description="LoRA rank r")
    alpha: PositiveFloat = Field(16.0, description="LoRA alpha (the update is scaled by alpha / rank)")
    learning_rate: PositiveFloat = Field(1e-3, description="optimizer learning rate")
    steps: PositiveInt = Field(60, le=2000, description="optimizer steps")
    batch_size: PositiveInt = Field(8, description="training examples per step")
    optimizer: Literal["adamw", "adafactor"] = Field("adamw", description="the optimizer")
    max_length: PositiveInt = Field(128, description="examples are truncated to this many tokens")
    format: Format = Field("chat", description="how examples are rendered for training")
    qlora: bool = Field(False, description="train on an NF4-quantized base (bitsandbytes)")


class Atlas(StrictModel):
    placement: Literal["atlas"] = Field(description="atlas: the listed modules in the top_k highest-effect layers "
                                                    "of another claim's layer sweep")
    claim: str = Field(description="a layer_ablation claim file, relative to this claim file")
    top_k: PositiveInt = Field(2, description="how many of its highest-effect layers get adapters")
    modules: Names = Field(description="module names within a layer, e.g. [o_proj, down_proj]")


class AllLinear(StrictModel):
    placement: Literal["all_linear"] = Field(description="all_linear: every linear module of every decoder layer")


class Modules(StrictModel):
    placement: Literal["modules"] = Field(description="modules: an explicit list of module paths")
    modules: Names = Field(description="paths below the decoder, e.g. layers.8.self_attn.o_proj")


class RandomMatched(StrictModel):
    placement: Literal["random_matched"] = Field(description="random_matched: random modules of the same shapes as "
                                                             "the reference placement's (chosen by the seed)")
    reference: str = Field(description="name of the placement whose parameter count is matched")


class GivenAdapter(StrictModel):
    placement: Literal["adapter"] = Field(description="adapter: a peft LoRA adapter you already have; its target "
                                                      "modules are the placement and its weights the start")
    path: str = Field(description="the adapter directory (adapter_config.json + adapter_model.safetensors), "
                                  "relative to this claim file")
    train: bool = Field(True, description="true: train it further for training.steps from its weights; false: "
                                          "measure it as given (no training)")


Placement = Annotated[Union[Atlas, AllLinear, Modules, RandomMatched, GivenAdapter], Field(discriminator="placement")]

ADAPTER_WEIGHTS = ("adapter_model.safetensors", "adapter_model.bin")


def adapter_config(directory: Path) -> dict:
    """A given adapter's ``adapter_config.json``, checked: a LoRA adapter whose weights are present
    (ValueError saying what is wrong otherwise)."""
    config_file = directory / "adapter_config.json"
    if not directory.is_dir():
        raise ValueError(f"adapter directory {directory} not found")
    if not config_file.is_file():
        raise ValueError(f"{directory} has no adapter_config.json: not a peft adapter directory "
                         f"(save one with PeftModel.save_pretrained)")
    try:
        config = json.loads(config_file.read_text())
    except (ValueError, UnicodeDecodeError) as e:
        raise ValueError(f"{config_file} is not valid JSON ({e})") from None
    if not isinstance(config, dict) or config.get("peft_type") != "LORA":
        kind = config.get("peft_type") if isinstance(config, dict) else type(config).__name__
        raise ValueError(f"{config_file}: peft_type is {kind!r}; only LoRA adapters (peft_type LORA) can be trained "
                         f"or measured here")
    for key in ("r", "lora_alpha", "target_modules"):
        if config.get(key) in (None, "", []):
            raise ValueError(f"{config_file} has no {key}")
    if not any((directory / w).is_file() for w in ADAPTER_WEIGHTS):
        raise ValueError(f"{directory} has no adapter weights ({' or '.join(ADAPTER_WEIGHTS)})")
    return config


def adapter_digest(directory: Path) -> str:
    """sha256 over a given adapter's config and weight files (its identity in the cache and evidence)."""
    import hashlib

    h = hashlib.sha256()
    for name in ("adapter_config.json", *ADAPTER_WEIGHTS):
        f = directory / name
        if f.is_file():
            h.update(name.encode() + b"\0")
            with f.open("rb") as fh:
                for block in iter(lambda: fh.read(1 << 20), b""):
                    h.update(block)
    return h.hexdigest()


class _TrainsAdapters(StrictModel):
    task: Task = Field(description="the suite family trained on, the held-out evaluation and the drift families")
    training: Training = Field(default_factory=Training, description="training hyperparameters (shared by every run)")
    why: str = ""

    def families_used(self) -> list[str]:
        return [self.task.family, *self.task.drift_families]

    def claim_problems(self, lc) -> list[tuple[tuple, str, str]]:
        from audit.errors import did_you_mean
        from interventions.layer_skip import metric_problem

        out = metric_problem(lc, self.metric_kind)
        known = lc.suite.family_names()
        for loc, fam in [(("intervention", "task", "family"), self.task.family)] + [
                (("intervention", "task", "drift_families", i), f) for i, f in enumerate(self.task.drift_families)]:
            if fam not in known:
                out.append((loc, f"unknown family '{fam}' in suite '{lc.suite.name}'",
                            did_you_mean(fam, known) or f"known: {', '.join(known)}"))
        out += self._task_size_problems(lc)  # the shuffled_answers control checks itself (controls/shuffled_answers.py)
        named = self.named_placements()
        acc = lc.claim.acceptance
        for field in ("names", "labels"):  # runs the acceptance compares must exist
            for name in sorted(getattr(acc, field, lambda: set())() - set(named)):
                out.append((("acceptance",), f"acceptance names '{name}', which this claim does not train",
                            did_you_mean(name, list(named)) or f"trained: {', '.join(named)}"))
        for name, p in self.named_placements().items():
            if isinstance(p, Atlas) and not (lc.path.parent / p.claim).is_file():
                out.append((self.placement_location(name) + ("claim",), f"claim file {p.claim} not found",
                            f"paths are relative to {lc.path.parent}"))
            if isinstance(p, GivenAdapter):
                try:
                    adapter_config(lc.path.parent / p.path)
                except ValueError as e:
                    out.append((self.placement_location(name) + ("path",), str(e),
                                f"paths are relative to {lc.path.parent}"))
        return out

    def module_problems(self, modules: dict[str, str]) -> list[tuple[tuple, str, str]]:
        """Module names of ``modules`` and ``atlas`` placements must name linear modules inside the
        model's decoder layers (known from its config), the only modules a placement adapts."""
        from interventions.components import module_path_problems

        out = []
        for name, p in self.named_placements().items():
            if isinstance(p, (Modules, Atlas)):
                for i, path in enumerate(p.modules):
                    out += module_path_problems(self.placement_location(name) + ("modules", i), path, modules,
                                                suffix=True, linear_in_layer=True)
        return out

    def placement_location(self, name: str) -> tuple:
        """Where a named placement sits in the claim file (for error locations)."""
        return ("intervention", "placements", name)

    def placement_training(self, name: str, training: "Training", claim_dir: Path) -> "Training":
        """The training of one placement: a given adapter (or a random placement matched to one)
        keeps that adapter's rank and alpha, so parameter counts stay comparable."""
        placements = self.named_placements()
        p = placements[name]
        if isinstance(p, RandomMatched):
            p = placements.get(p.reference)
        if not isinstance(p, GivenAdapter):
            return training
        config = adapter_config(claim_dir / p.path)
        return training.model_copy(update={"rank": int(config["r"]), "alpha": float(config["lora_alpha"])})

    def _task_size_problems(self, lc) -> list[tuple[tuple, str, str]]:
        """Training and held-out prompts are disjoint: together they must fit in the task family."""
        task = self.task
        if task.family not in lc.suite.family_names():
            return []
        have, need = len(lc.suite.prompts(task.family)), task.train_prompts + task.eval_prompts
        if need <= have:
            return []
        split = f" in split '{lc.suite.split}'" if lc.suite.split != "all" else ""
        return [(("intervention", "task", "train_prompts"), f"train_prompts + eval_prompts = {need}, but family "
                 f"'{task.family}' has {have} prompts{split}", f"lower them to {have} together")]

    def layer_problems(self, n_layers: int) -> list[tuple[tuple, str, str]]:
        """An atlas placement picks its top_k layers among the model's: more than it has is no choice."""
        return [(("intervention",), f"placement '{name}' takes top_k={p.top_k} of a sweep over {n_layers} layers",
                 f"top_k must be at most {n_layers}") for name, p in self.named_placements().items()
                if isinstance(p, Atlas) and p.top_k > n_layers]

    def named_placements(self) -> dict:
        return {}

    def seed_samples(self, lc, seed: int) -> dict[str, list]:
        """What the seed draws (for the seed checks): its training and held-out prompts, and the
        drift prompts (a side measurement, like a steering claim's collateral prompts)."""
        train, held_out = split_prompts(lc.suite, self.task, seed)
        return {"train": train, "eval": held_out,
                **{f"collateral:drift:{f}": lc.suite.sample(seed, f, self.task.drift_prompts)
                   for f in self.task.drift_families}}


def split_prompts(suite, task: Task, seed: int) -> tuple[list, list]:
    """Disjoint (training, held-out) prompts of the task family (in the suite's split), drawn by the seed."""
    import random

    prompts = list(suite.prompts(task.family))
    need = task.train_prompts + task.eval_prompts
    if need > len(prompts):
        raise ValueError(f"family {task.family} has {len(prompts)} prompts; train_prompts + eval_prompts = {need}")
    random.Random(f"lora:{seed}:{task.family}").shuffle(prompts)
    return prompts[:task.train_prompts], prompts[task.train_prompts:need]


@intervention("lora")
class Lora(_TrainsAdapters):
    """Train one adapter per placement and seed; compare exact match, parameters and drift."""

    kind: Literal["lora"]
    placements: dict[str, Placement] = Field(min_length=1, description="name -> placement: the adapted modules of "
                                                                       "each compared adapter")

    evidence_type: ClassVar[type] = PlacementRuns
    metric_kind: ClassVar[str] = "lora_exact_match"
    accepted_controls: ClassVar[frozenset[str]] = frozenset({"seeds", "shuffled_answers"})

    @model_validator(mode="after")
    def _references(self):
        check_references(self.placements)
        return self

    def named_placements(self) -> dict:
        return self.placements


def check_references(placements: dict, what: str = "placement") -> None:
    """Each random_matched placement matches another, non-random one (ValueError naming it)."""
    for name, p in placements.items():
        if isinstance(p, RandomMatched):
            if p.reference not in placements or p.reference == name:
                raise ValueError(f"{what} '{name}' matches '{p.reference}', which is not another {what} "
                                 f"({what}s: {', '.join(placements)})")
            if isinstance(placements[p.reference], RandomMatched):
                raise ValueError(f"{what} '{name}' must match a non-random {what}")


class SweepPoint(StrictModel):
    """One grid point: a placement and any training fields that differ from the base training."""

    label: str = Field(description="the point's name (distinct), used by the acceptance criterion")
    placement: Placement = Field(default_factory=lambda: AllLinear(placement="all_linear"),
                                 description="the adapted modules (default all_linear)")
    rank: Optional[PositiveInt] = Field(None, description="overrides training.rank")
    learning_rate: Optional[PositiveFloat] = Field(None, description="overrides training.learning_rate")
    optimizer: Optional[Literal["adamw", "adafactor"]] = Field(None, description="overrides training.optimizer")
    format: Optional[Format] = Field(None, description="overrides training.format")

    def training(self, base: Training) -> Training:
        changes = {k: v for k, v in self.model_dump().items() if k in Training.model_fields and v is not None}
        return base.model_copy(update=changes)


@intervention("lora_sweep")
class LoraSweep(_TrainsAdapters):
    """A grid of training runs: final loss, KL drift and trainable parameters per point (loss only:
    the report says loss is not quality).

    Controls: ``shuffled_answers`` trains one point (``point``, default the first) again per seed on
    answers permuted among its training prompts and reports its final loss, KL drift and held-out
    exact match beside the real point's (not judged: does the compared loss measure learning the
    answers, or only the format?). The random-component control is a point whose placement is
    ``random_matched`` to another point's (same module shapes, same rank: as many trainable
    parameters), compared like any point, e.g. ``sweep_best`` with the real placement as best."""

    kind: Literal["lora_sweep"]
    points: list[SweepPoint] = Field(min_length=2, description="the grid points, each trained per seed")

    evidence_type: ClassVar[type] = PointRuns
    metric_kind: ClassVar[str] = "lora_training_loss"
    accepted_controls: ClassVar[frozenset[str]] = frozenset({"seeds", "shuffled_answers"})

    @model_validator(mode="after")
    def _labels(self):
        labels = [p.label for p in self.points]
        if len(set(labels)) != len(labels):
            raise ValueError(f"sweep point labels must be distinct (got {labels})")
        for p in self.points:
            if isinstance(p.placement, GivenAdapter) and p.rank is not None:
                raise ValueError(f"sweep point '{p.label}' sets rank {p.rank} but starts from the adapter "
                                 f"{p.placement.path}, whose rank is its own")
        check_references(self.named_placements(), "sweep point")
        by_label = {p.label: p for p in self.points}
        for p in self.points:
            ref = by_label[p.placement.reference] if isinstance(p.placement, RandomMatched) else p
            if ref.rank != p.rank:
                raise ValueError(f"sweep point '{p.label}' is random_matched to '{ref.label}' at another rank "
                                 f"({p.rank or 'training.rank'} vs {ref.rank or 'training.rank'}): parameter counts "
                                 f"match only at the same rank")
        return self

    def placement_location(self, name: str) -> tuple:
        return ("intervention", "points", [p.label for p in self.points].index(name), "placement")

    def named_placements(self) -> dict:
        return {p.label: p.placement for p in self.points}


@intervention("lora_adapter_ablation")
class LoraAdapterAblation(_TrainsAdapters):
    """Train one adapter, then disable it layer by layer: the effect per layer on the held-out
    answers' NLL, next to the adapter's per-layer weight norm."""

    kind: Literal["lora_adapter_ablation"]
    placement: Placement = Field(default_factory=lambda: AllLinear(placement="all_linear"),
                                 description="the adapted modules of the one trained adapter (default all_linear)")
    permutations: int = Field(2000, ge=199, description="layer permutations of the pooled correlation test "
                                                          "(>= 199, so p can reach 0.005)")

    evidence_type: ClassVar[type] = AdapterAblationRuns
    metric_kind: ClassVar[str] = "lora_adapter_effect"
    controls_note: ClassVar[str] = ("its null is built in: the per-layer effects' correlation is tested against "
                                    "`permutations` of the layer labels; whether the adapter learned the task at "
                                    "all is a `lora` claim's shuffled_answers control")

    def named_placements(self) -> dict:
        return {"adapter": self.placement}

    def placement_location(self, name: str) -> tuple:
        return ("intervention", "placement")


def layer_index(name: str) -> Optional[int]:
    """The decoder layer a module path belongs to (``...layers.8.self_attn.o_proj`` -> 8)."""
    parts = name.split(".")
    for i, p in enumerate(parts[:-1]):
        if p == "layers" and parts[i + 1].isdigit():
            return int(parts[i + 1])
    return None

