"""Validation gaps (issue 20, item 9): copies of the shipped claims with one field mutated must be
rejected by ``audit check`` (exit 4) with a ``file:line:col: where: message`` problem — bools and
non-finite floats for numbers, empty and repeated lists, counts above what they count, duplicate
claim ids."""

import re
import shutil
from pathlib import Path

import pytest
import yaml
from typer.testing import CliRunner

from audit.cli import app
from audit.errors import ClaimFileError
from audit.schema import load_claim
from audit.validation import duplicate_ids
from audit.verdict import EXIT_INVALID, EXIT_OK
from tests.conftest import REPO

SHIPPED = REPO / "claims"


@pytest.fixture
def claims(tmp_path) -> Path:
    """A private copy of claims/ (suites and the claims others name included)."""
    return Path(shutil.copytree(SHIPPED, tmp_path / "claims"))


def mutate(path: Path, old: str, new: str) -> int:
    """Replace ``old`` by ``new`` on the one line of ``path`` containing it; that line (1-based)."""
    lines = path.read_text().splitlines(keepends=True)
    hits = [i for i, line in enumerate(lines) if old in line]
    assert len(hits) == 1, f"{old!r} is on {len(hits)} lines of {path.name}"
    lines[hits[0]] = lines[hits[0]].replace(old, new)
    path.write_text("".join(lines))
    return hits[0] + 1


def check(*paths: Path):
    return CliRunner().invoke(app, ["check", *map(str, paths)])


def invalid_lines(output: str) -> list[str]:
    return [line.removeprefix("invalid ") for line in output.splitlines() if line.startswith("invalid ")]


# (shipped claim, text on one line, replacement, where, part of the message, problem on that line)
CASES = [
    ("smollm2_hub.yaml", "  layer: 8", "  layer: true", "acceptance.layer", "valid integer, got True", True),
    ("smollm2_hub.yaml", "prompts_per_family: 8", "prompts_per_family: 8.0", "suite.prompts_per_family",
     "valid integer", True),
    ("smollm2_hub.yaml", "min_seed_agreement: all", "min_seed_agreement: true", "acceptance.min_seed_agreement",
     "'all' or a valid integer, got True", True),
    ("smollm2_hub.yaml", "seeds: [42, 137, 2026]", "seeds: [42, true, 2026]", "controls.seeds.1", "valid integer",
     True),
    ("smollm2_hub.yaml", "families: all", "families: []", "suite.families", "at least 1 item", True),
    ("smollm2_hub.yaml", "layers: all", "layers: []", "intervention.layers", "at least 1 item", True),
    ("smollm2_head_atlas.yaml", "heads: all", "heads: []", "intervention.heads", "at least 1 item", True),
    ("smollm2_hub.yaml", "min_effect: 0.05", "min_effect: .inf", "acceptance.min_effect", "finite number", True),
    ("smollm2_hub.yaml", "min_effect: 0.05", "min_effect: .nan", "acceptance.min_effect", "finite number", True),
    ("steering_prompt_length.yaml", "alphas: [0.25]", "alphas: [-.inf]", "intervention.alphas.0", "finite number",
     True),
    ("smollm2_quant_causal_drift.yaml", "magnitude_ratio: [0.8, 1.25]", "magnitude_ratio: [0.8, .inf]",
     "acceptance.magnitude_ratio.1", "finite number", True),
    ("smollm2_layer_skip.yaml", "{block: [20, 25]}", "{block: [true, 25]}", "intervention.configs.3.block.0",
     "valid integer", True),
    ("smollm2_hub.yaml", "min_family_fraction: 0.5", "noise_z: .inf", "acceptance", "noise_z", False),
    ("smollm2_hub.yaml", "min_seed_agreement: all", "min_seed_agreement: 5", "acceptance.min_seed_agreement",
     "more than the 3 seed(s)", True),
    ("smollm2_hub.yaml", "families: all", "families: [arithmetic, copying, arithmetic]", "suite.families",
     "'arithmetic' listed more than once", True),
    ("smollm2_head_atlas.yaml", "layers: [8]", "layers: [8, 8]", "intervention.layers", "8 listed more than once",
     True),
    ("smollm2_head_atlas.yaml", "heads: all", "heads: [1, 2, 1]", "intervention.heads", "1 listed more than once",
     True),
    ("steering_prompt_length.yaml", "layers: [12]", "layers: [12, 12]", "intervention.layers", "listed more than once",
     True),
    ("smollm2_steering_refusal.yaml", "families: [factual_recall, arithmetic, copying, code_syntax]",
     "families: [factual_recall, arithmetic, factual_recall]", "intervention.collateral.families",
     "listed more than once", True),
    ("no_universal_hub.yaml", "claims: [smollm2_hub.yaml, gemma3_hub.yaml]",
     "claims: [smollm2_hub.yaml, smollm2_hub.yaml]", "intervention.claims", "listed more than once", True),
    ("smollm2_code_transfer.yaml", "modules: [o_proj, down_proj]", "modules: [o_proj, o_proj]",
     "intervention.placements.atlas.modules", "'o_proj' listed more than once", True),
    ("steering_prompt_length.yaml", "denominator: [refusal_eval_short]", "denominator: [refusal_eval_long]",
     "acceptance", "in both numerator and denominator", False),
    ("smollm2_code_transfer.yaml", "train_prompts: 24", "train_prompts: 2400", "intervention.task.train_prompts",
     "family 'code_semantics' has 40 prompts", True),
]


@pytest.mark.parametrize("name,old,new,where,message,on_line", CASES,
                         ids=[f"{c[0].removesuffix('.yaml')}:{c[2].strip()}" for c in CASES])
def test_mutated_claim_is_invalid_with_a_positioned_problem(claims, name, old, new, where, message, on_line):
    path = claims / name
    line = mutate(path, old, new)
    result = check(path)
    assert result.exit_code == EXIT_INVALID, result.output
    assert "Traceback" not in result.output
    (problem,) = invalid_lines(result.output)  # one mistake, one problem (not one per union member)
    match = re.match(rf"{re.escape(str(path))}:(\d+):(\d+): {re.escape(where)}: (.*)$", problem)
    assert match, problem
    assert message in match.group(3), problem
    if on_line:
        assert int(match.group(1)) == line, problem


def test_the_unmutated_copies_pass(claims):
    """The cases above fail because of their mutation, not because of the copy."""
    result = check(*sorted({claims / c[0] for c in CASES}))
    assert result.exit_code == EXIT_OK, result.output


def _numbers(node):
    """Every int and float scalar of a YAML node tree."""
    if isinstance(node, yaml.MappingNode):
        for _, value in node.value:
            yield from _numbers(value)
    elif isinstance(node, yaml.SequenceNode):
        for item in node.value:
            yield from _numbers(item)
    elif node.tag.endswith((":int", ":float")):
        yield node


@pytest.mark.parametrize("name", [p.name for p in sorted(SHIPPED.glob("*.yaml"))])
def test_no_number_of_a_shipped_claim_takes_a_bool_or_a_non_finite_float(claims, name):
    """Each number in the claim, replaced in turn by true, .inf or .nan: rejected, at its line."""
    path = claims / name
    text = path.read_text()
    scalars = list(_numbers(yaml.compose(text)))
    missed = []
    for node in scalars:
        for new in ("true", ".inf", ".nan"):
            path.write_text(text[:node.start_mark.index] + new + text[node.end_mark.index:])
            try:
                load_claim(path)
                missed.append(f"line {node.start_mark.line + 1}: {node.value} -> {new} accepted")
            except ClaimFileError as exc:
                if not any(p.line == node.start_mark.line + 1 for p in exc.problems):
                    missed.append(f"line {node.start_mark.line + 1}: {node.value} -> {new}: {exc.problems[0]}")
    assert not missed, "\n".join(missed)


def test_pairs_of_an_unknown_family_make_the_suite_invalid(claims):
    suite = claims / "suites" / "main.yaml"
    text = suite.read_text()
    at = text.index("\npairs:\n  factual_recall:") + len("\npairs:\n")
    suite.write_text(text[:at] + "  factual_recal:" + text[at + len("  factual_recall:"):])
    result = check(claims / "smollm2_patching.yaml")
    assert result.exit_code == EXIT_INVALID, result.output
    (problem,) = invalid_lines(result.output)
    assert problem.startswith(f"{suite}:") and "pairs: pairs for 'factual_recal'" in problem, problem


def test_duplicate_claim_ids_are_reported_in_every_file_that_has_it(claims):
    copy = claims / "copy_of_hub.yaml"
    shutil.copy(claims / "smollm2_hub.yaml", copy)
    hub, other = claims / "smollm2_hub.yaml", claims / "gemma3_hub.yaml"
    found = duplicate_ids([hub, other, copy, claims / "no_such.yaml", claims / "suites"])
    assert set(found) == {hub, copy}
    line = next(i for i, t in enumerate(hub.read_text().splitlines(), 1) if t.startswith("id:"))
    assert str(found[copy]) == (f"{copy}:{line}:5: id: claim id 'smollm2_hub' is also the id of {hub}:{line} "
                                "(claims checked or run together need distinct ids: rename one)")
    assert duplicate_ids([hub, other, hub]) == {}  # one file named twice is one claim


def test_check_exits_invalid_on_duplicate_claim_ids(claims):
    copy = claims / "copy_of_hub.yaml"
    shutil.copy(claims / "smollm2_hub.yaml", copy)
    result = check(claims / "smollm2_hub.yaml", copy)
    assert result.exit_code == EXIT_INVALID, result.output
    assert any(f"{copy}:" in p and "claim id 'smollm2_hub'" in p for p in invalid_lines(result.output))
