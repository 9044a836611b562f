"""Kill -9 a real `audit run` mid-run, run it again: it resumes, the ledger stays clean, and the
verdicts and evidence equal an uninterrupted run. Concurrent runs are serialized by a lock."""

import json
import os
import signal
import subprocess
import sys
import threading
import time

from filelock import FileLock

from tests.conftest import REPO, write_claim


def audit(args, cache, **kw):
    env = {**os.environ, "MI_AUDIT_EVIDENCE_CACHE": str(cache)}
    return subprocess.Popen([sys.executable, "-m", "audit.cli", *map(str, args)], cwd=REPO, env=env,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, **kw)


def ledger_lines(out):
    path = out / "ledger.jsonl"
    return path.read_text().splitlines() if path.exists() else []


def test_kill_mid_run_then_resume_matches_uninterrupted(tmp_path, tiny_dir):
    model = tiny_dir("durable_qwen", "qwen2", hub=3, n_layers=8)
    big = ("arithmetic", "copying", "json_schema", "factual_recall", "code_syntax", "dead_code")
    claims = [write_claim(tmp_path / f"c{i}.yaml", model=model, layer=layer, prompts=n, families=fams)
              for i, (layer, n, fams) in enumerate([(3, 2, ("arithmetic",)), (5, 30, big), (3, 2, ("copying",))])]

    reference = tmp_path / "reference"
    proc = audit(["run", *claims, "--out", reference], tmp_path / "cache_ref")
    proc.communicate(timeout=600)

    out, cache = tmp_path / "out", tmp_path / "cache"
    proc = audit(["run", *claims, "--out", out], cache)
    deadline = time.time() + 300
    while len(ledger_lines(out)) < 1 and time.time() < deadline and proc.poll() is None:
        time.sleep(0.05)
    # the first claim is recorded; the second (large) one is mid-sweep
    killed_mid_run = proc.poll() is None
    proc.send_signal(signal.SIGKILL)
    proc.communicate()
    lines_after_kill = len(ledger_lines(out))
    assert killed_mid_run and 1 <= lines_after_kill < 3

    proc = audit(["run", *claims, "--out", out], cache)
    stdout, stderr = proc.communicate(timeout=600)
    assert "resuming an interrupted run" in stderr
    lines = ledger_lines(out)
    records = [json.loads(line) for line in lines]  # every line is complete JSON
    assert len(records) == 3 and len({r["run_id"] for r in records}) == 3
    assert [r["claim_id"] for r in records] == ["c0", "c1", "c2"]
    ref = [json.loads(line) for line in ledger_lines(reference)]
    assert [r["verdict"] for r in records] == [r["verdict"] for r in ref] == ["supported", "refuted", "supported"]
    assert [r["evidence"]["effects"] for r in records] == [r["evidence"]["effects"] for r in ref]
    assert not (out / ".journal").exists() or not any((out / ".journal").iterdir())


def test_concurrent_run_waits_for_the_lock(tmp_path, tiny_dir):
    model = tiny_dir("durable_qwen", "qwen2", hub=3, n_layers=8)
    claim = write_claim(tmp_path / "c.yaml", model=model, layer=3, prompts=2, families=("arithmetic",))
    out = tmp_path / "out"
    out.mkdir()
    lock = FileLock(str(out / ".lock"))
    lock.acquire()
    proc = audit(["run", claim, "--out", out], tmp_path / "cache")
    lines: list[str] = []
    reader = threading.Thread(target=lambda: lines.extend(proc.stderr), daemon=True)
    reader.start()
    deadline = time.monotonic() + 180  # start-up (imports) is slow on a loaded machine: wait for the message
    while not any("waiting for it to finish" in line for line in lines) and time.monotonic() < deadline:
        assert proc.poll() is None, "".join(lines)  # waiting, not failing
        time.sleep(0.2)
    assert any("waiting for it to finish" in line for line in lines), "".join(lines)
    time.sleep(1)
    assert proc.poll() is None and not ledger_lines(out)  # still waiting, nothing written
    lock.release()
    assert proc.wait(timeout=300) == 0
    reader.join(timeout=10)
    assert len(ledger_lines(out)) == 1


def test_a_kill_between_journal_and_ledger_reruns_the_claim_once(tmp_path, tiny_dir):
    """The journal notes a run id just before the ledger append: killed in between, the ledger
    lacks that record, so the resumed run runs the claim again and records it exactly once."""
    from audit.cli import expand_claim_paths
    from audit.journal import Journal

    model = tiny_dir("durable_qwen", "qwen2", hub=3, n_layers=8)
    claims = [write_claim(tmp_path / f"j{i}.yaml", model=model, layer=3, prompts=2, families=("arithmetic",))
              for i in range(2)]
    out = tmp_path / "out"
    files = [f for f, _ in expand_claim_paths(claims)]
    Journal(out, files, {"model": None, "dtype": "float32", "download": False}).mark(files[0], "killed-before-append")
    proc = audit(["run", *claims, "--out", out], tmp_path / "cache")
    _, stderr = proc.communicate(timeout=300)
    assert proc.returncode == 0, stderr
    assert "resuming an interrupted run (0 claim(s) already recorded)" in stderr
    records = [json.loads(line) for line in ledger_lines(out)]
    assert [r["claim_id"] for r in records] == ["j0", "j1"]
    assert not any((out / ".journal").iterdir())
