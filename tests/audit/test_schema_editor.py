"""The claim JSON Schema as editors use it: a 2020-12 dialect with an $id, every property described,
registry-backed fields as enums, shipped claims valid, `audit schema --out` and the committed
claim.schema.json identical to what the code generates."""

import copy
import json
import os

import jsonschema
import pytest
import yaml
from typer.testing import CliRunner

import interventions
from audit.cli import app
from audit.criteria import CRITERIA
from audit.metric_kinds import METRIC_KINDS
from audit.schema import STEERING_CONTROLS, json_schema
from audit.verdict import EXIT_INVALID
from tests.conftest import REPO

SHIPPED = sorted((REPO / "claims").glob("*.yaml"))
SCHEMA = json_schema()
VALIDATOR = jsonschema.Draft202012Validator(SCHEMA)
runner = CliRunner()


def undescribed(node, path="#") -> list[str]:
    """Every property (of every object, at any depth) without a non-empty description."""
    missing = []
    if isinstance(node, dict):
        for name, prop in (node.get("properties") or {}).items():
            if not (isinstance(prop, dict) and isinstance(prop.get("description"), str) and prop["description"].strip()):
                missing.append(f"{path}/properties/{name}")
        for key, child in node.items():
            missing += undescribed(child, f"{path}/{key}")
    elif isinstance(node, list):
        for i, child in enumerate(node):
            missing += undescribed(child, f"{path}/{i}")
    return missing


def count_properties(node) -> int:
    if isinstance(node, dict):
        return len(node.get("properties") or {}) + sum(count_properties(v) for v in node.values())
    return sum(count_properties(v) for v in node) if isinstance(node, list) else 0


def errors(claim: dict) -> list:
    return list(VALIDATOR.iter_errors(claim))


def shipped(name: str = "smollm2_hub.yaml") -> dict:
    return yaml.safe_load((REPO / "claims" / name).read_text())


def test_dialect_id_title_and_description():
    assert SCHEMA["$schema"] == "https://json-schema.org/draft/2020-12/schema"
    assert SCHEMA["$id"].startswith("https://") and SCHEMA["$id"].endswith(".json")
    assert SCHEMA["title"] and "an identifier, never fetched" in SCHEMA["description"]
    assert list(SCHEMA)[:2] == ["$schema", "$id"]
    jsonschema.Draft202012Validator.check_schema(SCHEMA)


def test_every_property_has_a_description():
    assert count_properties(SCHEMA) > 200
    assert undescribed(SCHEMA) == []


def test_the_description_walk_finds_a_planted_gap():
    planted = copy.deepcopy(SCHEMA)
    planted["$defs"]["Training"]["properties"]["rank"].pop("description")
    planted["properties"]["id"]["description"] = " "
    assert sorted(undescribed(planted)) == ["#/$defs/Training/properties/rank", "#/properties/id"]


def test_registry_backed_fields_are_enums():
    props = SCHEMA["properties"]
    assert props["intervention"]["properties"]["kind"]["enum"] == interventions.INTERVENTIONS.names()
    assert props["acceptance"]["properties"]["kind"]["enum"] == CRITERIA.names()
    assert SCHEMA["$defs"]["MetricSpec"]["properties"]["kind"]["enum"] == list(METRIC_KINDS)
    controls = SCHEMA["$defs"]["Controls"]
    assert controls["properties"]["waive"]["propertyNames"]["enum"] == list(STEERING_CONTROLS)
    assert set(STEERING_CONTROLS) <= set(controls["properties"])
    for name in STEERING_CONTROLS:
        assert (REPO / "controls" / f"{name}.py").is_file()


@pytest.mark.parametrize("path", SHIPPED, ids=lambda p: p.name)
def test_shipped_claims_validate(path):
    assert errors(yaml.safe_load(path.read_text())) == []


def test_shipped_claims_cover_most_intervention_kinds():
    """The shipped claims cover most kinds: the schema is validated on real claims, not only its own."""
    used = {yaml.safe_load(p.read_text())["intervention"]["kind"] for p in SHIPPED}
    assert len(used) >= 8 and used <= set(interventions.INTERVENTIONS.names())


def enum_error_at(errs: list, path: tuple) -> bool:
    """Some error, at any depth of the oneOf contexts, is an enum violation at ``path``."""
    stack = list(errs)
    while stack:
        e = stack.pop()
        if tuple(e.absolute_path) == path and e.validator == "enum":
            return True
        stack += list(e.context or [])
    return False


@pytest.mark.parametrize("where,value", [(("intervention", "kind"), "ablatoin"),
                                         (("acceptance", "kind"), "hubb"),
                                         (("metric", "kind"), "kll")])
def test_unknown_kind_is_rejected_with_the_choices(where, value):
    claim = shipped()
    assert errors(claim) == []
    claim[where[0]][where[1]] = value
    errs = errors(claim)
    assert errs and enum_error_at(errs, where)


def test_unknown_top_level_key_is_rejected():
    claim = shipped()
    claim["expcet"] = "supported"
    (err,) = errors(claim)
    assert err.validator == "additionalProperties" and "expcet" in err.message


def test_unknown_quantization_mode_in_acceptance_is_rejected():
    claim = shipped("smollm2_nf4_practical.yaml")
    assert errors(claim) == []
    claim["acceptance"]["candidate"] = "nf5"
    assert enum_error_at(errors(claim), ("acceptance", "candidate"))


def test_out_writes_exactly_what_stdout_prints(tmp_path):
    printed = runner.invoke(app, ["schema"])
    assert printed.exit_code == 0 and json.loads(printed.stdout) == SCHEMA
    target = tmp_path / "claim.schema.json"
    written = runner.invoke(app, ["schema", "--out", str(target)])
    assert written.exit_code == 0, written.output
    assert target.read_text() == printed.stdout and written.stdout == ""
    assert oct(target.stat().st_mode & 0o777) == "0o644"


@pytest.mark.parametrize("bad", ["dir", "file_in_the_way"])
def test_out_bad_path_is_one_line_exit_4(tmp_path, bad):
    (tmp_path / "blocker").write_text("x")
    target = tmp_path if bad == "dir" else tmp_path / "blocker" / "claim.schema.json"
    result = runner.invoke(app, ["schema", "--out", str(target)])
    assert result.exit_code == EXIT_INVALID
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error --out") and "Traceback" not in result.output
    assert (tmp_path / "blocker").read_text() == "x"


def test_failed_write_keeps_the_previous_file(tmp_path, monkeypatch):
    target = tmp_path / "claim.schema.json"
    target.write_text("previous")

    def refuse(src, dst):
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(os, "replace", refuse)
    result = runner.invoke(app, ["schema", "--out", str(target)])
    assert result.exit_code == EXIT_INVALID and "No space left on device" in result.stderr
    assert target.read_text() == "previous" and sorted(p.name for p in tmp_path.iterdir()) == [target.name]


def test_committed_schema_file_is_current():
    committed = REPO / "claim.schema.json"
    assert committed.is_file(), "run `audit schema --out claim.schema.json`"
    assert json.loads(committed.read_text()) == SCHEMA, "stale: run `audit schema --out claim.schema.json`"
    assert committed.read_text() == json.dumps(SCHEMA, indent=2) + "\n"
