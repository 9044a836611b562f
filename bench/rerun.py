"""Benchmark: the second run of an unchanged claim against the first (fresh evidence cache).

Runs ``claims/smollm2_hub.yaml`` twice in one process with an empty, temporary evidence cache:
the first run computes every unit, the second reads them (and never loads the weights).
Last line: ``rerun_speedup=<x>``.

    .venv/bin/python bench/rerun.py [claims/other.yaml]
"""

from __future__ import annotations

import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from audit.cache import EvidenceCache  # noqa: E402
from audit.runner import RunOptions, run_claim  # noqa: E402
from audit.schema import load_claim  # noqa: E402


def main() -> None:
    path = Path(sys.argv[1]) if len(sys.argv) > 1 else ROOT / "claims" / "smollm2_hub.yaml"
    claim = load_claim(path)
    with tempfile.TemporaryDirectory() as cache_dir:
        times, records = [], []
        for _ in range(2):
            cache = EvidenceCache(Path(cache_dir))
            t = time.perf_counter()
            records.append(run_claim(claim, RunOptions(evidence_cache=cache)))
            times.append(time.perf_counter() - t)
    first, second = records
    assert first["evidence"]["effects"] == second["evidence"]["effects"], "cached evidence differs"
    print(f"{claim.claim.id}: first run {times[0]:.2f} s ({first['evidence']['n_prompts']['computed']} prompts computed), "
          f"second run {times[1]:.2f} s ({second['evidence']['n_prompts']['from_cache']} from cache, "
          f"weights loaded: {second['provenance']['weights_loaded']}); verdicts {first['verdict']} / {second['verdict']}")
    print(f"rerun_speedup={times[0] / times[1]:.1f}")


if __name__ == "__main__":
    main()
