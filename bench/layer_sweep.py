"""Benchmark: 30-layer skip-ablation sweep on SmolLM2-135M, naive hook loop vs the mi-audit engine.

One process, same prompts (4 per family of the main suite = 48; ``--chat-template`` renders them
as the claims do), KL at the answer position. Peers run side by side when installed (the ``bench``
extra: nnsight, the same skip written as an nnsight intervention; TransformerLens is not timed: its
dependencies, wandb, datasets, pandas and others, would join the product's environment). Prints a table and, as its last line,
``speedup_vs_naive=<x> max_abs_kl_diff=<y> bf16_speedup_vs_naive=<z>``.

    .venv/bin/python bench/layer_sweep.py [--repeats 1] [--per-family 4] [--chat-template]
"""

from __future__ import annotations

import argparse
import resource
import sys
import time
from pathlib import Path

import torch

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from audit.encoding import batches, encode  # noqa: E402
from audit.models import load_model  # noqa: E402
from audit.suite import load_suite  # noqa: E402
from controls.seeds import sample_prompts  # noqa: E402
from interventions.architectures import adapter_for  # noqa: E402
from interventions.engine import MIN_SHARED, replay, shared_length, trace_base, trace_shared  # noqa: E402
from interventions.hooks import hidden_input, hooked, replace_output, Hook  # noqa: E402
from interventions.layer_ablation import LayerAblation  # noqa: E402


def kl_rows(base, other):
    return (base.exp() * (base - other)).sum(-1)


def naive_sweep(model, batch, n_layers):
    """What a one-off script does: a full forward pass (all positions, full vocab) per ablated layer."""
    with torch.inference_mode():
        base = torch.log_softmax(model(input_ids=batch.input_ids, attention_mask=batch.attention_mask,
                                       position_ids=batch.position_ids).logits[:, -1].float(), -1)
        out = []
        for layer in range(n_layers):
            skip = Hook(model.model.layers[layer], lambda m, a, k, o: replace_output(o, hidden_input(a, k)), "skip")
            with hooked([skip]):
                logits = model(input_ids=batch.input_ids, attention_mask=batch.attention_mask,
                               position_ids=batch.position_ids).logits
            out.append(kl_rows(base, torch.log_softmax(logits[:, -1].float(), -1)))
    return torch.stack(out)


def nnsight_sweep(model, batch, n_layers):
    """The same skip sweep written with nnsight (a peer): one traced full forward per ablated layer,
    the layer's output set to its input."""
    from nnsight import NNsight

    traced = NNsight(model)
    with torch.inference_mode():
        base = torch.log_softmax(model(input_ids=batch.input_ids, attention_mask=batch.attention_mask,
                                       position_ids=batch.position_ids).logits[:, -1].float(), -1)
        out = []
        for layer in range(n_layers):
            with traced.trace(input_ids=batch.input_ids, attention_mask=batch.attention_mask,
                              position_ids=batch.position_ids):
                target = traced.model.layers[layer]
                args, kwargs = target.inputs
                hidden = kwargs.get("hidden_states")
                target.output = args[0] if hidden is None else hidden
                logits = traced.lm_head.output[:, -1].save()
            out.append(kl_rows(base, torch.log_softmax(logits.float(), -1)))
    return torch.stack(out)


def peers() -> dict:
    """``{row name: sweep function}`` of the peers installed here."""
    import importlib.util

    return {"nnsight trace (float32)": nnsight_sweep} if importlib.util.find_spec("nnsight") else {}


def engine_sweep(model, adapter, batch, n_layers, share_prefix=True):
    """The product's path: a base trace (the rows' shared prefix run once when there is one) and a
    replay from each ablated layer."""
    spec = LayerAblation(kind="layer_ablation", method="skip")
    trace = (share_prefix and trace_shared(model, adapter, batch)) or trace_base(model, adapter, batch)
    return torch.stack([kl_rows(trace.logprobs, replay(model, adapter, trace, layer, spec.hooks(adapter, model, layer)))
                        for layer in range(n_layers)])


def timed(fn, repeats):
    best, result = float("inf"), None
    for _ in range(repeats):
        t = time.perf_counter()
        result = fn()
        best = min(best, time.perf_counter() - t)
    return best, result


def matmul_peak_gflops(dtype=torch.float32, n=1024, reps=10, threads=None, tries=1):
    """A square matmul's rate (best of ``tries``), on ``threads`` intra-op threads when given."""
    before = torch.get_num_threads()
    if threads:
        torch.set_num_threads(threads)
    a, b = torch.randn(n, n, dtype=dtype), torch.randn(n, n, dtype=dtype)
    a @ b
    best = 0.0
    for _ in range(tries):
        t = time.perf_counter()
        for _ in range(reps):
            a @ b
        best = max(best, 2 * n ** 3 * reps / (time.perf_counter() - t) / 1e9)
    torch.set_num_threads(before)
    return best


def computed_tokens(batch, shared=0):
    """Real tokens a pass over ``batch`` computes: every row's, a prefix the rows share once for them all."""
    return int(batch.attention_mask.sum()) - shared * (batch.input_ids.shape[0] - 1)


def layer_flops_per_token(model):
    """Linear-layer FLOPs of one decoder layer per token (attention scores are small here)."""
    return sum(2 * p.numel() for p in model.model.layers[0].parameters() if p.dim() == 2)


def sweep_flops(model, batch, n_layers, shared=0):
    """Matmul FLOPs of the prefix-reusing sweep (linear layers only): every computed token once per pass."""
    tokens = computed_tokens(batch, shared)
    per_layer = layer_flops_per_token(model)
    layer_passes = n_layers + sum(n_layers - layer for layer in range(n_layers))
    return tokens * per_layer * layer_passes


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--repeats", type=int, default=1)
    ap.add_argument("--per-family", type=int, default=4)
    ap.add_argument("--chat-template", action="store_true", help="render prompts with the chat template")
    ap.add_argument("--batch-size", type=int, default=16, help="prompts per batch (the claims' default: 16)")
    args = ap.parse_args()
    loaded = load_model("smollm2-135m")
    model, tok = loaded.model, loaded.tokenizer
    adapter = adapter_for(model)
    suite = load_suite(ROOT / "audit" / "suites" / "main.yaml")
    samples = sample_prompts(suite, [42], suite.family_names(), args.per_family)[42]
    enc = [encode(tok, p.id, p.prompt, p.answer, use_chat=args.chat_template) for ps in samples.values() for p in ps]
    batched = batches(tok, enc, batch_size=args.batch_size)  # the claims' batching: by length
    n_layers = len(adapter.layers(model))

    def over_batches(sweep):
        return lambda: torch.cat([sweep(b) for b in batched], dim=1)  # (layers, prompts)

    rows = []
    t_naive, kl_naive = timed(over_batches(lambda b: naive_sweep(model, b, n_layers)), args.repeats)
    rows.append(("naive HF hook loop (float32)", t_naive, 0.0))
    t_engine, kl_engine = timed(over_batches(lambda b: engine_sweep(model, adapter, b, n_layers)), args.repeats)
    max_diff = float((kl_engine - kl_naive).abs().max())
    rows.append(("mi-audit engine (float32)", t_engine, max_diff))
    shared = min(shared_length(b) for b in batched)
    shared = shared if shared >= MIN_SHARED else 0
    if shared:
        t_unshared, kl_unshared = timed(over_batches(lambda b: engine_sweep(model, adapter, b, n_layers, False)),
                                        args.repeats)
        rows.append(("  same, prefix not shared", t_unshared, float((kl_unshared - kl_naive).abs().max())))
    for name, sweep in peers().items():
        t_peer, kl_peer = timed(over_batches(lambda b, sweep=sweep: sweep(model, b, n_layers)), args.repeats)
        rows.append((name, t_peer, float((kl_peer - kl_naive).abs().max())))
    model_bf16 = load_model("smollm2-135m", dtype="bfloat16").model
    t_bf16, kl_bf16 = timed(over_batches(lambda b: engine_sweep(model_bf16, adapter, b, n_layers)), args.repeats)
    bf16_dev = float((kl_bf16 - kl_naive).abs().max())
    rows.append(("mi-audit engine (bfloat16)", t_bf16, bf16_dev))
    hub32, hub16 = int(kl_engine.mean(1).argmax()), int(kl_bf16.mean(1).argmax())
    flops = sum(sweep_flops(model, b, n_layers, shared_length(b) if shared else 0) for b in batched)
    peak32, peak16 = matmul_peak_gflops(torch.float32), matmul_peak_gflops(torch.bfloat16)
    tokens = sum(int(b.attention_mask.sum()) for b in batched)
    padded = sum(b.input_ids.numel() for b in batched)
    print(f"SmolLM2-135M, {len(enc)} prompts{' (chat template)' if args.chat_template else ''} in {len(batched)} "
          f"batches, {tokens} tokens (mean {tokens / len(enc):.1f}/prompt, {padded} padded, a prefix of {shared} "
          f"shared by every row), {n_layers}-layer skip sweep, threads={torch.get_num_threads()}")
    print(f"{'method':34s} {'seconds':>8s} {'speedup':>8s} {'max|dKL|':>10s}")
    for name, secs, dev in rows:
        print(f"{name:34s} {secs:8.2f} {t_naive / secs:8.2f} {dev:10.2e}")
    print(f"hub float32 L{hub32}, hub bfloat16 L{hub16}; max |KL(bf16) - KL(fp32)| = {bf16_dev:.3e}")
    print(f"engine float32: {flops / t_engine / 1e9:.1f} GFLOP/s of {peak32:.1f} GFLOP/s matmul peak "
          f"({100 * flops / t_engine / 1e9 / peak32:.0f}%); bfloat16: {flops / t_bf16 / 1e9:.1f} of {peak16:.1f} GFLOP/s")
    print(f"peak RSS {resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024:.0f} MB")
    print(f"speedup_vs_naive={t_naive / t_engine:.2f} max_abs_kl_diff={max_diff:.2e} "
          f"bf16_speedup_vs_naive={t_naive / t_bf16:.2f}")


if __name__ == "__main__":
    main()
