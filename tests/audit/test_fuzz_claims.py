"""Fuzz `audit check` with mutations of the shipped claims: every mutant is accepted (exit 0) or
refused with exit 4 naming the file; never a traceback."""

import re
import shutil
from pathlib import Path

import pytest
import yaml
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from typer.testing import CliRunner

from audit.cli import app
from audit.verdict import EXIT_INVALID, EXIT_OK

ROOT = Path(__file__).resolve().parents[2]
SHIPPED = sorted((ROOT / "claims").glob("*.yaml"))
CLAIMS = {p.name: yaml.safe_load(p.read_text()) for p in SHIPPED}

scalars = st.one_of(st.none(), st.booleans(), st.integers(-10**12, 10**12),
                    st.floats(allow_nan=True, allow_infinity=True), st.text(max_size=20))
values = st.one_of(scalars, st.lists(scalars, max_size=4), st.dictionaries(st.text(max_size=8), scalars, max_size=3))
nasty = st.text(st.characters(codec="utf-8", exclude_categories=("Cs",)), min_size=1, max_size=6) | \
    st.sampled_from(["\x00", "\x1b[31m", "[/red]", "\u202e", "\t", "\r", "\ufeff", "{{", "*a", "&b", "!!python/object"])


def _paths(node, prefix=()):
    """Every (path, value) below a loaded YAML document."""
    yield prefix, node
    items = node.items() if isinstance(node, dict) else enumerate(node) if isinstance(node, list) else ()
    for key, child in items:
        yield from _paths(child, prefix + (key,))


@st.composite
def mutants(draw) -> tuple[str, str]:
    """(claim name, mutated YAML text)."""
    name = draw(st.sampled_from(sorted(CLAIMS)))
    data = yaml.safe_load(yaml.safe_dump(CLAIMS[name]))
    places = [(p, v) for p, v in _paths(data) if p]
    path, value = draw(st.sampled_from(places))
    *parent_path, key = path
    parent = data
    for part in parent_path:
        parent = parent[part]
    op = draw(st.sampled_from(["delete", "duplicate", "replace", "unicode"]))
    text = None
    if op == "delete":
        del parent[key]
    elif op == "replace":
        parent[key] = draw(values)
    elif op == "unicode" and isinstance(value, str):
        at = draw(st.integers(0, len(value)))
        parent[key] = value[:at] + draw(nasty) + value[at:]
    text = yaml.safe_dump(data, sort_keys=False, allow_unicode=True)
    if op == "duplicate":  # repeat one key's line (block style: the copy is a sibling key)
        lines = text.splitlines(keepends=True)
        keyed = [i for i, line in enumerate(lines) if re.match(r"^\s*(- )?[A-Za-z_][\w.-]*:", line)]
        i = draw(st.sampled_from(keyed))
        lines.insert(i + 1, lines[i].replace("- ", "  ", 1) if lines[i].lstrip().startswith("- ") else lines[i])
        text = "".join(lines)
    return name, text


@pytest.fixture(scope="module")
def claim_dir(tmp_path_factory):
    directory = tmp_path_factory.mktemp("fuzz")
    shutil.copytree(ROOT / "claims" / "suites", directory / "suites")
    for path in SHIPPED:  # claims that name other claims (comparisons, atlas placements) find them
        shutil.copy(path, directory / path.name)
    for extra in (ROOT / "claims").iterdir():
        if extra.is_file() and extra.suffix != ".yaml":
            shutil.copy(extra, directory / extra.name)
    return directory


@settings(max_examples=100, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture,
                                                                   HealthCheck.too_slow])
@given(mutant=mutants())
def test_mutated_claims_exit_0_or_4_naming_the_file(claim_dir, mutant):
    name, text = mutant
    path = claim_dir / f"zz_mutant_{name}"  # next to the claims it may name (comparisons, atlas, selected_by)
    path.write_text(text, encoding="utf-8")
    result = CliRunner().invoke(app, ["check", str(path)])
    assert result.exception is None or isinstance(result.exception, SystemExit), repr(result.exception)
    assert "Traceback" not in result.output
    assert result.exit_code in (EXIT_OK, EXIT_INVALID), (result.exit_code, result.output)
    if result.exit_code == EXIT_INVALID:
        assert str(path) in result.output, result.output


def test_a_planted_bad_mutant_is_refused(claim_dir):
    """The property can fail: a deleted required key is exit 4 with the file named."""
    path = claim_dir / "planted.yaml"
    data = dict(CLAIMS["smollm2_hub.yaml"])
    del data["statement"]
    path.write_text(yaml.safe_dump(data))
    result = CliRunner().invoke(app, ["check", str(path)])
    assert result.exit_code == EXIT_INVALID and str(path) in result.output and "statement" in result.output
