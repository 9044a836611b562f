"""Safe YAML loading that keeps node positions.

Only plain data is accepted: no tags that construct objects, no duplicate keys, no
alias bombs. The composed node tree is kept so validation errors can point at a line.
"""

from __future__ import annotations

import errno
import os
import stat
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

from audit.errors import ClaimFileError, Problem, problem_at

MAX_FILE_BYTES = 1_000_000
MAX_EXPANDED_NODES = 100_000
MAX_DEPTH = 100


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
    text = decode_text(path, read_bounded(path, what), what)
    try:
        loader = yaml.SafeLoader(text)  # the reader checks every character here
    except yaml.reader.ReaderError as exc:
        raise ClaimFileError([_reader_problem(path, text, exc)]) from None
    try:
        root = loader.get_single_node()
        if root is None:
            raise ClaimFileError([problem_at(path, None, f"{what} is empty", hint="a claim is a YAML mapping with id, statement, model, ...")])
        _check_tree(path, root)
        data = loader.construct_document(root)
    except RecursionError:
        raise ClaimFileError([Problem(str(path), _deep_line(text), None, f"YAML nesting deeper than {MAX_DEPTH} levels",
                                      hint="claim files nest a few levels at most")]) from None
    except yaml.reader.ReaderError as exc:
        raise ClaimFileError([_reader_problem(path, text, exc)]) from None
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        msg = " ".join(str(x) for x in (exc.context, exc.problem) if x)
        hint = "only plain YAML data is allowed (no !!python tags)" if "constructor" in msg or "tag" in msg else "check the YAML syntax (indentation, quotes, colons)"
        raise ClaimFileError([problem_at(path, mark, f"YAML error: {msg}", hint=hint)]) from None
    except yaml.YAMLError as exc:
        raise ClaimFileError([problem_at(path, None, f"YAML error: {str(exc).splitlines()[0]}")]) from None
    finally:
        loader.dispose()
    return YamlDocument(path=path, text=text, data=data, root=root)


def read_bounded(path: Path, what: str = "claim file", limit: int = MAX_FILE_BYTES) -> bytes:
    """The bytes of a regular file of at most ``limit`` bytes; ClaimFileError for anything else
    (missing, a directory, a device or pipe, a symlink loop, unreadable, too large): the size is
    checked before reading, and never more than ``limit + 1`` bytes are read."""
    def refuse(message: str, hint: str = "") -> ClaimFileError:
        return ClaimFileError([problem_at(path, None, message, hint=hint)])

    try:
        fd = os.open(path, os.O_RDONLY | getattr(os, "O_NONBLOCK", 0))  # a FIFO must not block the open
    except FileNotFoundError:
        raise refuse(f"{what} not found") from None
    except OSError as exc:
        if exc.errno == errno.ELOOP:
            raise refuse(f"{what} is a symlink loop", hint="point the link at a .yaml file") from None
        raise refuse(f"{what} cannot be read: {exc.strerror or exc}") from None
    with os.fdopen(fd, "rb") as f:
        st = os.fstat(f.fileno())
        if stat.S_ISDIR(st.st_mode):
            raise refuse(f"{what} is a directory", hint="pass a .yaml file")
        if not stat.S_ISREG(st.st_mode):
            raise refuse(f"{what} is not a regular file (a device, pipe or socket)", hint="pass a .yaml file")
        if st.st_size > limit:
            raise refuse(f"{what} is {st.st_size} bytes; the limit is {limit}")
        try:
            raw = f.read(limit + 1)
        except OSError as exc:
            raise refuse(f"{what} cannot be read: {exc.strerror or exc}") from None
    if len(raw) > limit:  # it grew after the check
        raise refuse(f"{what} is more than {limit} bytes; the limit is {limit}")
    return raw


def decode_text(path: Path, raw: bytes, what: str) -> str:
    try:
        return raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        line = raw[:exc.start].count(b"\n") + 1
        message = f"{what} is not UTF-8 text ({exc.reason} at byte {exc.start})"
        raise ClaimFileError([Problem(str(path), line, None, message, hint="save the file as UTF-8")]) from None


def _reader_problem(path: Path, text: str, exc) -> Problem:
    """A character YAML does not allow (NUL, most control characters), positioned."""
    before = text[:exc.position]
    line, column = before.count("\n") + 1, exc.position - (before.rfind("\n") + 1) + 1
    return Problem(str(path), line, column, f"character #x{exc.character:04x} is not allowed in YAML text "
                   "(a NUL or control character)", hint="remove it; claim files are plain UTF-8 text")


def _deep_line(text: str) -> int | None:
    """The line where flow brackets first nest deeper than MAX_DEPTH (a locator for the error)."""
    depth = 0
    for n, line in enumerate(text.splitlines(), start=1):
        for ch in line:
            depth += (ch in "[{") - (ch in "]}")
            if depth > MAX_DEPTH:
                return n
    return None


def _check_tree(path: Path, root: yaml.Node) -> None:
    """Reject duplicate keys and documents whose aliases expand beyond a sane size."""
    sizes: dict[int, int] = {}
    problems = []

    def visit(node: yaml.Node, depth: int) -> int:
        if id(node) in sizes:  # an alias: already counted, reuse its expanded size
            return sizes[id(node)]
        if depth > MAX_DEPTH:
            raise ClaimFileError([problem_at(path, node.start_mark, f"YAML nesting deeper than {MAX_DEPTH} levels")])
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
