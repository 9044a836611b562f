"""Comparisons of sweeps: differing planted hubs, agreeing ones, and flat sweeps (uninformative)."""

from audit.cache import EvidenceCache
from audit.runner import RunOptions, run_claim
from audit.schema import load_claim
from tests.conftest import write_claim


def comparison(tmp_path, files, acceptance, name="cmp"):
    path = tmp_path / f"{name}.yaml"
    listed = ", ".join(f.name for f in files)
    path.write_text(f"""\
id: {name}
statement: "Planted comparison of sweeps for a test."
model: none
suite: {{name: {files[0].read_text().split('name: ')[1].split()[0]}}}
intervention: {{kind: comparison, claims: [{listed}]}}
metric: {{kind: kl}}
controls: {{seeds: [1]}}
acceptance:
{acceptance}
""")
    return run_claim(load_claim(path), RunOptions(evidence_cache=EvidenceCache(tmp_path / "cache")))


def test_different_planted_hubs_differ_and_same_model_agrees(tmp_path, tiny_dir):
    a = write_claim(tmp_path / "a.yaml", model=tiny_dir("cmp_hub1", "qwen2", hub=1), layer=1)
    b = write_claim(tmp_path / "b.yaml", model=tiny_dir("cmp_hub2", "qwen2", hub=2), layer=2)
    b2 = write_claim(tmp_path / "b2.yaml", model=tiny_dir("cmp_hub2", "qwen2", hub=2), layer=2, seeds=(7, 8, 9))
    differ = comparison(tmp_path, [a, b], "  kind: tops_differ")
    assert differ["verdict"] == "supported", differ["reasons"]
    assert comparison(tmp_path, [b, b2], "  kind: tops_differ", name="same")["verdict"] == "refuted"
    match = comparison(tmp_path, [a, b], "  kind: tops_match\n  expected: {a: 1, b: 2}", name="m")
    assert match["verdict"] == "supported"
    wrong = comparison(tmp_path, [a, b], "  kind: tops_match\n  expected: {a: 2, b: 2}", name="w")
    assert wrong["verdict"] == "refuted"


def test_flat_sweep_makes_a_comparison_uninformative(tmp_path, tiny_dir):
    a = write_claim(tmp_path / "a.yaml", model=tiny_dir("cmp_hub1", "qwen2", hub=1), layer=1)
    flat = write_claim(tmp_path / "f.yaml", model=tiny_dir("cmp_llama2", "llama", hub=2), layer=2, method="zero_output")
    rec = comparison(tmp_path, [a, flat], "  kind: tops_differ")
    assert rec["verdict"] == "inconclusive" and "flat" in rec["reasons"][0]
    assert rec["summary"]["uninformative"] == ["f"]


def test_missing_model_in_a_compared_claim_errors(tmp_path, tiny_dir):
    a = write_claim(tmp_path / "a.yaml", model=tiny_dir("cmp_hub1", "qwen2", hub=1), layer=1)
    q = write_claim(tmp_path / "q.yaml", model="Qwen/Qwen2.5-3B", layer=3)
    rec = comparison(tmp_path, [a, q], "  kind: tops_differ")
    assert rec["verdict"] == "errored" and "--model" in rec["reasons"][0]


def test_acceptance_must_fit_the_intervention(tmp_path, tiny_dir):
    import pytest

    from audit.errors import ClaimFileError

    a = write_claim(tmp_path / "a.yaml", model="m", layer=1)
    path = tmp_path / "bad.yaml"
    text = a.read_text().replace("kind: hub", "kind: tops_differ").replace("  layer: 1\n", "")
    path.write_text(text.replace("  min_family_fraction: 0.5\n", ""))
    with pytest.raises(ClaimFileError) as exc:
        load_claim(path)
    assert "does not apply" in str(exc.value)
