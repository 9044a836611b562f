"""Planted models for the shuffled-label control of ablation claims (re-paired answers).

The suite: prompts that repeat one letter ("k k k ... k"), answered by that letter; two families
(a-m, n-z). Two 2-layer Qwen2 models, every write silenced but the planted one:

- ``copying``: layer 0's attention attends uniformly (query and key zeroed) and writes the mean
  of its inputs' first 16 dimensions, and the unembedding reads those dimensions off the letters'
  embeddings: the prompt's letter is predicted *because of* L0.attn. Ablating it raises the NLL of
  the prompt's own answer far more than of another prompt's: the control must pass.
- ``format``: layer 1's attention writes a constant (value bias only) along one direction that
  the unembedding gives every letter, by an amount that differs per letter and not per prompt.
  Ablating it lowers all letters together: the own answer's NLL rises (the main criterion alone is
  supported), but no more than a re-paired answer's: the control must refute.
"""

import string

import torch
import yaml

from tests.conftest import save, tiny_model

LETTERS = string.ascii_lowercase
REPEAT = 12
WIDTH = 16  # the copied dimensions (value heads 0 and 1 of the GQA layout)


def suite(d, same_first_token: bool = False):
    """The letters suite. ``same_first_token``: each family repeats one letter (c, q) a different
    number of times, so every answer of a family is the same and no prompt can be re-paired."""
    families = {}
    for name, letters in (("early", LETTERS[:13]), ("late", LETTERS[13:])):
        prompts = [{"id": f"{name}-{c}", "prompt": " ".join([c] * REPEAT), "answer": c} for c in letters]
        if same_first_token:
            c = letters[2]
            prompts = [{"id": f"{name}-{k}", "prompt": " ".join([c] * k), "answer": c} for k in range(8, 21)]
        families[name] = {"description": f"repeat one of {letters[0]}-{letters[-1]}", "prompts": prompts}
    path = d / ("same.yaml" if same_first_token else "letters.yaml")
    path.write_text(yaml.safe_dump({"name": "letters", "version": 1, "families": families}))
    return path


def _silence(model):
    for block in model.model.layers:
        block.mlp.down_proj.weight.zero_()
        block.self_attn.o_proj.weight.zero_()


def _letter_ids(tok):
    return [tok.convert_tokens_to_ids(c) for c in LETTERS]


def copying(d):
    model, tok = tiny_model("qwen2", n_layers=2, seed=3)
    hidden = model.config.hidden_size
    with torch.no_grad():
        _silence(model)
        attn = model.model.layers[0].self_attn
        for proj in (attn.q_proj, attn.k_proj):
            proj.weight.zero_()
            proj.bias.zero_()
        attn.v_proj.weight.copy_(torch.eye(hidden)[:WIDTH])  # kv head 0: dims 0-7, kv head 1: dims 8-15
        attn.v_proj.bias.zero_()
        attn.o_proj.weight[:8, :8] = 4 * torch.eye(8)  # query head 0 reads kv head 0
        attn.o_proj.weight[8:16, 16:24] = 4 * torch.eye(8)  # query head 2 reads kv head 1
        emb = model.model.embed_tokens.weight
        head = torch.zeros_like(model.lm_head.weight)
        ids = _letter_ids(tok)
        head[ids, :WIDTH] = 12 * emb[ids, :WIDTH] / emb[ids, :WIDTH].norm(dim=-1, keepdim=True)
        model.lm_head.weight.copy_(head)
    return save(model, tok, d / "copying")


def format_boost(d):
    model, tok = tiny_model("qwen2", n_layers=2, seed=3)
    with torch.no_grad():
        _silence(model)
        model.model.embed_tokens.weight[:, -1] = 0  # nothing else writes along the boosted direction
        attn = model.model.layers[1].self_attn
        attn.v_proj.weight.zero_()
        attn.v_proj.bias.zero_()
        attn.v_proj.bias[0] = 1.0  # kv head 0, dim 0: a constant
        attn.o_proj.weight[-1, 0] = 0.3  # query head 0 writes it along the last dimension (~1.4 after the norm)
        head = model.lm_head.weight
        head[:, -1] = 0
        gen = torch.Generator().manual_seed(7)
        head[_letter_ids(tok), -1] = 1.5 + 0.5 * torch.rand(len(LETTERS), generator=gen)
    return save(model, tok, d / "format")
