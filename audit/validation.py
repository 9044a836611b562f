"""Turn pydantic validation errors into positioned problems (file:line:col, what, hint)."""

from __future__ import annotations

import math
import os
import re
import typing
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from pydantic import BaseModel, ValidationError

from audit.errors import MAX_PROBLEMS, ClaimFileError, Problem, did_you_mean, problem_at
from audit.yamlsafe import YamlDocument, load_yaml


def validate(doc: YamlDocument, model: type[BaseModel], what: str):
    """Validate a loaded YAML document against ``model``; raise ClaimFileError with positions."""
    if not isinstance(doc.data, dict):
        raise ClaimFileError([problem_at(doc.path, doc.root.start_mark,
                                         f"a {what} must be a YAML mapping (key: value), got {type(doc.data).__name__}")])
    try:
        return model.model_validate(doc.data)
    except ValidationError as exc:
        errors = one_per_union(doc, exc.errors())
        shown = errors[:MAX_PROBLEMS]  # positioning a problem scans its mapping: build only those shown
        raise ClaimFileError([problem_from_error(doc, model, err) for err in shown],
                             more=len(errors) - len(shown)) from None


def one_per_union(doc: YamlDocument, errors: list[dict]) -> list[dict]:
    """Pydantic reports every member of a failed union (``'all' | [layers]``): keep the errors of the
    members whose type the input has (a list for the list), or, when it has none of them, one error
    naming every type expected."""
    groups: dict = {}
    for err in errors:
        loc = tuple(err["loc"])
        labels = [i for i, p in enumerate(loc) if _is_member_label(p)]
        key = _data_loc(doc, loc[:labels[0]]) if labels else id(err)  # where the union is
        groups.setdefault(key, []).append(err)
    out = []
    for group in groups.values():
        fitting = [e for e in group if not _type_mismatch(e)]
        if len(group) == 1 or fitting:
            out += group if len(group) == 1 else fitting
        else:
            wanted = " or ".join(dict.fromkeys(e["msg"].removeprefix("Input should be ") for e in group))
            out.append({**group[0], "msg": f"Input should be {wanted}"})
    return out


def _type_mismatch(err: dict) -> bool:
    """The union member failed on the type of the whole value (not on its contents or bounds)."""
    return _is_member_label(err["loc"][-1]) and (err["type"] == "literal_error" or err["type"].endswith("_type"))


def duplicate_ids(paths: list[Path]) -> dict[Path, Problem]:
    """Claim files among ``paths`` that share their ``id`` with another: the ledger, the cache and
    the report key on ids, so claims checked or run together need distinct ones. One problem per
    such file (keyed by the path as given), positioned at its id and naming the others. Files that
    do not load are left to the claim's own validation."""
    if len(paths) < 2:  # nothing to clash with: spare the file a second parse
        return {}
    found: dict[str, list[tuple[Path, Any]]] = {}  # id -> [(path, mark of the id's value)]
    seen: set[Path] = set()
    for path in paths:
        try:
            real = Path(path).resolve()
        except (OSError, RuntimeError):  # a symlink loop: the claim's own validation reports it
            continue
        if real in seen:
            continue
        seen.add(real)
        claim_id, mark = _claim_id(path)
        if claim_id is not None:
            found.setdefault(claim_id, []).append((path, mark))
    out: dict[Path, Problem] = {}
    for claim_id, places in found.items():
        for path, mark in places if len(places) > 1 else []:
            others = ", ".join(f"{q}:{m.line + 1}" for q, m in places if q != path)
            out[path] = problem_at(path, mark, f"claim id '{claim_id}' is also the id of {others}", where="id",
                                   hint="claims checked or run together need distinct ids: rename one")
    return out


def _claim_id(path: Path) -> tuple[str | None, Any]:
    """The ``id`` of a claim file and the YAML mark of its value; (None, None) when it has none."""
    try:
        doc = load_yaml(path)
    except (ClaimFileError, OSError):
        return None, None
    claim_id = doc.data.get("id") if isinstance(doc.data, dict) else None
    return (claim_id, doc.node_at(("id",))[0].start_mark) if isinstance(claim_id, str) else (None, None)


def problem_from_error(doc: YamlDocument, model: type[BaseModel], err: dict) -> Problem:
    loc = _data_loc(doc, tuple(err["loc"]))
    where = ".".join(str(p) for p in loc)
    kind = err["type"]
    if kind == "extra_forbidden":
        allowed = sorted(_fields_at(model, loc[:-1], _data_at(doc.data, loc[:-1])))
        node = doc.key_node_at(loc)
        hint = did_you_mean(loc[-1], allowed) or f"allowed keys: {', '.join(allowed)}"
        return problem_at(doc.path, node.start_mark if node else None, f"unknown key '{loc[-1]}'",
                          where=".".join(str(p) for p in loc[:-1]) or "(top level)", hint=hint)
    node, exact = doc.node_at(loc)
    if kind == "missing":
        return problem_at(doc.path, node.start_mark, f"missing required key '{loc[-1]}'",
                          where=".".join(str(p) for p in loc[:-1]) or "(top level)")
    message = err["msg"].removeprefix("Value error, ")
    if "input" in err and not isinstance(err["input"], (dict, list)):
        message += f", got {err['input']!r}"
    hint = ""
    ctx = err.get("ctx") or {}
    expected = ctx.get("expected") or ctx.get("expected_tags")
    if expected:
        given = ctx.get("tag", err.get("input"))
        hint = did_you_mean(given.get("kind") if isinstance(given, dict) else given,
                            re.findall(r"'([^']+)'", str(expected)))
    return problem_at(doc.path, node.start_mark if exact or node is not doc.root else None, message, where=where, hint=hint)


def _data_loc(doc: YamlDocument, loc: tuple) -> tuple:
    """Drop the parts pydantic adds that are not in the data (discriminator tags, union members)."""
    out: list = []
    data: Any = doc.data
    for part in loc:
        if isinstance(data, dict) and part in data:
            out.append(part)
            data = data[part]
        elif isinstance(data, list) and isinstance(part, int) and 0 <= part < len(data):
            out.append(part)
            data = data[part]
        elif _is_member_label(part) or (isinstance(data, dict) and (part in _tags(data) or not isinstance(part, str))):
            continue  # discriminator tag or union-member label
        else:
            out.append(part)
            data = None
    return tuple(out)


TAG_KEYS = ("kind", "placement", "source")  # the keys the discriminated unions of the specs are tagged by


def _tags(data: dict) -> set:
    """The tag values of a mapping (``kind: hub``, ``placement: atlas``): pydantic puts the tag of
    the union member it validated in the error location."""
    return {data[k] for k in TAG_KEYS if isinstance(data.get(k), str)}


MEMBER_LABELS = ("literal[", "list[", "tuple[", "dict[", "function-", "constrained-", "nullable[", "lax-or-strict[")


def _is_member_label(part) -> bool:
    """How pydantic names the member of a plain union in an error location (``literal['all']``,
    ``constrained-int``, ``function-after[distinct(), list[str]]``)."""
    return isinstance(part, str) and (part in {"str", "int", "float", "bool"} or part.startswith(MEMBER_LABELS))


def _data_at(data: Any, loc: tuple) -> Any:
    for part in loc:
        try:
            data = data[part]
        except (KeyError, IndexError, TypeError):
            return None
    return data


def _fields_at(model: type[BaseModel], loc: tuple, data: Any = None) -> set[str]:
    """Field names of the model found at a data path inside ``model`` (for a union keyed by
    ``kind``, the member the data's ``kind`` selects)."""
    current: Any = model
    for part in loc:
        current = _descend(current, part)
        if current is None:
            return set()
    members = _models_in(current)
    chosen = [m for m in members if isinstance(data, dict) and _tagged(m, data)]
    return {name for m in (chosen or members) for name in m.model_fields}


def _tagged(model: type[BaseModel], data: dict) -> bool:
    """The data carries the model's tag (its ``kind``, ``placement`` or ``source`` literal)."""
    return any(k in model.model_fields and data.get(k) in typing.get_args(model.model_fields[k].annotation)
               for k in TAG_KEYS)


def _descend(tp: Any, part):
    for candidate in _models_in(tp):
        if isinstance(part, str) and part in candidate.model_fields:
            return candidate.model_fields[part].annotation
    if isinstance(part, int):
        for arg in typing.get_args(tp):
            if typing.get_origin(arg) in (list, tuple) or arg in (list, tuple):
                return typing.get_args(arg)[0] if typing.get_args(arg) else None
        if typing.get_origin(tp) in (list, tuple):
            return typing.get_args(tp)[0]
    if typing.get_origin(tp) is dict:
        return typing.get_args(tp)[1]
    return None


def _models_in(tp: Any) -> list[type[BaseModel]]:
    if _is_model(tp):
        return [tp]
    return [m for arg in typing.get_args(tp) for m in _models_in(arg)]


def _is_model(tp: Any) -> bool:
    return isinstance(tp, type) and issubclass(tp, BaseModel)


# --------------------------------------------------------------------------- the work a claim implies
# A claim is refused when its spec implies more forward passes than MAX_WORK (a typo such as 10,000
# alphas or 4096 null draws x 64 seeds would otherwise run for days). The estimate counts forward
# passes of one prompt (a generated token counts one), per intervention kind, as a sum of products
# of the spec's counts; `layers: all` / `heads: all` count as ASSUMED_LAYERS / ASSUMED_HEADS before
# the model is known (conservative). Override: MI_AUDIT_MAX_WORK=<number> or MI_AUDIT_MAX_WORK=none.

WORK_ENV = "MI_AUDIT_MAX_WORK"
MAX_WORK = 5_000_000  # forward passes; the largest shipped claim implies about 8e5
ASSUMED_LAYERS, ASSUMED_HEADS = 64, 32


@dataclass(frozen=True)
class Factor:
    """One count of a work estimate and the claim field it comes from (() when derived)."""

    label: str
    value: int
    loc: tuple = ()


def work_limit() -> float | None:
    """The limit in force: MAX_WORK, or MI_AUDIT_MAX_WORK (a positive number; ``none``: no limit).
    ValueError on anything else."""
    raw = os.environ.get(WORK_ENV, "").strip()
    if not raw:
        return MAX_WORK
    if raw.lower() == "none":
        return None
    try:
        value = float(raw.replace("_", ""))
    except ValueError:
        value = float("nan")
    if not math.isfinite(value) or value <= 0:
        raise ValueError(f"{WORK_ENV}={raw!r}: expected a positive number of forward passes or 'none'")
    return value


def work_terms(lc) -> list[tuple[Factor, ...]]:
    """The estimate of ``lc``'s work as terms (each a product of factors) for its intervention kind."""
    iv = lc.claim.intervention
    # a kind may declare the kind whose work it has (``work_like``: a folder kind reusing a builder)
    formula = WORK_FORMULAS.get(iv.kind) or WORK_FORMULAS.get(getattr(iv, "work_like", ""), _default_work)
    return formula(lc, iv)


def work_total(terms: list[tuple[Factor, ...]]) -> int:
    return sum(math.prod(f.value for f in term) for term in terms)


def work_problems(lc) -> list[tuple[tuple, str, str]]:
    """``(loc, message, hint)`` when the claim's estimated work is above the limit, positioned at the
    field with the largest count in the largest term."""
    try:
        limit = work_limit()
    except ValueError as exc:
        return [((), str(exc), f"unset {WORK_ENV} for the default limit of {MAX_WORK:.0e}")]
    terms = work_terms(lc)
    total = work_total(terms)
    if limit is None or total <= limit:
        return []
    biggest = max(terms, key=lambda t: math.prod(f.value for f in t))
    top = max((f for f in biggest if f.loc), key=lambda f: f.value, default=biggest[0])
    shown = " x ".join(f"{f.label} {f.value}" for f in biggest)
    more = f" (+{len(terms) - 1} smaller term(s))" if len(terms) > 1 else ""
    return [(top.loc, f"this claim implies about {total:.2e} forward passes ({shown}{more}), above the limit of "
             f"{limit:.0e}", f"lower {'.'.join(map(str, top.loc)) or top.label}, or raise the limit: "
             f"{WORK_ENV}=<number> (or {WORK_ENV}=none)")]


def _seeds(lc) -> Factor:
    return Factor("seeds", len(lc.claim.controls.seeds), ("controls", "seeds"))


def _prompts(lc, pairs: bool = False) -> Factor:
    """Prompts (or pairs) one seed draws: prompts_per_family of each known family, at most its size."""
    k, known = lc.claim.suite.prompts_per_family, set(lc.suite.family_names())
    size = lc.suite.pairs if pairs else lc.suite.prompts
    n = sum(min(k, len(size(f))) for f in lc.families() if f in known)
    return Factor("pairs per seed" if pairs else "prompts per seed", max(n, 1), ("suite", "prompts_per_family"))


def _count(iv, field: str, assumed: int) -> Factor:
    listed = getattr(iv, field, "all")
    return Factor(field, assumed if listed == "all" else len(listed), ("intervention", field))


def _default_work(lc, iv) -> list[tuple[Factor, ...]]:
    return [(_seeds(lc), _prompts(lc))]


def _layer_sweep_work(lc, iv) -> list[tuple[Factor, ...]]:
    layers = _count(iv, "layers", ASSUMED_LAYERS)
    out = [(_seeds(lc), _prompts(lc), Factor("layers + base", layers.value + 1, layers.loc))]
    null = getattr(lc.claim.controls, "random_vector", None)
    if null is not None:  # the claimed layer again per seed, prompt and random direction
        out.append((_seeds(lc), _prompts(lc), Factor("random directions", null.n, ("controls", "random_vector", "n"))))
    return out


def _component_work(lc, iv) -> list[tuple[Factor, ...]]:
    """Ablation and patching: one pass per prompt and component (layer x head x position), plus the
    base passes (clean and corrupt for patching)."""
    patching = iv.kind == "patching"
    seeds, prompts = _seeds(lc), _prompts(lc, pairs=patching)
    module = getattr(iv, "target", "") == "module"
    parts = [Factor("layers", 1)] if module else [_count(iv, "layers", ASSUMED_LAYERS)]
    if getattr(iv, "target", "") == "head":
        parts.append(_count(iv, "heads", ASSUMED_HEADS))
    parts.append(Factor("positions", len(iv.positions), ("intervention", "positions")))
    agreement = getattr(lc.claim.controls, "method_agreement", None)
    if agreement is not None:  # the sweep again under every other method
        parts.append(Factor("ablation methods", 1 + len(agreement.methods), ("controls", "method_agreement", "methods")))
    out = [(seeds, prompts, *parts), (seeds, prompts, Factor("base passes", 2 if patching else 1))]
    null = getattr(lc.claim.controls, "random_component", None)
    if null is not None:  # one pass per prompt and drawn component
        out.append((seeds, prompts, Factor("random components", null.n, ("controls", "random_component", "n"))))
    return out


def _steering_work(lc, iv) -> list[tuple[Factor, ...]]:
    """Every (layer, alpha) cell steers the eval and collateral prompts with the real direction and
    every null draw (counted at every cell: conservative); generation metrics cost a pass per token."""
    controls = lc.claim.controls
    nulls = [(getattr(controls, c).n, ("controls", c, "n")) for c in ("random_vector", "shuffled_label")
             if getattr(controls, c, None) is not None]
    draws = Factor("directions (1 + null draws)", 1 + sum(n for n, _ in nulls), max(nulls, key=lambda x: x[0])[1] if nulls else ())
    prompts = _prompts(lc)
    rows = Factor("prompts per seed (eval + collateral)",
                  prompts.value + len(iv.collateral.families) * iv.collateral.prompts_per_family, prompts.loc)
    per_row = (Factor("generated tokens", iv.behavior.max_new_tokens, ("intervention", "behavior", "max_new_tokens"))
               if lc.claim.metric.kind != "behavior_logprob" else
               Factor("phrases", max(1, len(iv.behavior.phrases)), ("intervention", "behavior", "phrases")))
    alphas = Factor("alphas", len(iv.alphas), ("intervention", "alphas"))
    return [(_seeds(lc), rows, _count(iv, "layers", ASSUMED_LAYERS), alphas, draws, per_row)]


def _adapter_work(lc, iv) -> list[tuple[Factor, ...]]:
    """LoRA: per seed and adapter, the training steps' batches, the held-out generations and the
    drift prompts (base and adapted); adapter ablation adds the held-out prompts per layer."""
    task, training = iv.task, iv.training
    shuffled = int(getattr(lc.claim.controls, "shuffled_answers", None) is not None)  # one more adapter per seed
    adapters = (Factor("placements" + (" + shuffled answers" if shuffled else ""), len(iv.placements) + shuffled,
                       ("intervention", "placements")) if iv.kind == "lora" else
                Factor("points", len(iv.points), ("intervention", "points")) if iv.kind == "lora_sweep" else
                Factor("adapters", 1))
    seeds = _seeds(lc)
    evals = Factor("eval prompts", task.eval_prompts, ("intervention", "task", "eval_prompts"))
    terms = [(seeds, adapters, Factor("steps", training.steps, ("intervention", "training", "steps")),
              Factor("batch size", training.batch_size, ("intervention", "training", "batch_size"))),
             (seeds, adapters, evals,
              Factor("generated tokens", task.max_new_tokens, ("intervention", "task", "max_new_tokens"))),
             (seeds, adapters, Factor("drift prompts (base + adapted)",
                                      2 * len(task.drift_families) * task.drift_prompts,
                                      ("intervention", "task", "drift_prompts")))]
    if iv.kind == "lora_adapter_ablation":
        terms.append((seeds, Factor("layers", ASSUMED_LAYERS), evals))
    return terms


def _generation_work(lc, iv) -> list[tuple[Factor, ...]]:
    """Layer skip and quantization: per variant, greedy generation on every seed's prompts and the
    timed rounds (warm-ups and repeats)."""
    if iv.kind == "layer_skip":
        variants = Factor("configs + base", len(iv.configs) + 1, ("intervention", "configs"))
        tokens = Factor("generated tokens", iv.max_new_tokens, ("intervention", "max_new_tokens"))
        timed = (Factor("speed prompts", iv.speed_prompts, ("intervention", "speed_prompts")),
                 Factor("timed rounds", iv.speed_repeats + iv.speed_warmup, ("intervention", "speed_repeats")), tokens)
    else:
        variants = Factor("modes", len(iv.modes), ("intervention", "modes"))
        tokens = Factor("generated tokens", iv.max_new_tokens, ("intervention", "max_new_tokens"))
        speed = iv.speed
        timed = (Factor("speed prompts", speed.prompts, ("intervention", "speed", "prompts")),
                 Factor("timed rounds", speed.repeats + speed.warmup, ("intervention", "speed", "repeats")),
                 Factor("timed tokens", speed.new_tokens, ("intervention", "speed", "new_tokens")))
    return [(variants, _seeds(lc), _prompts(lc), tokens), (variants, *timed)]


def _drift_work(lc, iv) -> list[tuple[Factor, ...]]:
    """Quantization drift: the layer sweep re-run under every mode and the reference."""
    modes = Factor("modes + reference", len(iv.modes) + 1, ("intervention", "modes"))
    return [(modes, *_layer_sweep_work(lc, iv)[0])]


WORK_FORMULAS = {
    "layer_ablation": _layer_sweep_work, "ablation": _component_work, "patching": _component_work,
    "steering": _steering_work, "lora": _adapter_work, "lora_sweep": _adapter_work,
    "lora_adapter_ablation": _adapter_work, "layer_skip": _generation_work, "quantization": _generation_work,
    "quantization_drift": _drift_work, "comparison": lambda lc, iv: [],
}
