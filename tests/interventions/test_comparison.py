"""Comparisons of sweeps: differing planted hubs, agreeing ones, and flat sweeps (uninformative)."""

from audit.cache import EvidenceCache
from audit.evidence_models.judged import ComparedSweeps
from audit.runner import RunOptions, run_claim
from audit.schema import load_claim
from tests.conftest import write_claim


def comparison(tmp_path, files, acceptance, name="cmp", stage="exploratory", seeds="[1]"):
    path = tmp_path / f"{name}.yaml"
    listed = ", ".join(f.name for f in files)
    path.write_text(f"""\
id: {name}
statement: "Planted comparison of sweeps for a test."
model: none
stage: {stage}
suite: {{name: {files[0].read_text().split('name: ')[1].split()[0]}}}
intervention: {{kind: comparison, claims: [{listed}]}}
metric: {{kind: kl}}
controls: {{seeds: {seeds}}}
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


def test_a_compared_claim_whose_weights_are_not_here_makes_the_comparison_pending(tmp_path, tiny_dir):
    a = write_claim(tmp_path / "a.yaml", model=tiny_dir("cmp_hub1", "qwen2", hub=1), layer=1)
    q = write_claim(tmp_path / "q.yaml", model="Qwen/Qwen2.5-3B", layer=3)
    rec = comparison(tmp_path, [a, q], "  kind: tops_differ")
    assert rec["verdict"] == "pending" and "--model" in rec["reasons"][0]
    assert rec["reasons"][0].count("not run:") == 1 and "q" in rec["reasons"][0]


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


def test_comparison_inherits_the_lowest_cap_of_its_inputs(tmp_path, tiny_dir):
    a = write_claim(tmp_path / "a.yaml", model=tiny_dir("cmp_hub1", "qwen2", hub=1), layer=1)
    b = write_claim(tmp_path / "b.yaml", model=tiny_dir("cmp_hub2", "qwen2", hub=2), layer=2)
    explored = write_claim(tmp_path / "e.yaml", model=tiny_dir("cmp_hub2", "qwen2", hub=2), layer=2,
                           stage="exploratory")
    both = comparison(tmp_path, [a, b], "  kind: tops_differ", name="both", stage="confirmatory", seeds="[1, 2, 3]")
    assert both["evidence"]["input_caps"] == {"a": "medium", "b": "medium"}
    assert both["confidence_cap"] == "medium"
    mixed = comparison(tmp_path, [a, explored], "  kind: tops_differ", name="mixed", stage="confirmatory",
                       seeds="[1, 2, 3]")
    assert mixed["evidence"]["input_caps"] == {"a": "medium", "e": "low"}
    assert mixed["confidence_cap"] == "low" and mixed["confidence"] in ("low", "none")
    assert any("lowest cap of its inputs" in n for n in mixed["confidence_notes"])
    # a comparison that does not declare its stage is exploratory: low whatever its inputs
    assert comparison(tmp_path, [a, b], "  kind: tops_differ", name="undeclared", seeds="[1, 2, 3]")[
        "confidence_cap"] == "low"


# --------------------------------------------------------------------------- the criteria on synthetic sweeps

def sweep(cid, top, separated=True, strong=True, n_layers=10):
    return {"claim_id": cid, "top": top, "top_separated": separated, "strong": strong, "n_layers": n_layers,
            "closest_interval": [0.2, 0.6] if separated else [-0.1, 0.3]}


def test_tops_differ_reads_top_separated_and_reports_strength():
    from audit.criteria.comparison import TopsDiffer
    from audit.verdict import Verdict

    differ = TopsDiffer(kind="tops_differ")
    out = differ.evaluate(ComparedSweeps(sweeps=[sweep("a", 2), sweep("b", 5)]))
    assert out.verdict is Verdict.SUPPORTED and out.summary["strong"] is True
    assert out.summary["closest_interval"] == {"a": [0.2, 0.6], "b": [0.2, 0.6]}
    weak = differ.evaluate(ComparedSweeps(sweeps=[sweep("a", 2), sweep("b", 5, strong=False)]))
    assert weak.verdict is Verdict.SUPPORTED and weak.summary["strong"] is False
    agree = differ.evaluate(ComparedSweeps(sweeps=[sweep("a", 2), sweep("b", 2)]))
    assert agree.verdict is Verdict.REFUTED
    # an argmax that is not separated decides nothing, even when the tops differ
    tied = differ.evaluate(ComparedSweeps(sweeps=[sweep("a", 2), sweep("b", 5, separated=False)]))
    assert tied.verdict is Verdict.INCONCLUSIVE and tied.summary["uninformative"] == ["b"]
    assert tied.summary["strong"] is False
    # the uninformative one is set aside; two informative ones still decide
    three = differ.evaluate(ComparedSweeps(sweeps=[sweep("a", 2), sweep("b", 5), sweep("c", 2, separated=False)]))
    assert three.verdict is Verdict.SUPPORTED and three.summary["decided_by"] == ["a", "b"]


def test_tops_match_refutes_only_on_a_separated_top():
    from audit.criteria.comparison import TopsMatch
    from audit.verdict import Verdict

    match = TopsMatch(kind="tops_match", expected={"a": 2, "b": 5})
    assert match.evaluate(ComparedSweeps(sweeps=[sweep("a", 2), sweep("b", 5)])).verdict is Verdict.SUPPORTED
    wrong = match.evaluate(ComparedSweeps(sweeps=[sweep("a", 2), sweep("b", 6, strong=False)]))
    assert wrong.verdict is Verdict.REFUTED and wrong.summary["decided_by"] == ["b"] and not wrong.summary["strong"]
    unsure = match.evaluate(ComparedSweeps(sweeps=[sweep("a", 2), sweep("b", 6, separated=False)]))
    assert unsure.verdict is Verdict.INCONCLUSIVE and unsure.summary["strong"] is False


def test_a_null_control_on_a_comparison_is_refused_with_the_reason(tmp_path):
    import pytest

    from audit.schema import ClaimFileError

    a = write_claim(tmp_path / "a.yaml", model="smollm2-135m")
    b = write_claim(tmp_path / "b.yaml", model="smollm2-135m", layer=3)
    path = tmp_path / "cmp.yaml"
    path.write_text(f"""\
id: cmp
statement: "A comparison with a null control of its own."
model: none
suite: {{name: {a.read_text().split('name: ')[1].split()[0]}}}
intervention: {{kind: comparison, claims: [{a.name}, {b.name}]}}
metric: {{kind: kl}}
controls: {{seeds: [1], random_vector: {{n: 19}}}}
acceptance: {{kind: tops_differ}}
""")
    with pytest.raises(ClaimFileError) as err:
        load_claim(path)
    msg = str(err.value)
    assert "intervention 'comparison' takes no random_vector control" in msg
    assert "its nulls are the compared claims' controls" in msg
