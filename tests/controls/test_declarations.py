"""Which controls a kind takes and requires is declared once, on its intervention spec; the claim
schema and the gate both read that declaration (no kind name spelled anywhere else)."""

import pytest

import controls
from audit import gate
from audit.errors import ClaimFileError
from audit.schema import load_claim
from interventions import INTERVENTIONS
from tests.conftest import write_claim


def test_every_kind_takes_seeds_and_steering_requires_both_nulls():
    for kind in INTERVENTIONS.names():
        spec = INTERVENTIONS.get(kind)
        assert controls.SEEDS in controls.accepted(spec) and controls.required(spec) <= controls.accepted(spec)
    assert controls.required(INTERVENTIONS.get("steering")) == {"seeds", *controls.NULL_CONTROLS}
    assert controls.required(INTERVENTIONS.get("layer_ablation")) == {"seeds"}


def test_the_schema_follows_a_changed_declaration(tmp_path, monkeypatch):
    path = write_claim(tmp_path / "hub.yaml", model="smollm2-135m")
    assert load_claim(path).claim.id == "hub"  # today: seeds only, and it has them
    spec = INTERVENTIONS.get("layer_ablation")
    monkeypatch.setattr(spec, "accepted_controls", frozenset({"seeds", "random_vector"}), raising=False)
    monkeypatch.setattr(spec, "required_controls", frozenset({"seeds", "random_vector"}), raising=False)
    with pytest.raises(ClaimFileError, match="a layer_ablation claim needs the random_vector control"):
        load_claim(path)
    path.write_text(path.read_text().replace("seeds: [1, 2, 3]", "seeds: [1, 2, 3]\n  random_vector: {n: 199}"))
    assert load_claim(path).claim.controls.random_vector.n == 199


def test_the_gate_follows_the_same_declaration(monkeypatch):
    assert gate.required_controls("layer_ablation") == {"seeds"}
    assert gate.required_controls("steering") == {"seeds", "random_vector", "shuffled_label"}
    monkeypatch.setattr(INTERVENTIONS.get("patching"), "required_controls", frozenset({"seeds", "shuffled_label"}),
                        raising=False)
    assert gate.required_controls("patching") == {"seeds", "shuffled_label"}
    assert gate.required_controls("no-such-kind") == {"seeds"}
