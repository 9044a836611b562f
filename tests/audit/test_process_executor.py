"""The processes executor (audit/process_executor.py): timing tasks run alone after the others, a
worker process that dies ends the claim errored with nothing half-computed cached, and bad
``--workers`` is refused. (Every kind's evidence on it equals the local executor's:
tests/audit/test_every_kind_on_ray.py.)"""

import re

import pytest

from audit.cache import EvidenceCache
from audit.executor_choice import make_executor
from audit.executors import UnitFailed
from audit.process_executor import rounds
from audit.runner import RunOptions, run_claim
from audit.schema import load_claim
from audit.units import Task
from tests.conftest import write_claim


def test_timing_tasks_are_sent_alone_after_every_other_task():
    tasks = [Task("layer_skip.base"), Task("layer_skip.timing", {"i": 1}), Task("layer_skip.config"),
             Task("quantization.timing", {"i": 2})]
    assert [[t.op for t in r] for r in rounds(tasks)] == [
        ["layer_skip.base", "layer_skip.config"], ["layer_skip.timing"], ["quantization.timing"]]
    assert rounds([Task("quantization.timing")]) == [[Task("quantization.timing")]]
    assert rounds([]) == []


def test_a_worker_process_that_dies_ends_the_claim_errored_and_caches_nothing(tmp_path, tiny_dir):
    model = tiny_dir("proc_llama", "llama", hub=2)
    lc = load_claim(write_claim(tmp_path / "hub.yaml", model=str(model), layer=2, seeds=(1, 2), prompts=4))
    executor = make_executor("processes", workers=2, fault={"marker": str(tmp_path / "m"), "mode": "always"})
    try:
        rec = run_claim(lc, RunOptions(evidence_cache=EvidenceCache(tmp_path / "c"), executor=executor, batch_size=2))
    finally:
        executor.close()
    assert rec["verdict"] == "errored" and rec["exit_code"] == 3
    assert re.search(r"evidence unit \(.+\): a worker process died", rec["reasons"][0]), rec["reasons"]
    assert not list((tmp_path / "c").rglob("*.json"))


@pytest.mark.parametrize("workers", [0, -1])
def test_a_worker_count_below_one_is_refused(workers):
    with pytest.raises(UnitFailed, match=f"--workers {workers}: expected at least 1"):
        make_executor("processes", workers=workers)
