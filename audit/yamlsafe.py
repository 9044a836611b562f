"""Safe YAML loading that keeps node positions.

Only plain data is accepted: no tags that construct objects, no duplicate keys, no
alias bombs. The composed node tree is kept so validation errors can point at a line.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

MAX_FILE_BYTES = 1_000_000
MAX_EXPANDED_NODES = 100_000

from audit.errors import ClaimFileError, problem_at


@dataclass
class YamlDocument:
    """Parsed data plus the node tree it came from."""

    path: Path
    text: str
    data: Any
    root: yaml.Node

    def node_at(self, loc: tuple) -> tuple[yaml.Node, bool]:
        """The node at a data path; (deepest node reached, whether the full path exists)."""
        node = self.root
        for part in loc:
            child = _child(node, part)
            if child is None:
                return node, False
            node = child
        return node, True

    def key_node_at(self, loc: tuple) -> yaml.Node | None:
        """The *key* node of the last element of loc (for unknown-key errors)."""
        parent, ok = self.node_at(loc[:-1])
        if not ok or not isinstance(parent, yaml.MappingNode):
            return None
        for key, _ in parent.value:
            if key.value == loc[-1]:
                return key
        return None


def _child(node: yaml.Node, part) -> yaml.Node | None:
    if isinstance(node, yaml.MappingNode):
        for key, value in node.value:
            if key.value == part or (isinstance(part, int) and key.value == str(part)):
                return value
    elif isinstance(node, yaml.SequenceNode) and isinstance(part, int):
        if 0 <= part < len(node.value):
            return node.value[part]
    return None


def load_yaml(path: str | Path, what: str = "claim file") -> YamlDocument:
    """Load one YAML document safely; raise ClaimFileError with positions on any problem."""
    path = Path(path)
    try:
        raw = path.read_bytes()
    except FileNotFoundError:
        raise ClaimFileError([problem_at(path, None, f"{what} not found")]) from None
    except IsADirectoryError:
        raise ClaimFileError([problem_at(path, None, f"{what} is a directory", hint="pass a .yaml file")]) from None
    if len(raw) > MAX_FILE_BYTES:
        raise ClaimFileError([problem_at(path, None, f"{what} is {len(raw)} bytes; the limit is {MAX_FILE_BYTES}")])
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise ClaimFileError([problem_at(path, None, f"{what} is not UTF-8 text ({exc.reason} at byte {exc.start})")]) from None
    loader = yaml.SafeLoader(text)
    try:
        root = loader.get_single_node()
        if root is None:
            raise ClaimFileError([problem_at(path, None, f"{what} is empty", hint="a claim is a YAML mapping with id, statement, model, ...")])
        _check_tree(path, root)
        data = loader.construct_document(root)
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        msg = " ".join(str(x) for x in (exc.context, exc.problem) if x)
        hint = "only plain YAML data is allowed (no !!python tags)" if "constructor" in msg or "tag" in msg else "check the YAML syntax (indentation, quotes, colons)"
        raise ClaimFileError([problem_at(path, mark, f"YAML error: {msg}", hint=hint)]) from None
    except yaml.YAMLError as exc:
        raise ClaimFileError([problem_at(path, None, f"YAML error: {exc}")]) from None
    finally:
        loader.dispose()
    return YamlDocument(path=path, text=text, data=data, root=root)


def _check_tree(path: Path, root: yaml.Node) -> None:
    """Reject duplicate keys and documents whose aliases expand beyond a sane size."""
    sizes: dict[int, int] = {}
    problems = []

    def visit(node: yaml.Node, depth: int) -> int:
        if id(node) in sizes:  # an alias: already counted, reuse its expanded size
            return sizes[id(node)]
        if depth > 100:
            raise ClaimFileError([problem_at(path, node.start_mark, "YAML nesting deeper than 100 levels")])
        sizes[id(node)] = 1  # guards recursive aliases
        size = 1
        if isinstance(node, yaml.MappingNode):
            seen: dict[str, yaml.Node] = {}
            for key, value in node.value:
                k = key.value if isinstance(key, yaml.ScalarNode) else repr(key.value)
                if k in seen:
                    problems.append(problem_at(path, key.start_mark, f"duplicate key '{k}'",
                                               hint=f"first defined at line {seen[k].start_mark.line + 1}"))
                seen[k] = key
                size += visit(key, depth + 1) + visit(value, depth + 1)
        elif isinstance(node, yaml.SequenceNode):
            for item in node.value:
                size += visit(item, depth + 1)
        if size > MAX_EXPANDED_NODES:
            raise ClaimFileError([problem_at(path, node.start_mark,
                                             f"YAML expands to more than {MAX_EXPANDED_NODES} nodes (alias bomb?)",
                                             hint="claim files do not need anchors and aliases")])
        sizes[id(node)] = size
        return size

    visit(root, 0)
    if problems:
        raise ClaimFileError(problems)
