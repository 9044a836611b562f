"""Planted steering truths on a tiny Llama (3 layers, hidden 32, byte tokenizer with a one-line chat template).

Every layer's writes are scaled down, so the residual stream after layer 0 (the steered layer) is
essentially the token embeddings. Embeddings and the unembedding are edited along orthonormal
directions u, v, w, z (removed from every other row first):

- ``linear``: marker "P" (positives) carries +a u, marker "N" (negatives) -a u; the target token
  "Z" reads u. Adding the positive-minus-negative direction raises P(Z): a real, specific direction.
- ``norm``: the markers carry ±a v, which nothing reads; "Z" reads *minus* the answer token's own
  embedding, so it is suppressed at the answer position. Adding any large vector dilutes that
  suppression and raises P(Z): an effect of the norm, not the direction.
- ``label_free``: the markers carry only a small ±γ v; every example also carries "W" (+b w) or
  "Q" (-b w) at random, independently of its label. Layer 1's MLP writes |w·x|-like activity
  into z, which "Z" reads (an even response). Directions made from any relabelling of the pool
  line up with w at least as well as the real one: the effect does not depend on the labels.
"""

from __future__ import annotations

import random
from pathlib import Path

import pytest
import torch

from tests.conftest import save, tiny_model

CHAT = ("{% for message in messages %}{{ message['content'] }}{% endfor %}"
        "{% if add_generation_prompt %}\nA:{% endif %}")
WORDS = ("apple river stone cloud table green quick lamp violet tiger ocean paper bread wheel candle mirror "
         "forest garden window silver pencil rocket butter castle").split()


def _basis(hidden: int, k: int, seed: int) -> list[torch.Tensor]:
    g = torch.Generator().manual_seed(seed)
    q, _ = torch.linalg.qr(torch.randn(hidden, k, generator=g))
    return [q[:, i].contiguous() for i in range(k)]


def _project_out(mat: torch.Tensor, dirs: list[torch.Tensor]) -> None:
    for d in dirs:
        mat.sub_(torch.outer(mat @ d, d))


def planted_steering_model(kind: str):
    model, tok = tiny_model("llama", n_layers=3, seed=11)
    tok.chat_template = CHAT
    u, v, w, z = _basis(32, 4, seed=5)
    tid = lambda ch: tok.convert_tokens_to_ids(ch)  # noqa: E731  (byte-level: letters are their own tokens)
    with torch.no_grad():
        for block in model.model.layers:
            block.self_attn.o_proj.weight.mul_(0.02)
            block.mlp.down_proj.weight.mul_(0.02)
        emb, unemb = model.model.embed_tokens.weight, model.lm_head.weight
        _project_out(emb, [u, v, w, z])
        _project_out(unemb, [u, v, w, z])
        if kind == "linear":
            emb[tid("P")] += 4.0 * u
            emb[tid("N")] -= 4.0 * u
            unemb[tid("Z")] = 1.1 * u
        elif kind == "norm":
            emb[tid("P")] += 8.0 * v
            emb[tid("N")] -= 8.0 * v
            # the unembedding reads only the answer token's own direction: logits depend on how much
            # of the residual it still makes up, i.e. on the norm of whatever was added, not its direction
            colon = emb[tid(":")] / emb[tid(":")].norm()
            readout = torch.randn(unemb.shape[0], generator=torch.Generator().manual_seed(3)) * 0.3
            readout[tid("Z")] = -0.5
            unemb.copy_(torch.outer(readout, colon))
        elif kind == "label_free":
            emb[tid("P")] += 1.0 * v
            emb[tid("N")] -= 1.0 * v
            emb[tid("W")] += 8.0 * w
            emb[tid("Q")] -= 8.0 * w
            mlp = model.model.layers[1].mlp
            mlp.gate_proj.weight.zero_()
            mlp.up_proj.weight.zero_()
            mlp.down_proj.weight.zero_()
            mlp.gate_proj.weight[0], mlp.up_proj.weight[0] = 4.0 * w, w
            mlp.gate_proj.weight[1], mlp.up_proj.weight[1] = -4.0 * w, -w
            mlp.down_proj.weight[:, 0] = 0.15 * z
            mlp.down_proj.weight[:, 1] = 0.15 * z
            unemb[tid("Z")] = 0.5 * z
        else:
            raise ValueError(kind)
    return model.eval(), tok


def steering_suite_text(kind: str) -> str:
    rng = random.Random(7)
    lines = ["name: steer_test", "version: 1", "families:"]

    def fam(name, prompts):
        lines.append(f"  {name}:")
        lines.append("    prompts:")
        for i, (p, a) in enumerate(prompts):
            lines.append(f"    - {{id: {name}-{i:02d}, prompt: '{p}', answer: '{a}'}}")

    def words(k=3):
        return " ".join(rng.sample(WORDS, k))

    if kind == "label_free":
        fam("pos", [(f"P {'W' if i % 2 else 'Q'} {words()}", "Z") for i in range(24)])
        fam("neg", [(f"N {'W' if i % 2 else 'Q'} {words()}", "Z") for i in range(24)])
    else:
        fam("pos", [(f"P {words()}", "Z") for i in range(24)])
        fam("neg", [(f"N {words()}", "Z") for i in range(24)])
    fam("eval", [(f"tell me {words(2)}", "Z") for i in range(12)])
    fam("eval_long", [(f"tell me {words(6)} and also {words(6)}", "Z") for i in range(12)])
    fam("other", [(f"{words(4)}", "x") for i in range(12)])
    return "\n".join(lines) + "\n"


@pytest.fixture(scope="session")
def planted_steering(tmp_path_factory):
    """Factory: (model dir, suite path) of a planted steering truth, built once per session."""
    built: dict[str, tuple[Path, Path]] = {}

    def make(kind: str):
        if kind not in built:
            model, tok = planted_steering_model(kind)
            root = tmp_path_factory.mktemp(f"steer_{kind}")
            suite = root / "steer_test.yaml"
            suite.write_text(steering_suite_text(kind))
            built[kind] = (save(model, tok, root / "model"), suite)
        return built[kind]

    return make


def steering_claim(path: Path, *, model, suite, alpha: float = 0.5, layers=(0,), n: int = 32, seeds=(1, 2, 3),
                   expect: str = "supported", controls: str | None = None, acceptance: str | None = None,
                   metric: str = "behavior_logprob", behavior: str = "{phrases: ['Z']}", direction: str | None = None,
                   families: str = "[eval]", prompts: int = 6, positions: str = "last") -> Path:
    controls = controls or f"random_vector: {{n: {n}}}\n  shuffled_label: {{n: {n}}}"
    acceptance = acceptance or f"{{kind: steering, layer: {layers[0]}, alpha: {alpha}}}"
    direction = direction or "{source: contrastive, positive: pos, negative: neg, per_set: 12, position: prompt_mean}"
    path.write_text(f"""\
id: {path.stem}
statement: "Planted steering claim for a test."
model: {model}
expect: {expect}
suite: {{name: {suite}, families: {families}, prompts_per_family: {prompts}, chat_template: true}}
intervention:
  kind: steering
  direction: {direction}
  layers: [{", ".join(map(str, layers))}]
  alphas: [{alpha}]
  scale: norm
  positions: {positions}
  behavior: {behavior}
  collateral: {{suite: {suite}, families: [other], prompts_per_family: 6}}
metric: {{kind: {metric}}}
controls:
  seeds: [{", ".join(map(str, seeds))}]
  {controls}
acceptance: {acceptance}
""")
    return path
