"""Planted hub layers for the random-vector control of a layer sweep (tiny Qwen2, 4 layers, hidden 32).

Every layer's writes are scaled down (x 0.02) except layer 2's attention, which writes the same
vector ``size * q`` at every token: its value projection is zeroed and its value bias carries the
write (the softmax weights sum to one, so the bias passes through attention unchanged), its output
projection maps that onto q alone. The embeddings and the unembedding have no component along q
except what is planted:

- ``read``: the unembedding reads q strongly (``READ`` x a random vector over the vocabulary), so
  removing the write moves the output along q, and a random unit direction u of the same norm moves
  it along q only by ``size * (u . q)`` (about 1/sqrt(32) of it): the layer matters for *what* it writes.
- ``unread``: nothing reads q; the write acts only through its size, by the final RMSNorm (it
  shrinks every logit). Removing it and moving the output by as much along any random direction
  (which the unembedding does read) change the output comparably: the layer matters for its size.
"""

from __future__ import annotations

import torch

from tests.conftest import save, tiny_model

LAYER, SIZE, READ = 2, 1.5, 3.0


def planted(kind: str):
    model, tok = tiny_model("qwen2", n_layers=4, seed=0)
    hidden = model.config.hidden_size
    g = torch.Generator().manual_seed(7)
    q = torch.randn(hidden, generator=g)
    q /= q.norm()
    with torch.no_grad():
        for block in model.model.layers:
            block.self_attn.o_proj.weight.mul_(0.02)
            block.mlp.down_proj.weight.mul_(0.02)
        for weights in (model.model.embed_tokens.weight, model.lm_head.weight):
            weights.sub_(torch.outer(weights @ q, q))
        if kind == "read":
            model.lm_head.weight.add_(READ * torch.outer(torch.randn(model.lm_head.weight.shape[0], generator=g), q))
        elif kind != "unread":
            raise ValueError(kind)
        attn = model.model.layers[LAYER].self_attn
        attn.v_proj.weight.zero_()
        attn.v_proj.bias.copy_(torch.randn(attn.v_proj.bias.shape, generator=g))
        per_head = attn.v_proj.bias.view(-1, attn.head_dim)
        groups = attn.o_proj.weight.shape[1] // attn.v_proj.bias.numel()
        concat = per_head.repeat_interleave(groups, dim=0).reshape(-1)  # each query head reads its kv head
        attn.o_proj.weight.copy_(torch.outer(q, concat) * SIZE / concat.dot(concat))
    return model.eval(), tok, q


def build(tmp_path_factory, kind: str):
    model, tok, _ = planted(kind)
    return save(model, tok, tmp_path_factory.mktemp(f"layer_rv_{kind}"))
