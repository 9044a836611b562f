"""Benchmark: the layer sweep alone and next to a CPU-bound competitor, with mi-audit's thread
policy (``audit.threads``), and with torch's default thread count for comparison.

One process times the same 30-layer skip sweep (the engine of ``bench/layer_sweep.py``) three
ways: alone (policy threads), with a competitor process the script starts (policy threads, chosen
after the competitor runs), and with the competitor but torch's default of one thread per core
(the oversubscription the policy avoids). Prints a table and, as its last line,
``busy_slowdown=<x>`` (competitor / alone, both with the policy; target <= 1.5).

    .venv/bin/python bench/busy.py [--per-family 2] [--repeats 2] [--chat-template] [--tiny]

``--tiny`` runs on a small random model (a smoke test of the script, not a measurement).
Run it on an otherwise idle machine: the point is the competitor the script starts.
"""

from __future__ import annotations

import argparse
import multiprocessing
import sys
import time
from pathlib import Path

import torch

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from audit import threads  # noqa: E402
from bench.layer_sweep import engine_sweep, timed  # noqa: E402


def _spin() -> None:  # the competitor: one core kept busy until killed
    while True:
        pass


def workload(args):
    """(model, adapter, batch, n_layers) of the sweep to time."""
    from audit.encoding import batches, encode
    from audit.suite import load_suite
    from controls.seeds import sample_prompts
    from interventions.architectures import adapter_for

    if args.tiny:
        from tests.conftest import tiny_model

        model, tok = tiny_model("llama", n_layers=8, hidden=256)
    else:
        from audit.models import load_model

        loaded = load_model("smollm2-135m")
        model, tok = loaded.model, loaded.tokenizer
    suite = load_suite(ROOT / "audit" / "suites" / "main.yaml")
    samples = sample_prompts(suite, [42], suite.family_names(), args.per_family)[42]
    enc = [encode(tok, p.id, p.prompt, p.answer, use_chat=args.chat_template and not args.tiny)
           for ps in samples.values() for p in ps]
    (batch,) = batches(tok, enc, batch_size=len(enc))
    adapter = adapter_for(model)
    return model, adapter, batch, len(adapter.layers(model))


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--per-family", type=int, default=2)
    ap.add_argument("--repeats", type=int, default=2)
    ap.add_argument("--chat-template", action="store_true")
    ap.add_argument("--tiny", action="store_true")
    args = ap.parse_args()
    import os

    model, adapter, batch, n_layers = workload(args)
    os.environ.pop(threads.ENV, None)  # the policy's own choice is measured (the tiny fixtures pin it)

    def sweep():
        return engine_sweep(model, adapter, batch, n_layers)

    cores = threads.available_cores()
    n_alone, why_alone = threads.apply(None)
    sweep()  # warm-up (allocations, kernels)
    t_alone, kl_alone = timed(sweep, args.repeats)
    competitor = multiprocessing.get_context("spawn").Process(target=_spin, daemon=True)
    competitor.start()
    try:
        time.sleep(0.5)
        n_busy, why_busy = threads.apply(None)
        t_busy, kl_busy = timed(sweep, args.repeats)
        torch.set_num_threads(cores)
        t_default, _ = timed(sweep, args.repeats)
    finally:
        competitor.kill()
        competitor.join()
    diff = float((kl_busy - kl_alone).abs().max())
    print(f"{'tiny random model' if args.tiny else 'SmolLM2-135M'}, {batch.input_ids.shape[0]} prompts, "
          f"{n_layers}-layer skip sweep, {cores} core(s), best of {args.repeats}")
    print(f"{'run':44s} {'threads':>7s} {'seconds':>8s} {'vs alone':>8s}")
    for name, n, secs in (("alone, policy (" + why_alone + ")", n_alone, t_alone),
                          ("with competitor, policy (" + why_busy + ")", n_busy, t_busy),
                          ("with competitor, torch default", cores, t_default)):
        print(f"{name:44s} {n:7d} {secs:8.2f} {secs / t_alone:8.2f}")
    print(f"max |dKL| between thread counts: {diff:.2e}")
    print(f"busy_slowdown={t_busy / t_alone:.2f}")


if __name__ == "__main__":
    main()
