"""Safe YAML: positions kept, duplicate keys, code tags and alias bombs rejected."""

import time

import pytest

from audit.errors import ClaimFileError
from audit.yamlsafe import load_yaml


def load(tmp_path, text):
    p = tmp_path / "c.yaml"
    p.write_text(text)
    return load_yaml(p)


def problems(tmp_path, text):
    with pytest.raises(ClaimFileError) as exc:
        load(tmp_path, text)
    return exc.value.problems


def test_positions_of_nested_nodes(tmp_path):
    doc = load(tmp_path, "a: 1\nb:\n  c: [1, 2]\n")
    node, ok = doc.node_at(("b", "c", 1))
    assert ok and node.start_mark.line == 2


def test_duplicate_key_names_both_lines(tmp_path):
    (p,) = problems(tmp_path, "id: x\nmodel: a\nid: y\n")
    assert p.line == 3 and "duplicate key 'id'" in p.message and "line 1" in p.hint


def test_python_tags_are_refused(tmp_path):
    (p,) = problems(tmp_path, "a: !!python/object/apply:os.system ['echo hi']\n")
    assert p.line == 1 and "tag" in p.message


def test_alias_bomb_rejected_quickly(tmp_path):
    lines = ["a0: &a0 [x, x, x, x, x, x, x, x, x]"]
    for i in range(1, 10):
        prev = f"*a{i - 1}"
        lines.append(f"a{i}: &a{i} [{', '.join([prev] * 9)}]")
    t = time.perf_counter()
    (p,) = problems(tmp_path, "\n".join(lines) + "\n")
    assert "alias bomb" in p.message
    assert time.perf_counter() - t < 2


def test_syntax_error_has_line(tmp_path):
    (p,) = problems(tmp_path, "a: 1\nb: [1, 2\nc: 3\n")
    assert p.line is not None and "YAML error" in p.message


def test_empty_file(tmp_path):
    (p,) = problems(tmp_path, "")
    assert "empty" in p.message


def test_missing_file(tmp_path):
    with pytest.raises(ClaimFileError) as exc:
        load_yaml(tmp_path / "nope.yaml")
    assert "not found" in str(exc.value)
