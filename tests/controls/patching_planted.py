"""Planted patching truths for the random-subspace and negative-position controls.

A 4-layer Llama (hidden 32, byte tokenizer) whose every write is zeroed except the planted ones,
on orthonormal directions ``c0, u, r, J, z, r2`` removed from every embedding and read-out row
first. Every token carries ``3 c0`` (a constant channel: RMS-normed inputs keep a steady ``c0``
coordinate, so a gate on it is a constant); the marker ``B`` (the clean runs' letter) carries
``4 u``, ``C`` (the corrupt runs') none. Layer 0's attention averages every earlier ``u`` into each
position (zero queries and keys: uniform weights). Layer 1's MLP — the claimed component — writes
``down`` times its ``u`` coordinate (gate on ``c0``): present in clean runs, absent in corrupt ones.

- ``aligned``: the write is the read-out direction ``r`` (the answer reads ``r``, and a little of
  the marker ``u`` itself, so that recovery varies from pair to pair): a path in one direction; a
  random k-dimensional slice of it carries about k/32 of it.
- ``generic``: the write is ``r + 30 J``, ``J`` orthogonal to ``r``, read as in ``aligned``: the
  whole patch recovers as there, but a random slice of the large ``J`` part reaches ``r`` with either sign and
  any size — random subspaces recover as much as the whole component, and more.
- ``dormant``: the write is ``J`` alone, which nothing reads (the answer reads the marker ``u``
  itself); layer 2's MLP is an even detector of ``z`` (``|z . x|``-like) writing towards the clean
  answer. Clean and corrupt runs have no ``z``: the whole patch changes nothing, but any random
  slice of ``J`` has a ``z`` part, and the detector moves the output (Makelov et al. 2024).
- ``everywhere``: the write is ``r`` and the answer reads only ``r2``, which layer 2's attention
  fills with the average ``r`` over every position: each position's write counts the same.
"""

from __future__ import annotations

import torch

from tests.conftest import save, tiny_model

KINDS = ("aligned", "generic", "dormant", "everywhere")


def _directions(hidden: int, k: int, seed: int) -> list[torch.Tensor]:
    g = torch.Generator().manual_seed(seed)
    q, _ = torch.linalg.qr(torch.randn(hidden, k, generator=g))
    return [q[:, i].contiguous() for i in range(k)]


def _uniform_attention(attn, read: torch.Tensor, write: torch.Tensor) -> None:
    """Zero queries and keys (uniform causal weights); head 0's value reads ``read``, its output
    writes ``write``."""
    attn.q_proj.weight.zero_()
    attn.k_proj.weight.zero_()
    attn.v_proj.weight.zero_()
    attn.v_proj.weight[0] = read
    attn.o_proj.weight[:, 0] = write


def planted_model(kind: str):
    if kind not in KINDS:
        raise ValueError(kind)
    model, tok = tiny_model("llama", n_layers=4, seed=3)
    c0, u, r, big, z, r2 = directions().values()
    tid = tok.convert_tokens_to_ids
    with torch.no_grad():
        emb, unemb = model.model.embed_tokens.weight, model.lm_head.weight
        for mat in (emb, unemb):
            for d in (c0, u, r, big, z, r2):
                mat.sub_(torch.outer(mat @ d, d))
        emb += 3.0 * c0
        emb[tid("B")] += 4.0 * u
        for block in model.model.layers:
            block.self_attn.o_proj.weight.zero_()
            block.mlp.down_proj.weight.zero_()
        _uniform_attention(model.model.layers[0].self_attn, u, 4.0 * u)
        mlp = model.model.layers[1].mlp
        mlp.gate_proj.weight.zero_()
        mlp.up_proj.weight.zero_()
        mlp.gate_proj.weight[0], mlp.up_proj.weight[0] = c0, u
        mlp.down_proj.weight[:, 0] = {"aligned": r, "generic": r + 30.0 * big, "dormant": big,
                                      "everywhere": r}[kind]
        read = {"dormant": u, "everywhere": r2}.get(kind, r + 0.5 * u)
        unemb[tid("B")], unemb[tid("C")] = read, -read
        if kind == "dormant":
            det = model.model.layers[2].mlp
            det.gate_proj.weight.zero_()
            det.up_proj.weight.zero_()
            det.gate_proj.weight[0], det.up_proj.weight[0] = 4.0 * z, z
            det.gate_proj.weight[1], det.up_proj.weight[1] = -4.0 * z, -z
            det.down_proj.weight[:, 0] = det.down_proj.weight[:, 1] = 2.0 * u
        if kind == "everywhere":
            _uniform_attention(model.model.layers[2].self_attn, r, 4.0 * r2)
    return model.eval(), tok


FILLERS = ["go", "go on", "now go", "go on now", "so go", "go go", "we go", "go so on"]


def pairs_suite(path, where: str):
    """Eight pairs in one family, clean with marker B and answer B, corrupt with C: the marker
    ``last`` (after the filler), ``first`` (before it) or ``every`` position (B repeated)."""
    def text(letter, i, f):
        return {"last": f"{f} {letter}", "first": f"{letter} {f}", "every": letter * (i + 2)}[where]

    rows = "\n".join(f'    - {{id: q{i}, clean: "{text("B", i, f)}", clean_answer: "B", corrupt: "{text("C", i, f)}", '
                     f'corrupt_answer: "C"}}' for i, f in enumerate(FILLERS))
    path.write_text(f'name: pairs\nversion: 1\nfamilies:\n  w:\n    prompts: [{{id: w-0, prompt: "x", answer: "y"}}]\n'
                    f"pairs:\n  w:\n{rows}\n")
    return path


def directions() -> dict:
    """The planted models' orthonormal directions by name (the same in every model)."""
    return dict(zip(("c0", "u", "r", "big", "z", "r2"), _directions(32, 6, seed=17)))


def build(tmp_path_factory, kind: str):
    model, tok = planted_model(kind)
    return save(model, tok, tmp_path_factory.mktemp(f"subspace_{kind}"))


def patching_claim(tmp_path, model_dir, suite, component: str, controls: str, name: str,
                   positions: str = "[last]", threshold: float = 0.2, intervention: str = ""):
    """A planted patching claim; ``intervention``: further lines of the intervention mapping."""
    from tests.interventions.test_ablation import claim_file

    from audit.schema import load_claim

    lc = claim_file(tmp_path, model_dir, f"  kind: patching\n  target: mlp\n  positions: {positions}\n  min_gap: 0.01"
                                         + intervention,
                    f"  kind: effect_at_least\n  component: {component}\n  threshold: {threshold}", name=name,
                    families="[w]", prompts=5, suite=suite)
    lc.path.write_text(lc.path.read_text().replace("controls: {seeds: [1, 2, 3]}",
                                                   f"controls: {{seeds: [1, 2, 3], {controls}}}"))
    return load_claim(lc.path)
