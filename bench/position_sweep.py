"""Benchmark: an answer-position head sweep (every head of every layer zeroed at the answer position
only) on SmolLM2-135M — a naive full forward per head against the prefix-cached answer-position run
(:func:`interventions.engine.answer_position_run`: earlier positions' keys and values reused, only
the answer token recomputed, from the ablated layer on).

One process, same prompts (``--per-family`` of each main-suite family; ``--chat-template`` renders
them as the claims do), KL(base || ablated) at the answer position. Prints a table and, as its last
line, ``position_speedup=<x> max_abs_diff=<y>`` (y: the largest |KL difference| over heads and prompts).

    .venv/bin/python bench/position_sweep.py [--per-family 4] [--chat-template] [--layers 30]

Measured (2 cores, idle): ``--per-family 2 --layers 6`` (24 prompts, 54 heads) — see the issue notes.
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import torch

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from audit.encoding import batches, encode  # noqa: E402
from audit.metrics import kl_divergence  # noqa: E402
from audit.models import load_model  # noqa: E402
from audit.suite import load_suite  # noqa: E402
from controls.seeds import sample_prompts  # noqa: E402
from interventions.architectures import adapter_for  # noqa: E402
from interventions.engine import answer_position_run, full_forward, trace_prefix  # noqa: E402
from interventions.hooks import Hook  # noqa: E402


def head_at_answer(model, layer: int, head: int, head_dim: int) -> Hook:
    """Zero one head's slice of the attention output projection's input at the last position."""
    def zero(module, args, kwargs):
        x = args[0].clone()
        x[:, -1, head * head_dim:(head + 1) * head_dim] = 0
        return (x, *args[1:]), kwargs
    return Hook(model.model.layers[layer].self_attn.o_proj, zero, f"L{layer}.H{head}@answer", pre=True)


def sweep(run, model, layers, heads, head_dim):
    """``run(layer, hooks)`` per head of every layer: [heads x layers, prompts, vocab]."""
    return torch.stack([run(layer, [head_at_answer(model, layer, h, head_dim)]) for layer in layers
                        for h in range(heads)])


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--per-family", type=int, default=4)
    ap.add_argument("--chat-template", action="store_true")
    ap.add_argument("--layers", type=int, default=30, help="sweep N layers spread evenly over the model (all 30 by "
                                                           "default; fewer keeps the naive loop short)")
    args = ap.parse_args()
    loaded = load_model("smollm2-135m")
    model, tok = loaded.model, loaded.tokenizer
    config, adapter = model.config, adapter_for(model)
    heads, head_dim = config.num_attention_heads, config.hidden_size // config.num_attention_heads
    n = config.num_hidden_layers
    layers = sorted({round(i * (n - 1) / max(1, args.layers - 1)) for i in range(min(args.layers, n))})
    suite = load_suite(ROOT / "audit" / "suites" / "main.yaml")
    samples = sample_prompts(suite, [42], suite.family_names(), args.per_family)[42]
    enc = [encode(tok, p.id, p.prompt, p.answer, use_chat=args.chat_template) for ps in samples.values() for p in ps]
    (batch,) = batches(tok, enc, batch_size=len(enc))
    base = full_forward(model, batch, [])

    t = time.perf_counter()
    naive = kl_divergence(base, sweep(lambda layer, hooks: full_forward(model, batch, hooks), model, layers, heads,
                                      head_dim))
    t_naive = time.perf_counter() - t
    t = time.perf_counter()
    prefix = trace_prefix(model, adapter, batch)
    fast = kl_divergence(base, sweep(lambda layer, hooks: answer_position_run(model, adapter, prefix, layer, hooks),
                                     model, layers, heads, head_dim))
    t_fast = time.perf_counter() - t
    diff = float((fast - naive).abs().max())
    tokens = int(batch.attention_mask.sum())
    print(f"SmolLM2-135M, {len(enc)} prompts{' (chat template)' if args.chat_template else ''}, {tokens} tokens "
          f"(padded width {batch.input_ids.shape[1]}), {len(layers)} layers x {heads} heads zeroed at the answer "
          f"position, threads={torch.get_num_threads()}, machine load {_load()}")
    print(f"{'method':46s} {'seconds':>8s} {'speedup':>8s} {'max|dKL|':>10s}")
    print(f"{'naive: full forward per head':46s} {t_naive:8.2f} {1.0:8.2f} {0.0:10.2e}")
    print(f"{'mi-audit: prefix cache + answer token per head':46s} {t_fast:8.2f} {t_naive / t_fast:8.2f} {diff:10.2e}")
    top = int(naive.mean(1).argmax())
    print(f"largest mean KL: L{layers[top // heads]}.H{top % heads} ({float(naive.mean(1).max()):.4g} nats); "
          f"same head by both: {top == int(fast.mean(1).argmax())}")
    print(f"position_speedup={t_naive / t_fast:.2f} max_abs_diff={diff:.2e}")


def _load() -> str:
    import os

    return " ".join(f"{x:.2f}" for x in os.getloadavg())


if __name__ == "__main__":
    main()
