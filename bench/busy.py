"""Benchmark: a layer-sweep claim alone and next to a CPU-bound competitor, on each executor.

One process runs the same claim (a 30-layer skip sweep of SmolLM2-135M on 4 prompts per family,
one seed, no evidence cache) through ``audit.runner.run_claim`` four ways: the ``local`` executor
with mi-audit's thread policy (``audit.threads``), alone and with a competitor process the script
starts (the policy re-chooses after it starts), and the ``processes`` executor (one
single-threaded worker process per core, ``audit.process_executor``), alone and with the
competitor. ``--torch-default`` adds the local executor with torch's default of one thread per
core next to the competitor (the oversubscription the policy avoids; slow). Prints a table and,
as its last line, ``busy_slowdown=<x>`` (competitor / alone, processes executor; target <= 1.5);
the line before it gives the local executor's.

    .venv/bin/python bench/busy.py [--per-family 4] [--batch-size 8] [--chat-template] [--tiny]

``--tiny`` runs on a small random model (a smoke test of the script, not a measurement).
Run it on an otherwise idle machine: the point is the competitor the script starts.
"""

from __future__ import annotations

import argparse
import multiprocessing
import os
import sys
import tempfile
import time
from pathlib import Path

import torch

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from audit import threads  # noqa: E402
from audit.cache import EvidenceCache  # noqa: E402
from audit.executor_choice import make_executor  # noqa: E402
from audit.runner import RunOptions, run_claim  # noqa: E402
from audit.schema import load_claim  # noqa: E402


def _spin() -> None:  # the competitor: one core kept busy until killed
    while True:
        pass


def sweep_claim(directory: Path, args) -> object:
    """The timed claim: every layer skipped, KL at the answer position, one seed."""
    model = "smollm2-135m"
    if args.tiny:
        from tests.conftest import tiny_model

        model = str(directory / "tiny")
        m, tok = tiny_model("llama", n_layers=8, hidden=256)
        m.save_pretrained(model)
        tok.save_pretrained(model)
    path = directory / "busy_sweep.yaml"
    path.write_text(f"""\
id: busy_sweep
statement: "Benchmark workload: a layer skip sweep."
model: {model}
suite: {{name: main, families: all, prompts_per_family: {args.per_family},
        chat_template: {str(args.chat_template and not args.tiny).lower()}}}
intervention: {{kind: layer_ablation, method: skip, layers: all}}
metric: {{kind: kl}}
controls: {{seeds: [42]}}
acceptance: {{kind: hub, layer: 0, min_family_fraction: 0.5}}
""")
    return load_claim(path)


def numbers(value) -> list[float]:
    """Every number in a nested evidence value, in order."""
    if isinstance(value, dict):
        return [x for k in sorted(value) for x in numbers(value[k])]
    if isinstance(value, list):
        return [x for v in value for x in numbers(v)]
    return [float(value)] if isinstance(value, (int, float)) and not isinstance(value, bool) else []


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--per-family", type=int, default=4)
    ap.add_argument("--batch-size", type=int, default=8, help="prompts per unit (a unit per worker at a time)")
    ap.add_argument("--chat-template", action="store_true")
    ap.add_argument("--torch-default", action="store_true", help="also time torch's default threads under load")
    ap.add_argument("--tiny", action="store_true")
    args = ap.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        lc = sweep_claim(Path(tmp), args)
        os.environ.pop(threads.ENV, None)  # the policy's own choice is measured (the tiny fixtures pin it)
        local, pool = make_executor("local"), make_executor("processes")
        cores = threads.available_cores()
        rows, effects = [], {}

        def timed(name, executor, n_threads, why):
            torch.set_num_threads(n_threads)
            t = time.perf_counter()
            rec = run_claim(lc, RunOptions(evidence_cache=EvidenceCache(enabled=False), executor=executor,
                                           batch_size=args.batch_size))
            rows.append((name, why, time.perf_counter() - t))
            effects[name] = rec["evidence"]["effects"]
            return rows[-1][2]

        try:
            n_alone, why_alone = threads.choose(None)
            timed("warm-up", pool, n_alone, "")  # workers start and load the weights; kernels warm
            rows.pop()
            alone_local = timed("local, alone", local, n_alone, why_alone)
            alone_pool = timed("processes, alone", pool, n_alone, f"{pool.workers} workers x 1 thread")
            competitor = multiprocessing.get_context("spawn").Process(target=_spin, daemon=True)
            competitor.start()
            try:
                time.sleep(0.5)
                n_busy, why_busy = threads.choose(None)
                busy_local = timed("local, with competitor", local, n_busy, why_busy)
                busy_pool = timed("processes, with competitor", pool, n_busy, f"{pool.workers} workers x 1 thread")
                if args.torch_default:
                    timed("local, with competitor, torch default", local, cores, f"{cores} threads")
            finally:
                competitor.kill()
                competitor.join()
        finally:
            pool.close()
    reference = numbers(effects["local, alone"])
    diff = max(abs(a - b) for name in effects for a, b in zip(numbers(effects[name]), reference))
    print(f"{'tiny random model' if args.tiny else 'SmolLM2-135M'}, {lc.claim.suite.prompts_per_family} prompts "
          f"per family, batches of {args.batch_size}, layer skip sweep, {cores} core(s)")
    print(f"{'run':40s} {'threads':46s} {'seconds':>8s} {'vs alone':>8s}")
    for name, why, secs in rows:
        base = alone_pool if name.startswith("processes") else alone_local
        print(f"{name:40s} {why:46s} {secs:8.2f} {secs / base:8.2f}")
    print(f"processes alone vs local alone: {alone_local / alone_pool:.2f}x; max |d effect| across runs {diff:.2e}")
    print(f"local_busy_slowdown={busy_local / alone_local:.2f}")
    print(f"busy_slowdown={busy_pool / alone_pool:.2f}")


if __name__ == "__main__":
    main()
