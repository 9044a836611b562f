"""Executors: a local Ray instance gives the same verdicts and ledger as the local executor (every
kind's plan of units); a worker killed mid-unit is restarted and the unit retried;
exhausted retries make the claim errored; the driver alone writes the cache, adapters included."""

import importlib.util
import re

import pytest

from audit.cache import EvidenceCache
from audit.executor_choice import make_executor
from audit.executors import LocalExecutor
from audit.runner import RunOptions, run_claim
from audit.schema import load_claim
from tests.conftest import write_claim
from tests.lora_planted import PLACEMENTS, build_planted, lora_claim

pytestmark = pytest.mark.skipif(importlib.util.find_spec("ray") is None,
                                reason="needs the optional extra mi-audit[ray] (make test installs it)")

VOLATILE = {"run_id", "started_at", "finished_at"}
VOLATILE_PROV = {"wall_time_s", "evidence_cache", "executor", "weights_loaded"}  # Ray: the driver never loads them


def comparable(rec: dict) -> dict:
    """A record without what legitimately differs between two runs (ids, times, memory, executor)."""
    out = {k: v for k, v in rec.items() if k not in VOLATILE}
    out["provenance"] = {k: v for k, v in rec["provenance"].items() if k not in VOLATILE_PROV}
    out["evidence"] = {k: v for k, v in rec["evidence"].items() if k != "resources"}
    return out


@pytest.fixture(scope="module")
def claims(tmp_path_factory, tiny_dir):
    d = tmp_path_factory.mktemp("claims")
    llama, qwen = tiny_dir("ray_llama", "llama", hub=2), tiny_dir("ray_qwen", "qwen2", hub=1)
    return [load_claim(write_claim(d / "llama_hub.yaml", model=str(llama), layer=2, seeds=(1, 2), prompts=4)),
            load_claim(write_claim(d / "qwen_hub.yaml", model=str(qwen), layer=1, seeds=(1, 2), prompts=4)),
            load_claim(write_claim(d / "llama_wrong.yaml", model=str(llama), layer=0, seeds=(1, 2), prompts=4,
                                   expect="refuted"))]


def run_all(claims, executor, cache_dir):
    options = RunOptions(evidence_cache=EvidenceCache(cache_dir), executor=executor, batch_size=2)
    return [run_claim(lc, options) for lc in claims]


def test_ray_gives_the_local_executors_verdicts_and_evidence(ray_local, claims, tmp_path):
    local = run_all(claims, LocalExecutor(), tmp_path / "local")
    executor = make_executor("ray", max_retries=1)
    try:
        remote = run_all(claims, executor, tmp_path / "ray")
        stats = executor.worker_stats()
    finally:
        executor.close()
    assert [r["verdict"] for r in local] == ["supported", "supported", "refuted"]
    assert [comparable(r) for r in remote] == [comparable(r) for r in local]
    assert remote[0]["provenance"]["executor"]["executor"] == "ray"
    assert len(stats) == 2 and sum(s["units"] for s in stats) > 0  # three claims, two models: two workers
    # the driver wrote the cache: a second run computes nothing
    again = run_all(claims[:1], LocalExecutor(), tmp_path / "ray")[0]
    assert again["evidence"]["n_prompts"]["computed"] == 0
    assert again["evidence"]["effects"] == local[0]["evidence"]["effects"] and again["verdict"] == local[0]["verdict"]


def test_a_worker_killed_mid_unit_is_restarted_and_the_unit_retried(ray_local, claims, tmp_path):
    marker = tmp_path / "crashed-once"
    executor = make_executor("ray", max_retries=2, fault={"marker": str(marker), "mode": "once"})
    try:
        rec = run_all(claims[:1], executor, tmp_path / "c")[0]
    finally:
        executor.close()
    assert marker.exists()  # the worker did die mid-unit
    assert rec["verdict"] == "supported"
    local = run_all(claims[:1], LocalExecutor(), tmp_path / "l")[0]
    assert comparable(rec) == comparable(local)


def test_exhausted_retries_end_the_claim_errored_with_the_units_error(ray_local, claims, tmp_path):
    executor = make_executor("ray", max_retries=1, fault={"marker": str(tmp_path / "m"), "mode": "always"})
    try:
        rec = run_all(claims[1:2], executor, tmp_path / "c")[0]
    finally:
        executor.close()
    assert rec["verdict"] == "errored" and rec["exit_code"] == 3
    assert re.search(r"evidence unit \(batch of \d+ prompts: \S+.*\) failed after 1 retries on Ray", rec["reasons"][0])
    assert not list((tmp_path / "c").rglob("*.json"))  # nothing half-computed was cached


def test_a_sweep_spreads_over_the_workers_of_one_model(ray_local, claims, tmp_path):
    local = run_all(claims[:1], LocalExecutor(), tmp_path / "local")[0]
    executor = make_executor("ray", max_retries=1, workers_per_model=2)
    try:
        remote = run_all(claims[:1], executor, tmp_path / "ray")[0]
        stats = executor.worker_stats()
    finally:
        executor.close()
    assert len(stats) == 2 and len({s["pid"] for s in stats}) == 2 and all(s["units"] > 0 for s in stats)
    assert comparable(remote) == comparable(local)


@pytest.fixture(scope="module")
def lora_claim_file(tmp_path_factory):
    d = build_planted(tmp_path_factory.mktemp("lora"))
    return lora_claim(d, "ray_lora", PLACEMENTS, "{kind: lora_efficiency, candidate: atlas, reference: all, "
                      "control: random, min_param_ratio: 5, max_exact_match_gap: 0.2, min_margin_over_control: 0.5}",
                      seeds="[1]")  # one training run: inconclusive by rule (seeds are the unit), computed all the same


def trained_rows(rec: dict) -> dict:
    """What training determines (not its wall time, memory or cache status)."""
    keep = ("trainable_params", "losses", "exact_match", "answer_nll", "kl_drift", "examples")
    return {name: [{k: r[k] for k in keep} for r in rows] for name, rows in rec["evidence"]["results"].items()}


def test_a_training_claim_runs_as_units_on_a_worker_and_the_driver_writes_its_adapters(ray_local, lora_claim_file,
                                                                                       tmp_path):
    from interventions.lora_training import TRAININGS

    local = run_all([lora_claim_file], LocalExecutor(), tmp_path / "local")[0]
    before = TRAININGS["count"]
    executor = make_executor("ray", max_retries=1)
    try:
        remote = run_all([lora_claim_file], executor, tmp_path / "ray")[0]
        stats = executor.worker_stats()
    finally:
        executor.close()
    # a baseline and an adapter per placement (three), each its own unit (plus the atlas dependency's
    # sweep batches), trained on the worker, not here
    assert TRAININGS["count"] == before and stats[0]["units"] >= 1 + 3
    assert remote["verdict"] == local["verdict"] == "inconclusive", remote["reasons"]
    assert "one seed" in " ".join(remote["reasons"]) and remote["reasons"] == local["reasons"]
    assert trained_rows(remote) == trained_rows(local)
    assert remote["evidence"]["dependencies"] == local["evidence"]["dependencies"]
    assert remote["provenance"]["evidence_cache"]["writes"] > 0  # the worker's units, written by the driver
    assert list((tmp_path / "ray" / "adapters").glob("*/adapter_model.safetensors"))
    again = run_all([lora_claim_file], LocalExecutor(), tmp_path / "ray")[0]  # the Ray run's cache, read here
    assert TRAININGS["count"] == before  # nothing retrained: adapters and metrics came back complete
    assert all(r["from_cache"] for rows in again["evidence"]["results"].values() for r in rows)
    assert trained_rows(again) == trained_rows(local)


def test_a_worker_killed_inside_a_claim_unit_is_retried(ray_local, lora_claim_file, tmp_path):
    marker = tmp_path / "crashed-once"
    executor = make_executor("ray", max_retries=2, fault={"marker": str(marker), "mode": "once"})
    try:
        rec = run_all([lora_claim_file], executor, tmp_path / "c")[0]
    finally:
        executor.close()
    assert marker.exists() and rec["verdict"] == "inconclusive" and "one seed" in " ".join(rec["reasons"])


def test_a_claim_unit_that_keeps_failing_is_errored_and_writes_nothing(ray_local, lora_claim_file, tmp_path):
    executor = make_executor("ray", max_retries=1, fault={"marker": str(tmp_path / "m"), "mode": "always"})
    try:
        rec = run_all([lora_claim_file], executor, tmp_path / "c")[0]
    finally:
        executor.close()
    assert rec["verdict"] == "errored"
    assert re.search(r"evidence unit \(baseline on \d+ held-out prompts\) failed after 1 retries on Ray",
                     rec["reasons"][0]), rec["reasons"]
    assert not (tmp_path / "c").exists() or not any(p.is_file() for p in (tmp_path / "c").rglob("*"))


@pytest.mark.skipif(not __import__("torch").cuda.is_available(), reason="no CUDA GPU on this machine")
def test_cuda_run_matches_cpu_verdict(claims, tmp_path):  # pragma: no cover - runs where a GPU exists
    cpu = run_claim(claims[0], RunOptions(evidence_cache=EvidenceCache(tmp_path / "a")))
    gpu = run_claim(claims[0], RunOptions(device="cuda", evidence_cache=EvidenceCache(tmp_path / "b")))
    assert gpu["provenance"]["device"] == "cuda" and gpu["verdict"] == cpu["verdict"]

