"""Turn pydantic validation errors into positioned problems (file:line:col, what, hint)."""

from __future__ import annotations

import re
import typing
from pathlib import Path
from typing import Any

from pydantic import BaseModel, ValidationError

from audit.errors import ClaimFileError, Problem, did_you_mean, problem_at
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
        raise ClaimFileError([problem_from_error(doc, model, err) for err in errors]) from None


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
