"""Greedy generation, teacher-forced scoring and side-by-side timing, shared by the deployment
interventions (layer skipping, quantization). Generation is transformers' ``generate``."""

from __future__ import annotations

import time
from contextlib import nullcontext
from dataclasses import dataclass
from typing import Callable, ContextManager

import torch

from audit.metrics import kl_divergence
from interventions.engine import model_device
from interventions.steering import left_pad, position_ids


@dataclass
class Scored:
    """One teacher-forced continuation: the model's top-k token ids at every continuation position,
    the log-probabilities of the continuation's tokens, and the full distribution of the first."""

    topk: list[list[int]]
    token_logprobs: list[float]
    first_logprobs: torch.Tensor  # [vocab], float32


def cut_after_stop(ids: list[int], stop_ids: set[int]) -> list[int]:
    """A continuation up to and including its first stop token (never empty when ``ids`` is not)."""
    for i, t in enumerate(ids):
        if t in stop_ids:
            return ids[:i + 1]
    return ids


def stop_ids_of(tokenizer) -> set[int]:
    return {t for t in (tokenizer.eos_token_id, tokenizer.pad_token_id) if t is not None}


@torch.inference_mode()
def greedy(model, tokenizer, prompts: list[list[int]], max_new_tokens: int, batch_size: int,
           exact_length: bool = False) -> list[list[int]]:
    """Greedy continuations of each prompt, cut after the first stop token — unless ``exact_length``,
    which forces every row to produce ``max_new_tokens`` tokens (what a fair speed comparison needs)."""
    pad = tokenizer.pad_token_id if tokenizer.pad_token_id is not None else (tokenizer.eos_token_id or 0)
    out: list[list[int]] = [[] for _ in prompts]
    order = sorted(range(len(prompts)), key=lambda i: (len(prompts[i]), i))
    stops = stop_ids_of(tokenizer)
    for start in range(0, len(order), batch_size):
        rows = order[start:start + batch_size]
        ids, mask = left_pad(tokenizer, [prompts[i] for i in rows])
        device = model_device(model)
        gen = model.generate(input_ids=ids.to(device), attention_mask=mask.to(device), do_sample=False,
                             max_new_tokens=max_new_tokens, min_new_tokens=max_new_tokens if exact_length else 0,
                             pad_token_id=pad, top_p=None, top_k=None, temperature=None)
        for row, i in enumerate(rows):
            cont = gen[row, ids.shape[1]:].tolist()
            out[i] = cont if exact_length else cut_after_stop(cont, stops)
    return out


@torch.inference_mode()
def score(model, tokenizer, pairs: list[tuple[list[int], list[int]]], batch_size: int, k: int = 5) -> list[Scored]:
    """Teacher-force each (prompt, continuation) pair; continuations must be non-empty."""
    out: list[Scored | None] = [None] * len(pairs)
    order = sorted(range(len(pairs)), key=lambda i: (len(pairs[i][0]) + len(pairs[i][1]), i))
    for start in range(0, len(order), batch_size):
        rows = order[start:start + batch_size]
        seqs = [pairs[i][0] + pairs[i][1] for i in rows]
        ids, mask = left_pad(tokenizer, seqs)
        device = model_device(model)
        logits = model(input_ids=ids.to(device), attention_mask=mask.to(device),
                       position_ids=position_ids(mask).to(device)).logits.float()
        logprobs = logits.log_softmax(-1).cpu()
        width = ids.shape[1]
        for row, i in enumerate(rows):
            prompt, cont = pairs[i]
            if not cont:
                raise ValueError("score() needs a non-empty continuation")
            first = width - len(cont) - 1  # the position whose next token is cont[0]
            lp = logprobs[row, first:first + len(cont)]
            out[i] = Scored(lp.topk(k, dim=-1).indices.tolist(),
                            lp.gather(-1, torch.tensor(cont)[:, None]).squeeze(-1).tolist(), lp[0].clone())
    return out  # type: ignore[return-value]


def kl(p_logprobs: torch.Tensor, q_logprobs: torch.Tensor) -> float:
    """KL(p || q) in nats from log-probabilities."""
    return float(kl_divergence(p_logprobs, q_logprobs))


def topk_overlap(a: list[list[int]], b: list[list[int]]) -> float:
    """Mean fraction of shared top-k ids, position by position."""
    return sum(len(set(x) & set(y)) / len(x) for x, y in zip(a, b)) / len(a)


def timed_side_by_side(variants: dict[str, Callable[[], ContextManager]], work: Callable[[str], None],
                       repeats: int, warmup: int = 1) -> dict[str, list[float]]:
    """Wall seconds of ``work`` under each variant, interleaved: every repeat runs all variants (in
    a rotating order) so machine load affects them alike. Warm-up runs are not recorded."""
    names = list(variants)
    times: dict[str, list[float]] = {n: [] for n in names}
    for r in range(warmup + repeats):
        shift = r % len(names)
        for name in names[shift:] + names[:shift]:
            with variants[name]() if variants[name] else nullcontext():
                t0 = time.perf_counter()
                work(name)
                dt = time.perf_counter() - t0
            if r >= warmup:
                times[name].append(dt)
    return times
