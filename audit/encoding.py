"""Render suite prompts (chat template when the model has one) and tokenize them with their targets.

A chat template is Jinja code that comes with the model: :func:`apply_template` renders it under a
time limit, so a template with runaway loops ends the claim errored instead of hanging the run.
"""

from __future__ import annotations

import sys
import time
from dataclasses import dataclass

import torch

from interventions.engine import EncodedBatch


@dataclass(frozen=True)
class EncodedPrompt:
    id: str
    ids: tuple[int, ...]
    target: int
    target_aligned: bool  # the answer's first token continues the prompt's tokens exactly


TEMPLATE_SECONDS = 10.0  # one prompt's rendering; real templates take milliseconds


class TemplateTimeout(RuntimeError):
    """A chat template took longer than its time limit to render."""


def apply_template(tokenizer, messages: list[dict], seconds: float | None = None, **kwargs):
    """``tokenizer.apply_chat_template(messages, **kwargs)``, stopped with :class:`TemplateTimeout`
    after ``seconds``. The clock is checked on every function call and on every line of the
    compiled template (Jinja compiles to Python code named ``<template>``), in whatever thread."""
    seconds = TEMPLATE_SECONDS if seconds is None else seconds
    deadline = time.monotonic() + seconds

    def check(frame, event, arg):
        if time.monotonic() > deadline:
            raise TemplateTimeout(f"the model's chat template took more than {seconds:g} s to render one prompt "
                                  f"(runaway loops in the template?); fix the tokenizer's chat_template or set "
                                  f"suite.chat_template: false in the claim")
        return check if frame.f_code.co_filename == "<template>" else None

    previous = sys.gettrace()
    sys.settrace(check)
    try:
        return tokenizer.apply_chat_template(messages, **kwargs)
    finally:
        sys.settrace(previous)


def render(tokenizer, prompt: str, use_chat: bool, system: str | None = None) -> tuple[str, bool]:
    """The text the model sees before its answer, and whether special tokens are already in it.
    ``system``: a system message before the user's (needs the chat template)."""
    if use_chat and getattr(tokenizer, "chat_template", None):
        messages = ([{"role": "system", "content": system}] if system is not None else []) + \
            [{"role": "user", "content": prompt}]
        text = apply_template(tokenizer, messages, tokenize=False, add_generation_prompt=True)
        if system is not None and system not in text:
            raise ValueError("the model's chat template dropped the system message: use position: prefix")
        return text, True
    if system is not None:
        raise ValueError("a system message needs the model's chat template, and "
                         + ("the tokenizer has none" if use_chat else "suite.chat_template is false")
                         + ": use position: prefix")
    # No trailing space: BPE/SentencePiece tokenizers attach the space to the answer's first token.
    return f"{prompt}\nAnswer:", False


def encode(tokenizer, pid: str, prompt: str, answer: str, use_chat: bool) -> EncodedPrompt:
    """Token ids of the rendered prompt and the first token of the answer (the scoring target)."""
    text, templated = render(tokenizer, prompt, use_chat)
    add_special = not templated
    continuation = answer if templated else " " + answer
    prompt_ids = tokenizer(text, add_special_tokens=add_special)["input_ids"]
    full_ids = tokenizer(text + continuation, add_special_tokens=add_special)["input_ids"]
    if full_ids[: len(prompt_ids)] == prompt_ids and len(full_ids) > len(prompt_ids):
        rest = full_ids[len(prompt_ids):]
        # a tokenizer that keeps the separating space as its own token: score the answer, not the space
        while len(rest) > 1 and not tokenizer.decode(rest[:1]).strip():
            prompt_ids, rest = prompt_ids + rest[:1], rest[1:]
        return EncodedPrompt(pid, tuple(prompt_ids), rest[0], True)
    answer_ids = tokenizer(continuation, add_special_tokens=False)["input_ids"]
    if not answer_ids:
        raise ValueError(f"prompt {pid}: answer {answer!r} tokenizes to nothing")
    return EncodedPrompt(pid, tuple(prompt_ids), answer_ids[0], False)


def batches(tokenizer, prompts: list[EncodedPrompt], batch_size: int = 16) -> list[EncodedBatch]:
    """Left-padded batches (answer position = last column), grouped by length, in a fixed order."""
    pad = tokenizer.pad_token_id if tokenizer.pad_token_id is not None else (tokenizer.eos_token_id or 0)
    ordered = sorted(prompts, key=lambda p: (len(p.ids), p.id))
    out = []
    for start in range(0, len(ordered), batch_size):
        chunk = ordered[start:start + batch_size]
        width = max(len(p.ids) for p in chunk)
        ids = torch.full((len(chunk), width), pad, dtype=torch.long)
        mask = torch.zeros((len(chunk), width), dtype=torch.long)
        for row, p in enumerate(chunk):
            ids[row, width - len(p.ids):] = torch.tensor(p.ids)
            mask[row, width - len(p.ids):] = 1
        out.append(EncodedBatch(ids, mask, torch.tensor([p.target for p in chunk]), [p.id for p in chunk]))
    return out
