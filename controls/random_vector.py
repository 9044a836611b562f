"""The random-vector control: N seeded random directions applied exactly like the real one.

Each draw is a unit vector (standard Gaussian, normalised: uniform on the sphere), applied with the
same alpha, scale, layer and positions as the steering direction, hence with the same norm. If a
random direction of that norm moves the behavior as much as the real one, the effect is about
perturbation size, not the direction: the control refutes the claim.

Determinism: draw i of claim seed s at layer L comes from its own generator seeded from
``sha256("random_vector:s:L")``; the same claim gives the same vectors on every machine.
"""

from __future__ import annotations

import hashlib

NAME = "random_vector"
DEFAULT_N = 32


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
    """Diagnostics: the draws' cosine with the observed direction (random ones are ~0 +- 1/sqrt(H))."""
    cos = (vectors @ observed).abs()
    return {"n": int(vectors.shape[0]), "mean_abs_cos_with_observed": float(cos.mean()),
            "max_abs_cos_with_observed": float(cos.max())}
