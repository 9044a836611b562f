"""A planted prompting baseline on the planted steering model (tests/interventions/conftest.py,
``linear``: the contrastive direction u raises P(Z), the steered truth) plus one reading path.

Layer 0's attention is made uniform (zero queries and keys) and reads one direction m of every
token (value row 0 = m, output column 0 = ``GAIN`` u): the answer position gets
``GAIN x mean over the context of m . x`` along u, which "Z" reads. Only three letters carry m:
"Z" (+``Z_M``), "W" (+``WQ_M``) and "Q" (-``WQ_M``); every other token's m is projected out.

- An instruction of Z's ("Say Z Z Z ...") raises the context's mean of m for every prompt: asking
  for the behaviour in words moves P(Z), more than a weak steering vector does.
- A neutral instruction (no Z, W or Q) only dilutes the context: half the eval prompts carry one
  "W" (their mean of m shrinks towards 0: P(Z) falls), half one "Q" (it rises) — per-prompt
  effects of both signs and no systematic one: its interval must cover 0.
"""

from __future__ import annotations

import random
from pathlib import Path

import torch

from tests.conftest import save
from tests.interventions.conftest import WORDS, _basis, planted_steering_model

GAIN, Z_M, WQ_M = 2.0, 4.0, 2.0
NEUTRAL = "please answer this one"
ASK_FOR_Z = "Say Z Z Z Z Z Z Z Z Z Z"


def planted_prompting_model():
    model, tok = planted_steering_model("linear")
    u, v, w, z = _basis(32, 4, seed=5)
    m = torch.randn(32, generator=torch.Generator().manual_seed(17))
    for d in (u, v, w, z):
        m -= (m @ d) * d
    m /= m.norm()
    tid = tok.convert_tokens_to_ids
    with torch.no_grad():
        emb = model.model.embed_tokens.weight
        emb.sub_(torch.outer(emb @ m, m))
        emb[tid("Z")] += Z_M * m
        emb[tid("W")] += WQ_M * m
        emb[tid("Q")] -= WQ_M * m
        attn = model.model.layers[0].self_attn
        for proj in (attn.q_proj, attn.k_proj, attn.v_proj, attn.o_proj):
            proj.weight.zero_()
        attn.v_proj.weight[0] = m
        attn.o_proj.weight[:, 0] = GAIN * u
        for block in model.model.layers:  # nothing else writes along u or m
            for p in (block.self_attn.o_proj, block.mlp.down_proj):
                if p is not attn.o_proj:
                    p.weight.sub_(torch.outer(u, u @ p.weight) + torch.outer(m, m @ p.weight))
    return model.eval(), tok


def suite_text() -> str:
    rng = random.Random(7)
    words = lambda k: " ".join(rng.sample(WORDS, k))  # noqa: E731
    lines = ["name: prompt_test", "version: 1", "families:"]

    def fam(name, prompts):
        lines.extend([f"  {name}:", "    prompts:"])
        lines.extend(f"    - {{id: {name}-{i:02d}, prompt: '{p}', answer: '{a}'}}" for i, (p, a) in enumerate(prompts))

    fam("pos", [(f"P {words(3)}", "Z") for _ in range(24)])
    fam("neg", [(f"N {words(3)}", "Z") for _ in range(24)])
    fam("eval", [(f"tell me {'W' if i % 2 else 'Q'} {words(2)}", "Z") for i in range(12)])
    fam("other", [(words(4), "x") for _ in range(12)])
    return "\n".join(lines) + "\n"


def build(root: Path) -> tuple[Path, Path]:
    model, tok = planted_prompting_model()
    suite = root / "prompt_test.yaml"
    suite.write_text(suite_text())
    return save(model, tok, root / "model"), suite
