"""Activation patching on tiny models: planted path found, misaligned pairs refused, trivial flagged."""

import pytest

from audit.cache import EvidenceCache
from audit.runner import RunOptions, run_claim
from tests.interventions.test_ablation import claim_file, planted_mlp  # noqa: F401  (fixture)


def run(lc, tmp_path, tag="p"):
    return run_claim(lc, RunOptions(evidence_cache=EvidenceCache(tmp_path / f"cache-{tag}")))


PATCH_MLP = "  kind: patching\n  target: mlp\n  min_gap: 0.01"


def test_planted_mlp_carries_the_difference(tmp_path, planted_mlp):  # noqa: F811
    good = run(claim_file(tmp_path, planted_mlp, PATCH_MLP, "  kind: top_component\n  component: L2.mlp",
                          families="[arithmetic, code_semantics]", prompts=4), tmp_path)
    assert good["verdict"] == "supported", good["reasons"]
    assert good["evidence"]["metric"] == "recovery"
    bad = run(claim_file(tmp_path, planted_mlp, PATCH_MLP, "  kind: top_component\n  component: L0.mlp",
                         families="[arithmetic, code_semantics]", prompts=4, name="bad"), tmp_path)
    assert bad["verdict"] == "refuted"


PAIR_SUITE = """\
name: pairs
version: 1
families:
  animals:
    prompts: [{id: a-0, prompt: "x", answer: "y"}]
pairs:
  animals:
    - {id: p0, clean: "The cat sat. Say it:", clean_answer: "cat", corrupt: "The horse sat. Say it:", corrupt_answer: "horse"}
    - {id: p1, clean: "The dog ran. Say it:", clean_answer: "dog", corrupt: "The sheep ran. Say it:", corrupt_answer: "sheep"}
"""


def test_misaligned_pairs_are_refused_with_both_tokenizations_and_never_pass(tmp_path, planted_mlp):  # noqa: F811
    suite = tmp_path / "pairs.yaml"
    suite.write_text(PAIR_SUITE)
    rec = run(claim_file(tmp_path, planted_mlp, PATCH_MLP, "  kind: top_component\n  component: L2.mlp",
                         families="[animals]", prompts=2, seeds="[1]", suite=suite), tmp_path)
    assert rec["verdict"] == "errored" and "2 refused" in rec["reasons"][0]
    # the refusals are recorded in the ledger record's evidence? errored runs keep only the error,
    # so check the builder's message directly
    from audit.evidence.patching import _encode_pair
    from audit.suite import load_suite
    from tests.conftest import byte_tokenizer

    pair = load_suite(suite).suite.pairs["animals"][0]
    _, _, problem = _encode_pair(byte_tokenizer(), pair, False)
    assert "different lengths" in problem and "clean:" in problem and "corrupt:" in problem


def test_last_layer_residual_recovery_is_flagged_trivial(tmp_path, planted_mlp):  # noqa: F811
    spec = "  kind: patching\n  target: residual\n  layers: [0, 3]\n  positions: [last]\n  min_gap: 0.01"
    rec = run(claim_file(tmp_path, planted_mlp, spec, "  kind: top_component\n  component: L3@last",
                         families="[arithmetic]", prompts=4), tmp_path)
    assert rec["evidence"]["trivial"] == ["L3@last"]
    assert rec["verdict"] == "inconclusive" and "trivial" in " ".join(rec["reasons"])
    pooled = rec["summary"]["pooled"]
    assert pooled[1] == pytest.approx(1.0, abs=1e-4)  # full residual at the last layer: recovery is exactly 1


def test_uninformative_pairs_are_not_evidence(tmp_path, planted_mlp):  # noqa: F811
    rec = run(claim_file(tmp_path, planted_mlp, "  kind: patching\n  target: mlp\n  min_gap: 1000.0",
                         "  kind: top_component\n  component: L2.mlp", families="[arithmetic]", prompts=4), tmp_path)
    assert rec["verdict"] == "errored" and "no informative pairs" in rec["reasons"][0]
