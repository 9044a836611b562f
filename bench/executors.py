"""Benchmark: the same claims on the local executor and on a local Ray instance, side by side.

Each executor runs every claim with a disabled evidence cache (everything computed), one after
the other in this process; prints wall time per claim and executor, whether verdicts and the
evidence that decides them are identical, and the Ray/local wall-time ratio. Default claims: one
sweep (units in batches) and two whole-claim units (patching, steering with its controls).
Last line: ``ray_over_local=<x> identical=<bool>``.

    .venv/bin/python bench/executors.py [--ray-workers N] [claims/a.yaml ...]
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from audit.cache import EvidenceCache  # noqa: E402
from audit.executor_choice import make_executor
from audit.executors import LocalExecutor  # noqa: E402
from audit.runner import RunOptions, run_claim  # noqa: E402
from audit.schema import load_claim  # noqa: E402

DEFAULT = ["claims/smollm2_hub.yaml", "claims/smollm2_patching.yaml", "claims/smollm2_steering_refusal.yaml"]
VOLATILE = {"resources", "timing", "protocol"}  # wall-clock and memory readings, not evidence


def decisive(rec: dict) -> dict:
    """What a verdict rests on: verdict, reasons, summary and the evidence without resource readings."""
    return {"verdict": rec["verdict"], "reasons": rec["reasons"], "summary": rec["summary"],
            "evidence": {k: v for k, v in rec["evidence"].items() if k not in VOLATILE}}


def run_all(claims: list, executor) -> tuple[list[dict], list[float]]:
    records, times = [], []
    for lc in claims:
        t = time.perf_counter()
        records.append(run_claim(lc, RunOptions(evidence_cache=EvidenceCache(enabled=False), executor=executor)))
        times.append(time.perf_counter() - t)
    return records, times


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("claims", nargs="*", default=DEFAULT)
    parser.add_argument("--ray-workers", type=int, default=1)
    args = parser.parse_args()
    claims = [load_claim(ROOT / c if not Path(c).is_absolute() else Path(c)) for c in args.claims]
    local, t_local = run_all(claims, LocalExecutor())
    ray = make_executor("ray", workers_per_model=args.ray_workers)
    try:
        remote, t_ray = run_all(claims, ray)
    finally:
        ray.close()
    same = True
    for lc, a, b, ta, tb in zip(claims, local, remote, t_local, t_ray):
        equal = decisive(a) == decisive(b)
        same &= equal
        print(f"{lc.claim.id}: local {ta:.1f} s, ray {tb:.1f} s ({tb / ta:.2f}x); verdicts {a['verdict']} / "
              f"{b['verdict']}; decisive evidence identical: {equal}")
    print(f"total: local {sum(t_local):.1f} s, ray {sum(t_ray):.1f} s ({args.ray_workers} worker(s) per model)")
    print(f"ray_over_local={sum(t_ray) / sum(t_local):.2f} identical={same}")


if __name__ == "__main__":
    main()
