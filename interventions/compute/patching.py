"""Ops of ``patching``: one batch of counterfactual pairs, each component patched in turn."""

from __future__ import annotations

from audit.unit_ops import unit_op

ANSWER_POSITION_PATH = True  # components at the answer position recompute only the answer token


def at_answer(comp) -> bool:
    """A component whose patch touches the answer position only, inside the decoder layers."""
    return comp.position in ("last", "answer") and (comp.target != "module" or "layers." in comp.module)


@unit_op("patching.batch")
def patch_batch(ctx, spec, comps, clean, corrupt, keys: list[str], basis=None) -> dict:
    """``{key: {"clean": LD, "corrupt": LD, "patched": [LD per component]}}`` for the pairs of the
    ``clean`` batch and its ``corrupt`` batch (same prompt order and lengths, so same padding and
    aligned positions). LD: the logit difference clean answer - corrupt answer. ``basis`` ([d, k],
    orthonormal; a claimed subspace of the one component): the patch is the target's activation plus
    the projection of (source - target) onto it, and ``"whole"`` holds the whole component's LD."""
    whole = [(c, lambda src, tgt, c=c: src[c.label]) for c in comps]
    if basis is None:
        return _patched(ctx, spec, comps, clean, corrupt, keys, whole)
    out = _patched(ctx, spec, comps, clean, corrupt, keys, [(comps[0], _projected(comps[0], basis))] + whole)
    return {key: {**u, "patched": u["patched"][:1], "whole": u["patched"][1]} for key, u in out.items()}


def _projected(comp, q):
    """The patch of ``comp`` restricted to the span of ``q`` ([d, k], orthonormal columns)."""
    return lambda src, tgt: tgt[comp.label] + (src[comp.label] - tgt[comp.label]) @ q @ q.T


@unit_op("patching.random_subspace")
def random_subspace(ctx, spec, comp, clean, corrupt, seed: int, n: int, dim: int, keys: list[str]) -> dict:
    """The random-subspace control's patches of ``comp``: per draw, the target run's activation plus
    the projection of (source - target) onto a random ``dim``-dimensional subspace (orthonormal
    basis: QR of a Gaussian seeded by ``controls.random_subspace.basis_seed(seed, draw, label)``).
    Same unit shape as ``patching.batch``, one patched LD per draw."""
    from controls.random_subspace import basis_seed

    return _patched(ctx, spec, [comp], clean, corrupt, keys,
                    lambda width: [(comp, _projected(comp, _basis(width, dim, basis_seed(seed, d, comp.label))))
                                   for d in range(n)])


def _basis(width: int, dim: int, seed: int):
    """An orthonormal ``[width, dim]`` basis of a uniformly random subspace (QR of a seeded Gaussian)."""
    import torch

    q, r = torch.linalg.qr(torch.randn(width, dim, generator=torch.Generator().manual_seed(seed)))
    return q * torch.sign(torch.diagonal(r))  # the sign convention that makes the draw Haar-uniform


def _patched(ctx, spec, comps, clean, corrupt, keys: list[str], patches) -> dict:
    """Run each patch ``(comp, values(source_acts, target_acts) -> [batch, width, d])`` on the target
    run (``patches`` may be a function of the site's width ``d``, called once the activations are
    known); the source's activations are captured in the same pass as its logit difference."""
    import torch

    from interventions.ablation import capture_hooks
    from interventions.engine import answer_position_run, full_forward, replay, trace_base, trace_prefix
    from interventions.hooks import hooked

    model, ablation = ctx.loaded.model, spec.as_ablation()
    source, target = (clean, corrupt) if spec.direction == "denoise" else (corrupt, clean)
    src, tgt = {}, {}
    # one pass over the source run gives both its activations and its logit difference
    source_lp = full_forward(model, source, capture_hooks(ctx.adapter, model, comps, src))
    rows = torch.arange(len(clean.prompt_ids))
    ld = lambda lp: (lp.cpu()[rows, clean.target_ids] - lp.cpu()[rows, corrupt.target_ids]).tolist()  # noqa: E731
    with hooked(capture_hooks(ctx.adapter, model, comps, tgt)):
        trace = trace_base(model, ctx.adapter, target)
    source_ld, target_ld = ld(source_lp), ld(trace.logprobs)
    clean_ld, corrupt_ld = (source_ld, target_ld) if spec.direction == "denoise" else (target_ld, source_ld)
    if callable(patches):
        patches = patches(src[comps[0].label].shape[-1])
    fast = ANSWER_POSITION_PATH and any(at_answer(c) for c, _ in patches)
    prefix = trace_prefix(model, ctx.adapter, target) if fast else None
    # the one-token path's own unpatched LD: a patch is its shift from that, added to the target's LD,
    # so a patch that changes nothing gives the target's LD exactly (a tie, whatever the thread count)
    fast_base = ld(prefix.logprobs) if fast else None
    patched = []
    for comp, values in patches:
        value = values(src, tgt)
        if fast and at_answer(comp):  # exact: earlier positions' keys and values cannot change
            hooks = ablation.hooks(ctx.adapter, model, comp, target.attention_mask[:, -1:], value[:, -1:])
            moved = ld(answer_position_run(model, ctx.adapter, prefix, comp.layer, hooks))
            patched.append([t + (m - b) for t, m, b in zip(target_ld, moved, fast_base)])
            continue
        hooks = ablation.hooks(ctx.adapter, model, comp, target.attention_mask, value)
        patched.append(ld(replay(model, ctx.adapter, trace, comp.layer, hooks)))
    return {key: {"clean": clean_ld[row], "corrupt": corrupt_ld[row], "patched": [p[row] for p in patched]}
            for row, key in enumerate(keys)}


@unit_op("patching.shuffled_pairs")
def shuffled_pairs(ctx, spec, comp, pairs: dict, draws: list[dict[str, str]], key: str) -> dict:
    """The claimed component patched from *another* pair's source run (the shuffled-pairs control):
    per draw ``{target pair id: donor pair id}``, the patched logit difference of every target pair
    (its own clean / corrupt answers), the donor's activations right-aligned to the target's
    positions (answer position to answer position). ``pairs``: ``{id: (clean, corrupt)}``."""
    from audit.encoding import batches
    from interventions.compute.ablation import capture_real_positions, donor_aligned
    from interventions.engine import replay, trace_base

    model, tok, size, ablation = ctx.loaded.model, ctx.loaded.tokenizer, ctx.options.batch_size, spec.as_ablation()
    side = 0 if spec.direction == "denoise" else 1  # the run activations come from
    ids = sorted(pairs)
    acts = capture_real_positions(model, ctx.adapter, [comp], batches(tok, [pairs[i][side] for i in ids], size))
    out: list[dict[str, float]] = [{} for _ in draws]
    for cb in batches(tok, [pairs[i][0] for i in ids], size):
        kb = batches(tok, [pairs[i][1] for i in cb.prompt_ids], len(cb.prompt_ids))[0]
        target = kb if spec.direction == "denoise" else cb
        trace = trace_base(model, ctx.adapter, target)
        answers = {pid: (int(cb.target_ids[r]), int(kb.target_ids[kb.prompt_ids.index(pid)]))
                   for r, pid in enumerate(cb.prompt_ids)}
        for d, donor_of in enumerate(draws):
            values = donor_aligned(target, comp.label, acts, donor_of)
            lp = replay(model, ctx.adapter, trace, comp.layer,
                        ablation.hooks(ctx.adapter, model, comp, target.attention_mask, values)).cpu()
            for row, pid in enumerate(target.prompt_ids):
                clean_answer, corrupt_answer = answers[pid]
                out[d][pid] = float(lp[row, clean_answer] - lp[row, corrupt_answer])
    return {key: out}
