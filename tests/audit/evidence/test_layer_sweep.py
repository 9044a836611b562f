"""Layer-sweep evidence: bfloat16 runs report their deviation from float32."""

from audit.cache import EvidenceCache
from audit.runner import RunOptions, run_claim
from audit.schema import load_claim
from tests.conftest import write_claim


def test_bfloat16_run_reports_kl_deviation_from_float32(tmp_path, tiny_dir):
    model = tiny_dir("dtype_llama", "llama", hub=2)
    claim = load_claim(write_claim(tmp_path / "c.yaml", model=model, layer=2, prompts=2))
    rec32 = run_claim(claim, RunOptions(evidence_cache=EvidenceCache(tmp_path / "c32")))
    rec16 = run_claim(claim, RunOptions(dtype="bfloat16", evidence_cache=EvidenceCache(tmp_path / "c16")))
    assert rec32["evidence"]["dtype_check"] is None
    check = rec16["evidence"]["dtype_check"]
    assert check["dtype"] == "bfloat16" and check["n_prompts"] > 0
    assert 0 < check["mean_kl"] <= check["max_kl"] < 1.0
    assert rec16["provenance"]["dtype"] == "bfloat16"
    assert rec16["summary"]["top_layer"] == rec32["summary"]["top_layer"] == 2


def test_trace_budget_shrinks_batches_then_recomputes_with_equal_results(tmp_path, tiny_dir):
    model = tiny_dir("dtype_llama", "llama", hub=2)
    claim = load_claim(write_claim(tmp_path / "c.yaml", model=model, layer=2, prompts=3))
    roomy = run_claim(claim, RunOptions(evidence_cache=EvidenceCache(tmp_path / "a")))
    tight = run_claim(claim, RunOptions(trace_budget_mb=0, evidence_cache=EvidenceCache(tmp_path / "b")))
    assert roomy["evidence"]["resources"]["prefix_reuse"] is True
    assert tight["evidence"]["resources"]["prefix_reuse"] is False
    assert roomy["evidence"]["resources"]["peak_rss_mb"] > 0
    a, b = roomy["evidence"]["effects"]["kl"], tight["evidence"]["effects"]["kl"]
    assert all(abs(x - y) < 1e-4 for s1, s2 in zip(a, b) for f1, f2 in zip(s1, s2) for x, y in zip(f1, f2))
