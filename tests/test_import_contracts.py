"""Layering as import contracts (run in CI with the tests): model-side code never imports the
ledger, renderer, gate, publication, history or CLI (not even inside a function), the verdict
side never imports torch at module level (tests/audit/test_purity.py checks the same at run time),
and the project's modules import each other without cycles (function-level imports included)."""

import ast
from graphlib import CycleError, TopologicalSorter
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]

MODEL_SIDE = ["interventions", "controls", "audit/evidence", "audit/models.py", "audit/model_objects.py",
              "audit/encoding.py", "audit/metrics.py", "audit/runner.py", "audit/executors.py",
              "audit/ray_executor.py", "audit/worker_cache.py"]
REPORTING = ("audit.ledger", "audit.render", "audit.gate", "audit.cli", "audit.publication", "audit.history",
             "audit.junit", "audit.cards", "audit.plots", "audit.api", "audit.session")
VERDICT_SIDE = ["audit/verdict.py", "audit/confidence.py", "audit/criteria", "audit/schema.py", "audit/spec.py",
                "audit/inference.py", "audit/stats.py", "audit/validation.py", "audit/project.py", "audit/errors.py",
                "audit/yamlsafe.py", "audit/suite.py", "audit/gate.py", "audit/ledger.py", "audit/history.py"]
HEAVY = ("torch", "transformers", "peft", "bitsandbytes", "accelerate")


def files(entries) -> list[Path]:
    """The modules of ``entries``; a kind folder's ``card.py`` (interventions/kinds.py) is reporting
    code, not model side."""
    out = []
    for e in entries:
        p = REPO / e
        out += sorted(p.rglob("*.py")) if p.is_dir() else [p]
    return [f for f in out if not (f.name == "card.py" and f.parent.parent == REPO / "interventions")]


def imported(tree: ast.AST, package: str, top_level_only: bool = False) -> list[tuple[int, str]]:
    """(line, module) of every import (``from audit import ledger`` counts as audit.ledger)."""
    nodes = tree.body if top_level_only else ast.walk(tree)
    out = []
    for node in nodes:
        if isinstance(node, ast.Import):
            out += [(node.lineno, a.name) for a in node.names]
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            out.append((node.lineno, node.module))
            out += [(node.lineno, f"{node.module}.{a.name}") for a in node.names]
        elif isinstance(node, ast.ImportFrom) and node.level:
            base = package.rsplit(".", node.level - 1)[0] if node.level > 1 else package
            out += [(node.lineno, f"{base}.{node.module or a.name}") for a in node.names]
    return out


def module_name(path: Path) -> str:
    rel = path.relative_to(REPO).with_suffix("")
    parts = rel.parts[:-1] if rel.name == "__init__" else rel.parts
    return ".".join(parts)


def violations(entries, forbidden, top_level_only=False) -> list[str]:
    bad = []
    for f in files(entries):
        pkg = module_name(f) if f.name == "__init__.py" else module_name(f).rpartition(".")[0]
        for line, mod in imported(ast.parse(f.read_text(), str(f)), pkg, top_level_only):
            if any(mod == x or mod.startswith(x + ".") for x in forbidden):
                bad.append(f"{f.relative_to(REPO)}:{line}: imports {mod}")
    return bad


def test_model_side_never_imports_ledger_render_gate_or_cli():
    assert violations(MODEL_SIDE, REPORTING) == []


def test_verdict_side_imports_no_torch_at_module_level():
    assert violations(VERDICT_SIDE, HEAVY, top_level_only=True) == []


@pytest.mark.parametrize("code,expected", [
    ("from audit import ledger\n", "audit.ledger"),
    ("def f():\n    from audit.render import render_report\n", "audit.render.render_report"),
    ("import audit.gate as g\n", "audit.gate"),
])
def test_the_contract_sees_every_spelling_of_an_import(tmp_path, code, expected):
    found = [m for _, m in imported(ast.parse(code), "interventions")]
    assert expected in found


PACKAGES = ["audit", "interventions", "controls"]


def import_graph(entries=PACKAGES) -> dict[str, set[str]]:
    """Module -> the project modules it imports, at any level. ``from pkg import sub`` depends on
    ``pkg.sub`` when ``sub`` is a module, on ``pkg`` itself (its ``__init__``) when it is a name
    defined there; ``import pkg.sub`` depends on ``pkg.sub``."""
    paths = {module_name(f): f for f in files(entries)}

    def owner(mod: str) -> str:  # the nearest project module of a dotted name
        while mod and mod not in paths:
            mod = mod.rpartition(".")[0]
        return mod

    graph = {}
    for name, f in paths.items():
        pkg = name if f.name == "__init__.py" else name.rpartition(".")[0]
        found = set()
        for node in ast.walk(ast.parse(f.read_text(), str(f))):
            if isinstance(node, ast.Import):
                found |= {owner(a.name) for a in node.names}
            elif isinstance(node, ast.ImportFrom):
                base = node.module if not node.level else ".".join(
                    [pkg.rsplit(".", node.level - 1)[0]] + ([node.module] if node.module else []))
                found |= {owner(f"{base}.{a.name}") for a in node.names}
        graph[name] = found - {"", name}
    return graph


def test_no_import_cycles():
    try:
        TopologicalSorter(import_graph()).prepare()
    except CycleError as exc:
        raise AssertionError(f"import cycle: {' -> '.join(exc.args[1])}") from None


def test_the_cycle_check_finds_a_planted_cycle():
    graph = {"a": {"b"}, "b": {"c"}, "c": {"a"}}
    try:
        TopologicalSorter(graph).prepare()
    except CycleError as exc:
        assert set(exc.args[1]) == {"a", "b", "c"}
    else:
        raise AssertionError("a planted cycle was not found")
