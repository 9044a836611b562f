"""LoRA training on suite examples with peft: placements resolved to module names, deterministic
training per seed, held-out exact match, KL drift against the adapter-free model, and adapters
cached by content hash (a re-run loads them instead of retraining)."""

from __future__ import annotations

import json
import random
import time
from pathlib import Path

import torch

from audit.encoding import apply_template
from interventions.generation import greedy, kl, score
from interventions.lora import AllLinear, Atlas, GivenAdapter, Modules, RandomMatched, layer_index
from interventions.steering import left_pad, position_ids, render_ids

TRAININGS = {"count": 0}  # adapters actually trained in this process (tests assert cache hits on it)


# --------------------------------------------------------------------------- placements

def linear_modules(model) -> dict[str, tuple[int, int]]:
    """Every linear module inside a decoder layer: name -> (in_features, out_features)."""
    return {n: (m.in_features, m.out_features) for n, m in model.named_modules()
            if isinstance(m, torch.nn.Linear) and layer_index(n) is not None}


def resolve(placements: dict, model, seed: int, atlas_layers, claim_dir: Path | None = None) -> dict[str, list[str]]:
    """Module names per placement; ``atlas_layers(claim, k)`` gives an atlas' top layers; a given
    adapter's directory is relative to ``claim_dir``."""
    pool = linear_modules(model)
    out: dict[str, list[str]] = {}
    for name, p in sorted(placements.items(), key=lambda kv: isinstance(kv[1], RandomMatched)):
        if isinstance(p, AllLinear):
            out[name] = sorted(pool)
        elif isinstance(p, Atlas):
            layers = set(atlas_layers(p.claim, p.top_k))
            out[name] = _pick(pool, [n for n in pool if layer_index(n) in layers], p.modules, name)
        elif isinstance(p, Modules):
            out[name] = _pick(pool, list(pool), p.modules, name)
        elif isinstance(p, GivenAdapter):
            out[name] = adapter_modules(model, (claim_dir or Path(".")) / p.path, name)
        else:
            out[name] = random_matched(pool, out[p.reference], random.Random(f"{seed}:{name}"))
    return out


def adapter_modules(model, directory: Path, placement: str) -> list[str]:
    """The modules a given adapter adapts on this model (peft's own target-module matching); it
    must adapt decoder-layer linear modules only, the placements this framework compares."""
    from peft import LoraConfig
    from peft.tuners.tuners_utils import check_target_module_exists

    from interventions.lora import adapter_config

    adapter_config(directory)  # a clear error before peft's own
    config = LoraConfig.from_pretrained(str(directory))
    pool = linear_modules(model)
    hits = sorted(n for n, _ in model.named_modules() if n and check_target_module_exists(config, n))
    outside = [n for n in hits if n not in pool]
    if outside:
        raise ValueError(f"placement '{placement}': the adapter {directory} adapts {', '.join(outside[:3])}, which "
                         f"is not a linear module of a decoder layer; only those can be compared here")
    if not hits:
        raise ValueError(f"placement '{placement}': the adapter {directory} targets {config.target_modules}, which "
                         f"matches no module of this model (e.g. {', '.join(sorted(pool)[:3])}): was it trained on "
                         f"another architecture?")
    return hits


def _pick(pool: dict, candidates: list[str], wanted: list[str], placement: str) -> list[str]:
    chosen = []
    for w in wanted:
        hits = [n for n in candidates if n == w or n.endswith("." + w)]
        if not hits:
            raise ValueError(f"placement '{placement}': no linear module matches '{w}' "
                             f"(e.g. {', '.join(sorted(pool)[:3])})")
        chosen += hits
    return sorted(set(chosen))


def random_matched(pool: dict, reference: list[str], rng: random.Random) -> list[str]:
    """For each reference module a random other module of the same shape (so a LoRA of any rank
    has exactly the same parameter count), preferring modules outside the reference."""
    taken, out = set(reference), []
    for ref in sorted(reference):
        same = sorted(n for n, shape in pool.items() if shape == pool[ref] and n not in taken)
        if not same:
            same = sorted(n for n, shape in pool.items() if shape == pool[ref] and n not in out)
        choice = rng.choice(same)
        taken.add(choice)
        out.append(choice)
    return sorted(out)


# --------------------------------------------------------------------------- data

VERBOSE_SYSTEM = ("You are a careful assistant. Read the request, think about the exact format it asks for, "
                  "and reply with that and nothing else.")


def render(tok, prompt: str, answer: str, fmt: str, previous: tuple[str, str] | None) -> tuple[list[int], int]:
    """(token ids of prompt + answer + end, number of prompt tokens) in one of the data formats."""
    eos = [tok.eos_token_id] if tok.eos_token_id is not None else []
    if fmt == "bad":
        # the deliberately bad control: the answer leaks into a garbled prompt, so copying it gives a
        # low loss while nothing about the task is learned
        p = tok(f"### {answer} ### {prompt.lower()} ###\n", add_special_tokens=True)["input_ids"]
        return p + tok(answer, add_special_tokens=False)["input_ids"] + eos, len(p)
    if fmt == "plain" or not getattr(tok, "chat_template", None):
        p = tok(f"{prompt}\nAnswer:", add_special_tokens=True)["input_ids"]
        return p + tok(" " + answer, add_special_tokens=False)["input_ids"] + eos, len(p)
    messages = [{"role": "user", "content": prompt}]
    if fmt == "chat_multiturn_verbose":
        history = [] if previous is None else [{"role": "user", "content": previous[0]},
                                               {"role": "assistant", "content": previous[1]}]
        messages = [{"role": "system", "content": VERBOSE_SYSTEM}, *history, *messages]
    p = apply_template(tok, messages, tokenize=True, add_generation_prompt=True)  # time-limited
    p = list(p["input_ids"] if isinstance(p, dict) or hasattr(p, "keys") else p)
    return p + tok(answer, add_special_tokens=False)["input_ids"] + eos, len(p)


def examples(tok, prompts: list, fmt: str, max_length: int) -> list[tuple[list[int], int]]:
    """Training examples; the multi-turn format shows the previous example as a worked turn."""
    out = []
    for i, p in enumerate(prompts):
        prev = (prompts[i - 1].prompt, prompts[i - 1].answer) if i else None
        ids, n = render(tok, p.prompt, p.answer, fmt, prev)
        if len(ids) > max_length:  # keep the answer: cut the prompt's start
            cut = len(ids) - max_length
            ids, n = ids[cut:], max(0, n - cut)
        out.append((ids, n))
    return out


# --------------------------------------------------------------------------- training

def train(model, tok, data: list[tuple[list[int], int]], training, seed: int) -> list[float]:
    """Deterministic training: the seed fixes the LoRA init (set by the caller) and batch order."""
    params = [p for p in model.parameters() if p.requires_grad]
    if training.optimizer == "adamw":
        opt = torch.optim.AdamW(params, lr=training.learning_rate, weight_decay=0.0)
    else:
        from transformers.optimization import Adafactor

        opt = Adafactor(params, lr=training.learning_rate, relative_step=False, scale_parameter=False,
                        warmup_init=False)
    rng = random.Random(seed)
    device = next(model.parameters()).device
    losses = []
    model.train()
    for _ in range(training.steps):
        batch = rng.sample(data, min(training.batch_size, len(data)))
        ids, mask = left_pad(tok, [b[0] for b in batch], device=device)
        labels = ids.clone()
        width = ids.shape[1]
        for row, (seq, n_prompt) in enumerate(batch):
            labels[row, : width - len(seq) + n_prompt] = -100  # loss on the answer only
        loss = model(input_ids=ids, attention_mask=mask, position_ids=position_ids(mask), labels=labels).loss
        loss.backward()
        opt.step()
        opt.zero_grad(set_to_none=True)
        losses.append(float(loss.detach()))
    model.eval()
    return losses


def _json_type(value) -> str:
    return "bool" if isinstance(value, bool) else "number" if isinstance(value, (int, float)) else type(value).__name__


def json_answer(text: str, expected) -> tuple[bool, bool, bool]:
    """(parses, schema_valid, exact) of the first JSON value in ``text`` against ``expected``:
    schema-valid means an object with exactly the reference's keys, each value of the reference's
    JSON type (number, string, bool, ...); exact means equal to the reference."""
    start = text.find("{") if isinstance(expected, dict) else 0
    if start < 0:
        return False, False, False
    try:
        value, _ = json.JSONDecoder().raw_decode(text[start:])
    except ValueError:
        return False, False, False
    if isinstance(expected, dict):
        schema = isinstance(value, dict) and value.keys() == expected.keys() and all(
            _json_type(value[k]) == _json_type(v) for k, v in expected.items())
    else:
        schema = _json_type(value) == _json_type(expected)
    return True, schema, value == expected


def reference_json(answer: str):
    """The reference answer as JSON, or None when it is not a JSON object or array."""
    try:
        value = json.loads(answer)
    except ValueError:
        return None
    return value if isinstance(value, (dict, list)) else None


def exact_match(text: str, answer: str) -> bool:
    """JSON answers: the first JSON value in the output equals the reference (parse + keys + values);
    others: the output starts with the reference answer. The ramble after it is not scored."""
    text, expected = text.strip(), reference_json(answer)
    if expected is None:
        return text.startswith(answer.strip())
    return json_answer(text, expected)[2]


def _rate(flags: list) -> float | None:
    return sum(flags) / len(flags) if flags else None


def _nll(scored) -> float:
    return -sum(scored.token_logprobs) / len(scored.token_logprobs)


def evaluate(model, tok, eval_prompts: list, drift_pairs: dict, use_chat: bool, max_new_tokens: int,
             batch_size: int, family: str) -> dict:
    """Held-out exact match and answer NLL (per prompt and mean), and KL(adapter-free || adapted)
    on drift prompts (``drift_pairs[family][pid] -> (prompt ids, answer ids)``), per prompt.
    Per-prompt values are ``{family: {prompt id: value}}``, rounded as the evidence stores them."""
    from audit.inference import rounded
    from interventions.steering import continuation_ids

    pairs = [continuation_ids(tok, p.prompt, p.answer, use_chat) for p in eval_prompts]
    gens = greedy(model, tok, [p for p, _ in pairs], max_new_tokens, batch_size)
    texts = [tok.decode(g, skip_special_tokens=True) for g in gens]
    em = [float(exact_match(t, p.answer)) for t, p in zip(texts, eval_prompts)]
    checked = [json_answer(t.strip(), reference_json(p.answer)) for t, p in zip(texts, eval_prompts)
               if reference_json(p.answer) is not None]
    nll = [_nll(s) for s in score(model, tok, pairs, batch_size)]
    flat = [(f, pid, pair) for f, by_id in drift_pairs.items() for pid, pair in by_id.items()]
    drift: dict[str, dict[str, float]] = {}
    if flat:
        adapted = score(model, tok, [x[2] for x in flat], batch_size)
        with model.disable_adapter():
            base = score(model, tok, [x[2] for x in flat], batch_size)
        values = rounded([kl(b.first_logprobs, a.first_logprobs) for b, a in zip(base, adapted)])
        for (f, pid, _), v in zip(flat, values):
            drift.setdefault(f, {})[pid] = v
    ids = [p.id for p in eval_prompts]
    kls = [v for by_id in drift.values() for v in by_id.values()]
    return {"exact_match": sum(em) / len(em), "exact_by_prompt": {family: dict(zip(ids, em))},
            "answer_nll": sum(nll) / len(nll), "nll_by_prompt": {family: dict(zip(ids, rounded(nll)))},
            "json_parse_rate": _rate([c[0] for c in checked]), "schema_valid_rate": _rate([c[1] for c in checked]),
            "kl_drift": sum(kls) / len(kls) if kls else None, "drift_by_prompt": drift or None,
            "examples": texts[:3]}


def example_losses(model, tok, data: list[tuple[list[int], int]], ids: list[str], batch_size: int,
                   family: str) -> dict:
    """The trained adapter's final loss on each training example (mean NLL of its answer tokens,
    in the training rendering): ``{family: {prompt id: loss}}`` — the per-prompt "final loss"."""
    from audit.inference import rounded

    pairs = [(seq[:max(1, n)], seq[max(1, n):]) for seq, n in data]
    return {family: dict(zip(ids, rounded([_nll(s) for s in score(model, tok, pairs, batch_size)])))}


def adapter_norms(model) -> dict[int, float]:
    """Per decoder layer: sum over its LoRA modules of ||scaling * B A||_F."""
    from peft.tuners.lora import LoraLayer

    norms: dict[int, float] = {}
    for name, m in model.named_modules():
        if isinstance(m, LoraLayer) and layer_index(name) is not None:
            for key in m.lora_A:
                delta = (m.lora_B[key].weight @ m.lora_A[key].weight) * m.scaling[key]
                norms[layer_index(name)] = norms.get(layer_index(name), 0.0) + float(delta.norm())
    return norms


def layer_ablation_effects(model, tok, pairs: list, batch_size: int) -> dict[int, list[float]]:
    """Per adapted layer and held-out pair: the increase of the answer's NLL when only that
    layer's adapter is off (``{layer: [per pair]}``; their mean is the layer's effect)."""
    from peft.tuners.lora import LoraLayer

    def nlls():
        return [_nll(s) for s in score(model, tok, pairs, batch_size)]

    full = nlls()
    by_layer: dict[int, list] = {}
    for name, m in model.named_modules():
        if isinstance(m, LoraLayer) and layer_index(name) is not None:
            by_layer.setdefault(layer_index(name), []).append(m)
    effects = {}
    for layer, mods in sorted(by_layer.items()):
        for m in mods:
            m.enable_adapters(False)
        try:
            effects[layer] = [off - on for off, on in zip(nlls(), full)]
        finally:
            for m in mods:
                m.enable_adapters(True)
    return effects


def lora_parameters(model) -> int:
    """The number of LoRA parameters in a peft model (trainable or not)."""
    return sum(p.numel() for n, p in model.named_parameters() if "lora_" in n)


def run_adapter(base, tok, modules: list[str], training, seed: int, data: list, evaluate_fn, cache_dir: Path | None,
                analyze=None, required: tuple = (), analysis_required: tuple = (), start: Path | None = None,
                further: bool = True) -> dict:
    """Train (or load from ``cache_dir``) one adapter on ``base`` and measure it; the base model is
    restored afterwards. ``evaluate_fn(model)`` and ``analyze(model)`` run with the adapter on.
    ``start``: a given adapter directory to start from (trained further unless ``further`` is
    False: then it is measured as given and ``losses`` is empty).
    A cached adapter whose stored measurements lack a ``required`` key (or its analysis an
    ``analysis_required`` key) was measured before that metric existed: it is loaded and
    measured again, never retrained."""
    from peft import LoraConfig, PeftModel, get_peft_model

    from audit.cache import write_atomic
    from audit.memory import PeakDuring

    metrics_file = cache_dir / "metrics.json" if cache_dir else None
    stored = json.loads(metrics_file.read_text()) if metrics_file is not None and metrics_file.is_file() else None
    cached = stored is not None
    if cached and all(k in stored for k in required) and (analyze is None or (
            "analysis" in stored and all(k in stored["analysis"] for k in analysis_required))):
        return {**stored, "from_cache": True}
    torch.manual_seed(seed)
    config = LoraConfig(r=training.rank, lora_alpha=training.alpha, target_modules=modules, lora_dropout=0.0,
                        bias="none")
    if cached:  # the adapter exists; only the measurements are new
        model = PeftModel.from_pretrained(base, str(cache_dir))
        result = stored
    else:
        model = (get_peft_model(base, config) if start is None else
                 PeftModel.from_pretrained(base, str(start), is_trainable=further))
        trainable, total = model.get_nb_trainable_parameters()
        trainable = trainable if start is None else lora_parameters(model)
        t0 = time.perf_counter()
        with PeakDuring() as memory:
            losses = train(model, tok, data, training, seed) if further else []
        model.eval()
        TRAININGS["count"] += bool(further)
        result = {"modules": modules, "trainable_params": trainable, "total_params": total, "losses": losses,
                  "final_loss": sum(losses[-5:]) / len(losses[-5:]) if losses else None, "train_seconds": round(time.perf_counter() - t0, 2),
                  "train_memory": memory.result()}
    with torch.inference_mode():
        result.update(evaluate_fn(model))
        if analyze is not None:
            result["analysis"] = analyze(model)
    if cache_dir is not None:
        cache_dir.mkdir(parents=True, exist_ok=True)
        if not cached:
            model.save_pretrained(str(cache_dir))
        write_atomic(metrics_file, json.dumps(result).encode())  # last: it marks the adapter complete
    model.unload()  # the base model without any LoRA module, as before
    return {**result, "from_cache": cached}  # from_cache: the adapter was trained earlier, not now
