"""Ops of the deployment kinds (``layer_skip``, ``quantization``): quality of each variant on the
claim's prompts, and the side-by-side speed protocol, which times every variant interleaved in
one process (so one task holds all of them: ratios of runs under the same machine load)."""

from __future__ import annotations

from audit.inference import rounded
from audit.memory import PeakDuring
from audit.stats import mean, median
from audit.unit_ops import unit_op


def per_prompt_metrics(model, adapter, tok, pairs: dict, base: dict, skip: list[int], spec, batch_size: int,
                       outputs: bool = False) -> dict:
    """{prompt id: {top5_overlap, greedy_agreement, prefix_agreement, nll_increase}} for one config;
    ``outputs``: also the skipped model's own ``continuation`` and teacher-forced ``topk`` path (what
    the re-paired reference compares, audit/evidence/layer_skip_repaired.py)."""
    from interventions.generation import greedy, score, topk_overlap
    from interventions.layer_skip import removed_layers

    ids = sorted(pairs)
    with removed_layers(model, adapter, skip):
        gen = greedy(model, tok, [pairs[i][0] for i in ids], spec.max_new_tokens, batch_size)
        forced = forced_paths(model, tok, pairs, base, ids, batch_size)
        answer = score(model, tok, [pairs[i] for i in ids], batch_size)
    out = {}
    for i, g, f, a in zip(ids, gen, forced, answer):
        b = base[i]
        agree = 0
        while agree < min(len(g), len(b["continuation"])) and g[agree] == b["continuation"][agree]:
            agree += 1
        out[i] = dict(zip(("top5_overlap", "greedy_agreement", "prefix_agreement", "nll_increase"), rounded(
            [topk_overlap(b["topk"], f.topk), float(g == b["continuation"]), agree / len(b["continuation"]),
             mean(-x for x in a.token_logprobs) - b["answer_nll"]])))
        if outputs:
            out[i].update(continuation=g, topk=f.topk)
    return out


def model_in(ctx, mode: str):
    """The claim's model in ``mode`` (the loaded one when the mode matches the run's dtype)."""
    from audit.models import load_variant

    return ctx.loaded.model if mode == ctx.loaded.dtype else load_variant(ctx.loaded, mode)


def quality(model, tok, pairs: dict, reference_first: dict | None, max_new_tokens: int, batch_size: int,
            texts: dict | None = None) -> tuple[dict, dict]:
    """Per prompt: exact match of the greedy answer (it must start with the reference answer; the
    ramble after it is not scored) and KL(reference || model) at the answer position; ``texts``, when
    given, receives each prompt's decoded greedy answer (the re-paired floor of exact match)."""
    from interventions.generation import greedy, kl, score

    ids = sorted(pairs)
    first = {i: s.first_logprobs for i, s in zip(ids, score(model, tok, [pairs[i] for i in ids], batch_size))}
    gens = greedy(model, tok, [pairs[i][0] for i in ids], max_new_tokens, batch_size)
    out = {}
    for i, g in zip(ids, gens):
        answer = tok.decode(pairs[i][1], skip_special_tokens=True).strip()
        text = tok.decode(g, skip_special_tokens=True).strip()
        if texts is not None:
            texts[i] = text
        out[i] = {"exact_match": float(text.startswith(answer)),
                  "kl": rounded([kl(reference_first[i], first[i])])[0] if reference_first is not None else 0.0}
    return out, first


def measured_quality(*args) -> tuple[dict, dict, dict]:
    """:func:`quality`, and the memory of that untimed pass: the process RSS peak while the mode
    generates and scores, and its growth above the RSS at the start (the mode's working memory;
    the peak also counts the models of earlier modes, kept loaded for the interleaved timing).
    On CUDA, also the peak of allocated device memory during the pass."""
    import torch

    cuda = torch.cuda.is_available()
    if cuda:
        torch.cuda.reset_peak_memory_stats()
    with PeakDuring() as memory:
        per_prompt, first = quality(*args)
    peak = memory.result()
    if cuda:
        peak["cuda_peak_mb"] = round(torch.cuda.max_memory_allocated() / 2**20, 1)
    return per_prompt, first, peak


def timing_protocol(tok, variants: dict, pairs: dict, n_prompts: int, new_tokens: int,
                    repeats: int, warmup: int = 1) -> tuple[dict[str, list[float]], dict]:
    """Time forced-length greedy generation of the same batch under each variant, interleaved,
    after ``warmup`` untimed rounds.

    ``variants[name]`` is ``(model, context factory or None)``. Returns seconds per repeat per
    variant and the protocol (prompts, tokens, repeats, threads, median tokens/s) for the record.
    """
    import torch

    from interventions.generation import greedy, timed_side_by_side

    prompts = [pairs[i][0] for i in sorted(pairs)[:n_prompts]]

    def work(name: str) -> None:
        greedy(variants[name][0], tok, prompts, new_tokens, len(prompts), exact_length=True)

    times = timed_side_by_side({n: v[1] for n, v in variants.items()}, work, repeats, warmup)
    tokens = len(prompts) * new_tokens
    protocol = {"prompts": len(prompts), "new_tokens": new_tokens, "repeats": repeats, "warmup": warmup,
                "interleaved": True, "torch_threads": torch.get_num_threads(),
                "tokens_per_s": {n: tokens / median(t) for n, t in times.items()},
                "seconds": {n: t for n, t in times.items()}}
    return times, protocol


@unit_op("layer_skip.base")
def skip_base(ctx, pairs: dict, max_new_tokens: int) -> dict:
    """The unmodified model: greedy continuation, its top-5 path and the reference answer's NLL."""
    from interventions.generation import greedy, score

    model, tok, bs = ctx.loaded.model, ctx.loaded.tokenizer, ctx.options.batch_size
    ids = sorted(pairs)
    gen = greedy(model, tok, [pairs[i][0] for i in ids], max_new_tokens, bs)
    forced = score(model, tok, [(pairs[i][0], g) for i, g in zip(ids, gen)], bs)
    answer = score(model, tok, [pairs[i] for i in ids], bs)
    return {i: {"continuation": g, "topk": f.topk, "answer_nll": mean(-x for x in a.token_logprobs)}
            for i, g, f, a in zip(ids, gen, forced, answer)}


@unit_op("layer_skip.config")
def skip_config(ctx, pairs: dict, base: dict, skip: list[int], spec, outputs: bool = False) -> dict:
    return per_prompt_metrics(ctx.loaded.model, ctx.adapter, ctx.loaded.tokenizer, pairs, base, skip, spec,
                              ctx.options.batch_size, outputs)


@unit_op("layer_skip.timing")
def skip_timing(ctx, configs: dict, pairs: dict, spec) -> tuple[dict, dict]:
    """Every skip config against the unmodified model, interleaved."""
    from interventions.layer_skip import removed_layers

    model = ctx.loaded.model
    variants = {"unmodified": (model, None)} | {label: (model, lambda s=skip: removed_layers(model, ctx.adapter, s))
                                                 for label, skip in configs.items()}
    return timing_protocol(ctx.loaded.tokenizer, variants, pairs, spec.speed_prompts, spec.max_new_tokens,
                           spec.speed_repeats, spec.speed_warmup)


def _held(ctx, mode: str):
    """The claim's model in ``mode``, loaded once per process (the timing task reuses it)."""
    key = ("quantization.model", mode)
    if key not in ctx.memo:
        ctx.memo[key] = model_in(ctx, mode)
    return ctx.memo[key]


@unit_op("quantization.quality")
def quant_quality(ctx, mode: str, pairs: dict, reference_first, max_new_tokens: int) -> dict:
    """One mode's quality per prompt, its answer-position distributions, weights and pass memory."""
    model, texts = _held(ctx, mode), {}
    per_prompt, first, peak = measured_quality(model, ctx.loaded.tokenizer, pairs, reference_first, max_new_tokens,
                                               ctx.options.batch_size, texts)
    return {"per_prompt": per_prompt, "first": first, "peak": peak, "texts": texts,
            "memory_mb": model.get_memory_footprint() / 2**20}


@unit_op("quantization.timing")
def quant_timing(ctx, order: list[str], pairs: dict, speed) -> tuple[dict, dict]:
    """Every mode timed side by side, interleaved."""
    return timing_protocol(ctx.loaded.tokenizer, {m: (_held(ctx, m), None) for m in order}, pairs, speed.prompts,
                           speed.new_tokens, speed.repeats, speed.warmup)


def forced_paths(model, tok, pairs: dict, base: dict, ids: list[str], batch_size: int) -> list:
    """``model`` teacher forced along the unmodified model's greedy continuation of each prompt."""
    from interventions.generation import score

    return score(model, tok, [(pairs[i][0], base[i]["continuation"]) for i in ids], batch_size)


def top5_overlaps(model, adapter, tok, pairs: dict, base: dict, skip: list[int], batch_size: int) -> dict:
    """{prompt id: top-5 overlap} of one config: :func:`per_prompt_metrics`' ``top5_overlap`` alone
    (no generation, no answer scoring)."""
    from interventions.generation import topk_overlap
    from interventions.layer_skip import removed_layers

    ids = sorted(pairs)
    with removed_layers(model, adapter, skip):
        forced = forced_paths(model, tok, pairs, base, ids, batch_size)
    return {i: rounded([topk_overlap(base[i]["topk"], f.topk)])[0] for i, f in zip(ids, forced)}


@unit_op("layer_skip.random_sets")
def skip_random_sets(ctx, pairs: dict, base: dict, sets: list[list[int]], spec, key: str) -> dict:
    """The random-component null of one skip config and seed: ``{key: {prompt id: [top-5 overlap
    per random layer set]}}`` (audit/evidence/layer_skip_random.py)."""
    per_set = [top5_overlaps(ctx.loaded.model, ctx.adapter, ctx.loaded.tokenizer, pairs, base, skip,
                             ctx.options.batch_size) for skip in sets]
    return {key: {pid: [m[pid] for m in per_set] for pid in sorted(pairs)}}
