"""The random-vector control: N seeded random directions applied exactly like the real one.

Each draw is a unit vector (standard Gaussian, normalised: uniform on the sphere), applied with the
same alpha, scale, layer and positions as the steering direction, which is unit too: the draws
have the real direction's norm. If random directions of that norm move the behavior as much as
the real one (the observed effect inside the null's bulk), the effect is about perturbation size,
not the direction: the control refutes the claim.

Determinism: the draws of claim seed s at layer L come from one generator seeded from
``sha256("random_vector:s:L")``; the same claim gives the same vectors on every machine. All N
draws are returned as one [N, H] batch and applied as a batch of steering vectors.
"""

from __future__ import annotations

import hashlib

NAME = "random_vector"
DEFAULT_N = 199  # the smallest attainable p is 1 / (N + 1) = 0.005


def derived_seed(*parts) -> int:
    """A 63-bit seed from the parts (stable across processes, unlike ``hash``)."""
    blob = ":".join(str(p) for p in parts).encode()
    return int.from_bytes(hashlib.sha256(blob).digest()[:8], "big") >> 1


def random_directions(seed: int, layer: int, n: int, hidden: int):
    """[n, hidden] float32 unit vectors, uniform on the sphere, seeded by (claim seed, layer)."""
    import torch

    if n < 1:
        raise ValueError("the random-vector control needs at least one draw")
    gen = torch.Generator(device="cpu").manual_seed(derived_seed(NAME, seed, layer))
    v = torch.randn(n, hidden, generator=gen, dtype=torch.float32)
    return v / v.norm(dim=-1, keepdim=True)


def describe(vectors, observed) -> dict:
    """Diagnostics: the draws' |cos| with the observed direction (random ones are ~0 +- 1/sqrt(H))
    and their norm relative to it (1 here: the draws are matched to the real direction's norm)."""
    import torch

    norms = vectors.norm(dim=-1)
    cos = (vectors @ observed).abs() / (norms * observed.norm())
    ratio = norms / observed.norm()
    return {"n": int(vectors.shape[0]), "mean_abs_cos_with_observed": float(cos.mean()),
            "median_abs_cos_with_observed": float(torch.median(cos)), "max_abs_cos_with_observed": float(cos.max()),
            "median_norm_ratio": float(torch.median(ratio)), "max_norm_ratio": float(ratio.max())}
