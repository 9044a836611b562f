"""The planted LoRA model and claim files, shared by the LoRA and executor tests.

Every decoder layer but one (``LIVE``) has its value projection and MLP input projections
zeroed, so those layers write nothing and a LoRA on their ``o_proj`` / ``down_proj`` sees a zero
input and cannot learn. Only adapters at the live layer (or on the zeroed projections
themselves, which all-linear includes) can learn the task "answer zz".

Every ``HARD``-th prompt of the task family has its own two-letter answer instead, which no
adapter can learn for a held-out prompt: the placements that learn reach an exact match of about
1 - 1/HARD, not the ceiling, so the evidence can discriminate (a saturated task is degenerate).

``mapped=True`` makes the answer depend on the prompt: a prompt starting "a" answers "zz", one
starting "b" answers "yy" (alternating). An adapter trained on answers permuted among the prompts
sees the letter-to-answer pairing broken and cannot learn it (the shuffled-answers control must
pass there); with ``mapped=False`` the task is nearly a constant that shuffled answers learn too.
"""

import textwrap

import torch
import yaml

from audit.schema import load_claim
from tests.conftest import save, tiny_model

LIVE = 3
LAYERS = 4
HARD = 5
N_TASK = 48


def answer(i: int, mapped: bool = False) -> str:
    """The task answer of prompt i: zz (mapped: zz or yy by :func:`prompt`'s first letter), or for
    every HARD-th prompt letters no adapter can guess."""
    if i % HARD == HARD - 1:
        return f"{chr(97 + i % 13)}{chr(110 + (3 * i) % 12)}"
    return "yy" if mapped and i % 2 else "zz"


def prompt(i: int, mapped: bool = False) -> str:
    return ((("b " if i % 2 else "a ") * 6) if mapped else "") + f"item {i} of {7 * i % 13}"


def build_planted(d, hidden: int = 32, mapped: bool = False):
    """Write the planted model, its suite and the atlas claim into ``d``; returns ``d``."""
    d.mkdir(parents=True, exist_ok=True)
    model, tok = tiny_model("llama", n_layers=LAYERS, seed=1, hidden=hidden)
    with torch.no_grad():
        for i, block in enumerate(model.model.layers):
            if i != LIVE:
                block.self_attn.v_proj.weight.zero_()
                block.mlp.gate_proj.weight.zero_()
                block.mlp.up_proj.weight.zero_()
    suite = {"name": "planted", "version": 1, "families": {
        "zz": {"description": "answer zz (every HARD-th prompt: its own answer)", "prompts": [
            {"id": f"zz-{i:03d}", "prompt": prompt(i, mapped), "answer": answer(i, mapped)} for i in range(N_TASK)]},
        "other": {"description": "unrelated", "prompts": [
            {"id": f"o-{i:03d}", "prompt": f"count {i}", "answer": str(i + 1)} for i in range(10)]}}}
    (d / "planted.yaml").write_text(yaml.safe_dump(suite))
    (d / "atlas.yaml").write_text(textwrap.dedent(f"""\
        id: atlas
        statement: "Planted: the live layer is the hub of the layer sweep."
        model: {save(model, tok, d / "model")}
        suite: {{name: {d / "planted.yaml"}, families: [zz], prompts_per_family: 4, chat_template: false}}
        intervention: {{kind: layer_ablation, method: skip}}
        metric: {{kind: kl}}
        controls: {{seeds: [1, 2]}}
        acceptance: {{kind: hub, layer: {LIVE}}}
        """))
    return d


TRAINING = "{rank: 4, alpha: 8, steps: 40, batch_size: 8, learning_rate: 0.02}"
TASK = "{family: zz, train_prompts: 16, eval_prompts: 24, drift_families: [other], drift_prompts: 3, max_new_tokens: 3}"


def lora_claim(d, name: str, placements: str, acceptance: str, kind: str = "lora", metric: str = "lora_exact_match",
               extra: str = "", seeds: str = "[1, 2, 3]", training: str = TRAINING):
    path = d / f"{name}.yaml"
    path.write_text(textwrap.dedent(f"""\
        id: {name}
        statement: "Planted LoRA claim {name} on the tiny model."
        model: {d / "model"}
        suite: {{name: {d / "planted.yaml"}, families: [zz], prompts_per_family: 4, chat_template: false}}
        intervention:
          kind: {kind}
          task: {TASK}
          training: {training}
        """) + textwrap.indent(textwrap.dedent(placements), "  ") + extra + textwrap.dedent(f"""\
        metric: {{kind: {metric}}}
        controls: {{seeds: {seeds}}}
        acceptance: {acceptance}
        """))
    return load_claim(path)


PLACEMENTS = """\
placements:
  atlas: {placement: atlas, claim: atlas.yaml, top_k: 1, modules: [o_proj, down_proj]}
  all: {placement: all_linear}
  random: {placement: random_matched, reference: atlas}
"""
