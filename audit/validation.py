"""Turn pydantic validation errors into positioned problems (file:line:col, what, hint)."""

from __future__ import annotations

import re
import typing
from typing import Any

from pydantic import BaseModel, ValidationError

from audit.errors import Problem, did_you_mean, problem_at
from audit.yamlsafe import YamlDocument


def validate(doc: YamlDocument, model: type[BaseModel], what: str):
    """Validate a loaded YAML document against ``model``; raise ClaimFileError with positions."""
    from audit.errors import ClaimFileError

    if not isinstance(doc.data, dict):
        raise ClaimFileError([problem_at(doc.path, doc.root.start_mark,
                                         f"a {what} must be a YAML mapping (key: value), got {type(doc.data).__name__}")])
    try:
        return model.model_validate(doc.data)
    except ValidationError as exc:
        raise ClaimFileError([problem_from_error(doc, model, err) for err in exc.errors()]) from None


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
    message = err["msg"]
    if "input" in err and not isinstance(err["input"], (dict, list)):
        message += f", got {err['input']!r}"
    hint = ""
    expected = (err.get("ctx") or {}).get("expected") or (err.get("ctx") or {}).get("expected_tags")
    if expected:
        hint = did_you_mean(err.get("input") if not isinstance(err.get("input"), dict) else
                            err["input"].get("kind"), re.findall(r"'([^']+)'", str(expected)))
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
        elif isinstance(data, dict) and (data.get("kind") == part or not isinstance(part, str) or _is_type_tag(part)):
            continue  # discriminator tag or union-member label
        else:
            out.append(part)
            data = None
    return tuple(out)


def _is_type_tag(part: str) -> bool:
    return part in {"str", "int", "float", "bool", "list[int]", "list[str]"} or part.startswith(("literal[", "list["))


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
    kind = data.get("kind") if isinstance(data, dict) else None
    chosen = [m for m in members if kind is not None and kind in typing.get_args(
        m.model_fields["kind"].annotation if "kind" in m.model_fields else None)]
    return {name for m in (chosen or members) for name in m.model_fields}


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
