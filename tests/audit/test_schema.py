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
                                         "noise_z", "min_effect", "flat_tolerance", "alpha", "stage", "selected_by",
                                         "split", "negative_result", "retired", "superseded_by"}))
def test_unknown_keys_rejected_everywhere(section, key):
    from pydantic import ValidationError

    data = {"id": "x", "statement": "A statement long enough.", "model": "m", "suite": {},
            "intervention": {"kind": "layer_ablation", "method": "skip"}, "metric": {"kind": "kl"},
            "controls": {"seeds": [1]}, "acceptance": {"kind": "hub", "layer": 0}}
    (data[section] if section else data)[key] = 1
    with pytest.raises(ValidationError) as exc:
        Claim.model_validate(data)
    assert any(e["type"] == "extra_forbidden" for e in exc.value.errors())


# --------------------------------------------------------------------------- stage, selected_by, split

def test_round_trip_with_stage_selected_by_and_split():
    data = {"id": "twin", "statement": "A statement long enough.", "model": "m", "stage": "confirmatory",
            "selected_by": "explorer", "suite": {"name": "main", "split": "confirm"},
            "intervention": {"kind": "layer_ablation", "method": "skip"}, "metric": {"kind": "kl"},
            "controls": {"seeds": [1, 2, 3]}, "acceptance": {"kind": "hub", "layer": 2}}
    claim = Claim.model_validate(data)
    dumped = claim.model_dump(mode="json")
    assert (dumped["stage"], dumped["selected_by"], dumped["suite"]["split"]) == ("confirmatory", "explorer", "confirm")
    assert Claim.model_validate(yaml.safe_load(yaml.safe_dump(dumped))) == claim


def test_undeclared_stage_is_exploratory_and_split_all():
    data = {"id": "x", "statement": "A statement long enough.", "model": "m", "suite": {},
            "intervention": {"kind": "layer_ablation", "method": "skip"}, "metric": {"kind": "kl"},
            "controls": {"seeds": [1]}, "acceptance": {"kind": "hub", "layer": 0}}
    claim = Claim.model_validate(data)
    assert claim.stage == "exploratory" and claim.selected_by == "" and claim.suite.split == "all"


def test_unknown_stage_and_split_rejected_with_position(tmp_path):
    text = base_claim(tmp_path).replace("stage: confirmatory", "stage: confirmed")
    (p,) = problems_of(tmp_path, text)
    assert p.where == "stage" and p.line == text.splitlines().index("stage: confirmed") + 1
    text = base_claim(tmp_path).replace("split: all", "split: half")
    (p,) = problems_of(tmp_path, text)
    assert p.where == "suite.split" and p.line is not None


def _line_of(path, prefix):
    return next(i for i, line in enumerate(path.read_text().splitlines(), 1) if line.startswith(prefix))


def test_confirmatory_twin_on_disjoint_halves_is_valid(tmp_path):
    write_claim(tmp_path / "explorer.yaml", model="m", stage="exploratory", split="explore", prompts=8)
    twin = write_claim(tmp_path / "twin.yaml", model="m", selected_by="explorer", split="confirm", prompts=8,
                       seeds=(1, 2, 3))  # the same seeds: the halves alone keep the prompts apart
    lc = load_claim(twin)
    assert lc.claim.selected_by == "explorer" and lc.suite.split == "confirm"


def test_overlapping_prompts_with_the_selecting_claim_is_invalid_with_line(tmp_path):
    write_claim(tmp_path / "explorer.yaml", model="m", stage="exploratory", prompts=8)
    twin = write_claim(tmp_path / "twin.yaml", model="m", selected_by="explorer", prompts=8, seeds=(7, 8, 9))
    with pytest.raises(ClaimFileError) as exc:
        load_claim(twin)
    (p,) = exc.value.problems
    assert p.where == "selected_by" and p.line == _line_of(twin, "selected_by:") and p.column == 14
    assert "shares" in p.message and "explorer" in p.message and "split" in p.hint
    count = int(p.message.split("shares ")[1].split()[0])
    assert count > 0 and ("arithmetic-" in p.message or "copying-" in p.message)


def test_overlap_is_exit_4_on_the_command_line(tmp_path):
    from typer.testing import CliRunner

    from audit.cli import app

    write_claim(tmp_path / "explorer.yaml", model="m", stage="exploratory", prompts=8)
    twin = write_claim(tmp_path / "twin.yaml", model="m", selected_by="explorer", prompts=8, seeds=(7, 8, 9))
    result = CliRunner().invoke(app, ["check", str(twin)])
    assert result.exit_code == 4, result.output
    assert f"twin.yaml:{_line_of(twin, 'selected_by:')}:" in result.output.replace("\n", "")


def test_selected_by_needs_a_confirmatory_claim_and_an_existing_id(tmp_path):
    write_claim(tmp_path / "explorer.yaml", model="m", stage="exploratory", split="explore")
    bad = write_claim(tmp_path / "bad.yaml", model="m", stage="exploratory", selected_by="explorer", split="confirm")
    (p,) = problems_of(tmp_path, bad.read_text())
    assert p.where == "selected_by" and "confirmatory" in p.message and "stage: confirmatory" in p.hint
    missing = write_claim(tmp_path / "missing.yaml", model="m", selected_by="nobody", split="confirm")
    with pytest.raises(ClaimFileError) as exc:
        load_claim(missing)
    (p,) = exc.value.problems
    assert "no claim with id 'nobody'" in p.message and p.hint and p.line == _line_of(missing, "selected_by:")
    selfish = write_claim(tmp_path / "selfish.yaml", model="m", selected_by="selfish")
    with pytest.raises(ClaimFileError) as exc:
        load_claim(selfish)
    assert "itself" in exc.value.problems[0].message


def test_seeds_that_draw_identical_prompts_are_invalid(tmp_path):
    # 40 prompts per family: every seed draws all of them, a rerun rather than a replication
    rerun = write_claim(tmp_path / "rerun.yaml", model="m", prompts=40)
    with pytest.raises(ClaimFileError) as exc:
        load_claim(rerun)
    (p,) = exc.value.problems
    assert p.where == "controls.seeds" and "seeds must change the inputs" in p.message
    assert p.line == _line_of(rerun, "  seeds:") and "prompts_per_family" in p.hint
    # the confirm half has 20 per family: 20 draws it all
    half = write_claim(tmp_path / "half.yaml", model="m", prompts=20, split="confirm")
    with pytest.raises(ClaimFileError) as exc:
        load_claim(half)
    assert "seeds must change the inputs" in exc.value.problems[0].message
    assert "split 'confirm'" in exc.value.problems[0].hint
    # one seed replicates nothing and repeats nothing; 19 of 20 differ between seeds
    assert load_claim(write_claim(tmp_path / "one.yaml", model="m", prompts=40, seeds=(1,)))
    assert load_claim(write_claim(tmp_path / "most.yaml", model="m", prompts=19, split="confirm"))


def test_identical_seeds_are_exit_4_on_the_command_line(tmp_path):
    from typer.testing import CliRunner

    from audit.cli import app

    rerun = write_claim(tmp_path / "rerun.yaml", model="m", prompts=40)
    result = CliRunner().invoke(app, ["check", str(rerun)])
    assert result.exit_code == 4 and "seeds must change the inputs" in result.output.replace("\n", " ")


def test_shipped_hub_and_replication_are_disjoint():
    from audit.schema import judged_ids

    hub, twin = load_claim(REPO / "claims" / "smollm2_hub.yaml"), load_claim(REPO / "claims" / "smollm2_hub_replication.yaml")
    assert hub.claim.stage == "exploratory" and hub.claim.suite.split == "explore"
    assert twin.claim.stage == "confirmatory" and twin.claim.selected_by == "smollm2_hub"
    assert not judged_ids(hub) & judged_ids(twin)
