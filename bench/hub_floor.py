"""Benchmark: the matmul floor of ``claims/smollm2_hub.yaml`` on this machine — how fast an exact
engine could run the claim's published plan if every linear layer ran at the measured matmul peak.

Reads the published record's prompt samples (so the plan is the claim's own), encodes them as the
claim does (chat template, batches of 16, the rows' shared prefix once per batch) and counts the
linear-layer FLOPs of the exact methods the engine uses:

- the sweep: one base pass plus, per ablated layer L, a replay of layers L..29 on the unshared tokens;
- the random-vector null: per seed, a base pass plus n draws each replaying layers 8..29;
- the answer-position unembedding of every pass.

Padding, attention scores, norms and Python overhead are left out, so this is a lower bound. The peak
is the best of a square float32 matmul on 1 thread (times the 2 worker processes) and on 2 threads.
Prints a table; last line ``hub_floor_seconds=<x> sweep_floor_seconds=<y> peak_gflops=<z>``.

    .venv/bin/python bench/hub_floor.py [--measured SECONDS]
"""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path

import torch

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from audit import ledger  # noqa: E402
from audit.encoding import batches, encode  # noqa: E402
from audit.models import load_model  # noqa: E402
from audit.schema import load_claim  # noqa: E402
from audit.suite import load_suite  # noqa: E402
from bench.layer_sweep import computed_tokens, layer_flops_per_token, matmul_peak_gflops  # noqa: E402
from interventions.engine import MIN_SHARED, shared_length  # noqa: E402

CLAIM = ROOT / "claims" / "smollm2_hub.yaml"


def published_samples(claim_id: str) -> dict:
    """``{seed: [prompt ids]}`` of the claim's latest published record."""
    records, _ = ledger.load(ROOT / "reports")
    record = ledger.latest_per_claim(records)[claim_id]
    return {int(s): sorted(p for ids in fams.values() for p in ids) for s, fams in record["evidence"]["samples"].items()}


def unshared_tokens(tok, encoded: list) -> tuple[int, int]:
    """Real tokens the engine computes over the claim's batches (a shared prefix once per batch) and
    the number of batches."""
    batched = batches(tok, encoded, batch_size=16)
    shared = [shared_length(b) for b in batched]
    return sum(computed_tokens(b, s if s >= MIN_SHARED else 0) for b, s in zip(batched, shared)), len(batched)


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--measured", type=float, help="a measured cold run time of the claim, to set beside the floor")
    args = ap.parse_args()
    lc = load_claim(CLAIM)
    claim = lc.claim
    layer, n_draws = claim.acceptance.layer, claim.controls.random_vector.n
    loaded = load_model(claim.model)
    model, tok = loaded.model, loaded.tokenizer
    config = model.config
    n_layers, hidden, vocab = config.num_hidden_layers, config.hidden_size, config.vocab_size
    per_token_layer = layer_flops_per_token(model)
    suite = load_suite(ROOT / "audit" / "suites" / f"{claim.suite.name}.yaml")
    by_id = {p.id: p for f in suite.family_names() for p in suite.prompts(f)}
    samples = published_samples(claim.id)

    def enc(ids):
        return [encode(tok, i, by_id[i].prompt, by_id[i].answer, claim.suite.chat_template) for i in ids]

    unique = sorted({i for ids in samples.values() for i in ids})
    sweep_tokens, sweep_batches = unshared_tokens(tok, enc(unique))
    sweep_passes = n_layers + sum(n_layers - l for l in range(n_layers))
    unembed = 2 * hidden * vocab
    sweep = sweep_tokens * per_token_layer * sweep_passes + len(unique) * (n_layers + 1) * unembed
    null = null_rows = 0
    for ids in samples.values():
        tokens, _ = unshared_tokens(tok, enc(ids))
        null += tokens * per_token_layer * (n_layers + n_draws * (n_layers - layer)) + len(ids) * (n_draws + 1) * unembed
        null_rows += len(ids)
    one, two = (matmul_peak_gflops(threads=t, reps=20, tries=3) for t in (1, 2))
    peak = max(2 * one, two)
    print(f"{claim.id}: {len(unique)} unique prompts ({sweep_tokens} unshared tokens in {sweep_batches} batches), "
          f"{n_layers} layers x {per_token_layer / 1e6:.2f} MFLOP/token; null: {null_rows} seed-prompts x {n_draws} "
          f"draws from layer {layer}; CPU load {os.getloadavg()[0]:.2f}")
    print(f"matmul peak float32: 1 thread {one:.1f} GFLOP/s (x2 processes {2 * one:.1f}), 2 threads {two:.1f}")
    print(f"{'part':28s} {'TFLOP':>8s} {'floor s':>8s}")
    for name, flops in (("layer sweep", sweep), ("random-vector null", null), ("claim", sweep + null)):
        print(f"{name:28s} {flops / 1e12:8.2f} {flops / peak / 1e9:8.1f}")
    if args.measured:
        print(f"measured {args.measured:.0f} s = {(sweep + null) / args.measured / 1e9:.1f} GFLOP/s "
              f"({100 * (sweep + null) / args.measured / 1e9 / peak:.0f}% of the peak)")
    print(f"hub_floor_seconds={(sweep + null) / peak / 1e9:.1f} sweep_floor_seconds={sweep / peak / 1e9:.1f} "
          f"peak_gflops={peak:.1f}")


if __name__ == "__main__":
    main()
