"""Claim schema: round trips, unknown keys rejected with did-you-mean, positioned errors."""

import json
import textwrap

import pytest
import yaml
from hypothesis import given, settings
from hypothesis import strategies as st

from audit.errors import ClaimFileError
from audit.schema import Claim, json_schema, load_claim
from tests.conftest import REPO, write_claim

SHIPPED = sorted((REPO / "claims").glob("*.yaml"))


@pytest.mark.parametrize("path", SHIPPED, ids=lambda p: p.name)
def test_shipped_claims_validate(path):
    assert load_claim(path).claim.id == path.stem


def test_json_schema_forbids_extra_keys():
    schema = json_schema()
    assert schema["additionalProperties"] is False
    assert "intervention" in schema["properties"]


def problems_of(tmp_path, text):
    p = tmp_path / "bad.yaml"
    p.write_text(textwrap.dedent(text))
    with pytest.raises(ClaimFileError) as exc:
        load_claim(p)
    return exc.value.problems


def base_claim(tmp_path, **kw):
    return write_claim(tmp_path / "c.yaml", model="smollm2-135m", **kw).read_text()


def test_misspelled_key_gets_line_and_did_you_mean(tmp_path):
    text = base_claim(tmp_path).replace("  method: skip", "  methd: skip")
    probs = problems_of(tmp_path, text)
    unknown = [p for p in probs if "unknown key 'methd'" in p.message]
    assert unknown and unknown[0].line == text.splitlines().index("  methd: skip") + 1
    assert "did you mean 'method'" in unknown[0].hint


def test_wrong_literal_gets_choices_and_hint(tmp_path):
    text = base_claim(tmp_path).replace("method: skip", "method: zero_outptu")
    (p,) = problems_of(tmp_path, text)
    assert p.where == "intervention.method" and "zero_output" in p.hint and p.line is not None


def test_wrong_type_is_positioned(tmp_path):
    text = base_claim(tmp_path).replace("prompts_per_family: 3", "prompts_per_family: many")
    (p,) = problems_of(tmp_path, text)
    assert p.where == "suite.prompts_per_family" and "integer" in p.message


def test_unknown_intervention_kind(tmp_path):
    text = base_claim(tmp_path).replace("kind: layer_ablation", "kind: layer_ablaton")
    probs = problems_of(tmp_path, text)
    assert any("layer_ablation" in (p.message + p.hint) for p in probs)


def test_unknown_family_has_hint(tmp_path):
    text = base_claim(tmp_path, families=("arithmetc",))
    (p,) = problems_of(tmp_path, text)
    assert "unknown family 'arithmetc'" in p.message and "arithmetic" in p.hint and p.line is not None


def test_negative_layer_rejected(tmp_path):
    text = base_claim(tmp_path).replace("  layer: 2", "  layer: -1")
    (p,) = problems_of(tmp_path, text)
    assert p.where == "acceptance.layer"


def test_claimed_layer_must_be_swept(tmp_path):
    text = base_claim(tmp_path).replace("layers: all", "layers: [0, 1]")
    (p,) = problems_of(tmp_path, text)
    assert "not in intervention.layers" in p.message


def test_missing_key_names_parent(tmp_path):
    text = "\n".join(line for line in base_claim(tmp_path).splitlines() if not line.startswith("statement"))
    (p,) = problems_of(tmp_path, text)
    assert "missing required key 'statement'" in p.message


def test_duplicate_seeds_rejected(tmp_path):
    (p,) = problems_of(tmp_path, base_claim(tmp_path, seeds=(1, 1)))
    assert "distinct" in p.message


ident = st.from_regex(r"[a-z][a-z0-9_]{0,10}", fullmatch=True)


@settings(max_examples=60, deadline=None)
@given(ident, st.sampled_from(["skip", "zero_output", "zero_attn", "zero_mlp"]),
       st.lists(st.integers(0, 10_000), min_size=1, max_size=5, unique=True), st.integers(0, 40),
       st.sampled_from(["kl", "nll_increase"]), st.sampled_from(["supported", "refuted"]))
def test_round_trip(cid, method, seeds, layer, metric, expect):
    data = {"id": cid, "statement": "A statement long enough.", "model": "m", "expect": expect,
            "suite": {"name": "main", "families": "all"},
            "intervention": {"kind": "layer_ablation", "method": method},
            "metric": {"kind": metric}, "controls": {"seeds": seeds},
            "acceptance": {"kind": "hub", "layer": layer}}
    claim = Claim.model_validate(data)
    dumped = claim.model_dump(mode="json")
    assert Claim.model_validate(json.loads(json.dumps(dumped))) == claim
    assert Claim.model_validate(yaml.safe_load(yaml.safe_dump(dumped))) == claim


@settings(max_examples=60, deadline=None)
@given(st.sampled_from(["", "suite", "intervention", "metric", "controls", "acceptance"]),
       ident.filter(lambda k: k not in {"id", "statement", "model", "expect", "suite", "intervention", "metric",
                                         "controls", "acceptance", "rationale", "falsifier", "caveats", "tags",
                                         "schema_version", "name", "families", "prompts_per_family", "chat_template",
                                         "kind", "method", "layers", "why", "position", "seeds", "layer",
                                         "min_seed_agreement", "min_family_fraction", "min_margin_relative",
                                         "noise_z", "min_effect", "flat_tolerance"}))
def test_unknown_keys_rejected_everywhere(section, key):
    from pydantic import ValidationError

    data = {"id": "x", "statement": "A statement long enough.", "model": "m", "suite": {},
            "intervention": {"kind": "layer_ablation", "method": "skip"}, "metric": {"kind": "kl"},
            "controls": {"seeds": [1]}, "acceptance": {"kind": "hub", "layer": 0}}
    (data[section] if section else data)[key] = 1
    with pytest.raises(ValidationError) as exc:
        Claim.model_validate(data)
    assert any(e["type"] == "extra_forbidden" for e in exc.value.errors())
