"""The typed evidence models fit what the builders really wrote (the committed ledger, a fresh run),
reject planted bad evidence with a one-line error naming the field, and keep unknown kinds and keys."""

import copy
import json
import re
import subprocess
import sys
from pathlib import Path

import pytest

from audit.api import Result
from audit.evidence_models import (KINDS, ComponentSweepEvidence, LayerSweepEvidence, OtherEvidence,
                                   parse_evidence)
from tests.conftest import write_claim

REPO = Path(__file__).resolve().parents[2]
LEDGER = [json.loads(line) for line in (REPO / "reports" / "ledger.jsonl").read_text().splitlines() if line.strip()]
WITH_KIND = [r for r in LEDGER if r["evidence"].get("kind")]
IDS = [f"{i}:{r['claim_id']}" for i, r in enumerate(WITH_KIND)]


def evidence_of(kind: str, has: str | None = None) -> dict:
    """A deep copy of the first committed evidence of ``kind`` (that has the key ``has``)."""
    return copy.deepcopy(next(r["evidence"] for r in WITH_KIND
                              if r["evidence"]["kind"] == kind and (has is None or has in r["evidence"])))


def message(evidence: dict) -> str:
    with pytest.raises(ValueError) as exc:
        parse_evidence(evidence)
    text = str(exc.value)
    assert "\n" not in text, "one line"
    return text


def test_the_ledger_has_evidence_of_every_kind_the_models_know():
    assert {r["evidence"]["kind"] for r in WITH_KIND} == set(KINDS)


def test_every_kind_a_builder_writes_has_a_model():
    written = set()
    for path in (REPO / "audit" / "evidence").glob("*.py"):
        written |= set(re.findall(r'"kind": "(\w+)"', path.read_text()))
    assert written and written <= set(KINDS), f"kinds without a model: {sorted(written - set(KINDS))}"


@pytest.mark.parametrize("rec", WITH_KIND, ids=IDS)
def test_committed_evidence_parses_into_the_model_of_its_kind(rec):
    model = parse_evidence(rec["evidence"])
    assert type(model) is KINDS[rec["evidence"]["kind"]], "not OtherEvidence: the model matches reality"


@pytest.mark.parametrize("rec", WITH_KIND, ids=IDS)
def test_a_parsed_record_dumps_back_to_the_dict_it_was_read_from(rec):
    assert parse_evidence(rec["evidence"]).model_dump(mode="json") == rec["evidence"]


def test_records_without_evidence_parse_to_none():
    empty = [r for r in LEDGER if not r["evidence"].get("kind")]
    assert empty and all(r["verdict"] in ("errored", "pending") for r in empty)
    assert all(parse_evidence(r["evidence"]) is None for r in empty)
    assert parse_evidence({}) is None and parse_evidence({"pending": "weights not here"}) is None


def test_string_layer_values_are_refused_naming_the_field():
    ev = evidence_of("layer_sweep")
    metric = ev["metric"]
    ev["effects"][metric][0][0] = [str(v) for v in ev["effects"][metric][0][0]]
    text = message(ev)
    assert text.startswith(f"layer_sweep evidence: field effects.{metric}.0.0.0: input should be a valid number")


@pytest.mark.parametrize("change,field", [
    (lambda ev: ev.pop("layers"), "field layers: missing"),
    (lambda ev: ev.update(layers="all"), "field layers: input should be a valid list (got 'all')"),
    (lambda ev: ev["n_prompts"].update(unique=True), "field n_prompts.unique: input should be a valid integer"),
])
def test_other_planted_layer_sweep_faults_name_their_field(change, field):
    ev = evidence_of("layer_sweep")
    change(ev)
    assert message(ev).startswith(f"layer_sweep evidence: {field}")


def test_a_per_prompt_fault_is_located_without_the_union_tags():
    ev = evidence_of("component_sweep", has="judged_samples")  # patching: metric -> pair id -> per component
    pair = next(iter(ev["per_prompt"]["recovery"]))
    ev["per_prompt"]["recovery"][pair][0] = "x"
    assert message(ev) == f"component_sweep evidence: field per_prompt.recovery.{pair}.0: input should be a valid " \
                          "number (got 'x')"


@pytest.mark.parametrize("bad,expected", [
    ([1, 2], "evidence is a list"),
    ({"kind": 3}, "evidence kind is 3"),
    ({"effects": {}}, "evidence has no 'kind'"),
])
def test_evidence_that_is_not_a_record_is_refused(bad, expected):
    assert message(bad).startswith(expected)


def test_an_unknown_kind_is_other_evidence_with_its_keys_kept():
    ev = {"kind": "activation_atlas", "layers": [1, 2], "notes": {"why": "new builder"}}
    model = parse_evidence(ev)
    assert type(model) is OtherEvidence and model.kind == "activation_atlas"
    assert model.layers == [1, 2] and model.model_dump(mode="json") == ev


def test_unknown_keys_of_a_known_kind_pass_through_and_fields_are_typed():
    ev = evidence_of("layer_sweep") | {"added_later": {"x": [1, 2]}}
    model = parse_evidence(ev)
    assert isinstance(model, LayerSweepEvidence) and model.added_later == {"x": [1, 2]}
    assert model.controls.seeds.n_seeds == len(model.seeds) and model.model_dump(mode="json") == ev
    with pytest.raises(Exception):
        model.metric = "changed"  # frozen


def test_fields_an_older_record_lacks_are_not_added_on_dump():
    ev = evidence_of("component_sweep")
    ev.pop("per_prompt", None)
    model = parse_evidence(ev)
    assert isinstance(model, ComponentSweepEvidence) and model.per_prompt is None
    assert "per_prompt" not in model.model_dump(mode="json")


def test_result_typed_evidence_reads_the_record_and_keeps_evidence_a_dict():
    rec = WITH_KIND[0]
    result = Result.from_record(rec)
    assert isinstance(result.evidence, dict) and type(result.typed_evidence) is KINDS[rec["evidence"]["kind"]]
    errored = next(r for r in LEDGER if r["verdict"] == "errored" and not r["evidence"].get("kind"))
    assert Result.from_record(errored).typed_evidence is None


def test_a_fresh_run_in_memory_parses_too(tmp_path, tiny_dir):
    from audit import run

    claim = write_claim(tmp_path / "c.yaml", model=str(tiny_dir("evidence_models_hub2", "llama", hub=2)), layer=2,
                        prompts=1, families=("arithmetic",))
    result = run(claim, cache=False)
    model = result.typed_evidence
    assert isinstance(model, LayerSweepEvidence) and model.layers == [0, 1, 2, 3]
    assert model.model_dump(mode="json") == result.evidence


def test_evidence_models_import_no_torch():
    code = "import sys, audit.evidence_models; print('torch' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], cwd=REPO, capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "False"
