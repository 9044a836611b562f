"""Metrics on next-token distributions at the answer position (per prompt, in nats)."""

from __future__ import annotations

import torch

from audit.registry import Registry

METRICS: Registry = Registry("metric kind")


class DegenerateLogits(RuntimeError):
    """The intervened model produced NaN or infinite log-probabilities."""


def kl_divergence(p_logprobs: torch.Tensor, q_logprobs: torch.Tensor) -> torch.Tensor:
    """KL(p || q) in nats over the last dimension, from log-probabilities (broadcasting): the one
    KL every metric, check and control uses."""
    return (p_logprobs.exp() * (p_logprobs - q_logprobs)).sum(-1)


@METRICS.register("kl")
def kl(base: torch.Tensor, ablated: torch.Tensor, targets: torch.Tensor) -> torch.Tensor:
    """KL(base || ablated) of the next-token distribution, per row."""
    return kl_divergence(base, ablated)


@METRICS.register("nll_increase")
def nll_increase(base: torch.Tensor, ablated: torch.Tensor, targets: torch.Tensor) -> torch.Tensor:
    """Increase of the target token's negative log-likelihood, per row."""
    idx = targets.unsqueeze(-1)
    return base.gather(-1, idx).squeeze(-1) - ablated.gather(-1, idx).squeeze(-1)


def all_metrics(base: torch.Tensor, ablated: torch.Tensor, targets: torch.Tensor) -> dict[str, list[float]]:
    """Every registered metric per row; NaN/inf anywhere is an error, not a number."""
    if not torch.isfinite(ablated).any(-1).all():
        raise DegenerateLogits("intervened log-probabilities are not finite")
    out = {}
    for name, fn in METRICS.items():
        values = fn(base, ablated, targets)
        if not torch.isfinite(values).all():
            raise DegenerateLogits(f"metric {name} is not finite")
        out[name] = [float(v) for v in values]
    return out


def nll_increase_at(base: torch.Tensor, ablated: torch.Tensor, candidates: list[list[int]]) -> list[list[float]]:
    """Per row, the NLL increase of each of its candidate tokens (other answers' first tokens: the
    shuffled-label control's re-paired answers); NaN/inf is an error."""
    out = []
    for row, tokens in enumerate(candidates):
        idx = torch.tensor(tokens, dtype=torch.long)
        values = base[row, idx] - ablated[row, idx]
        if not torch.isfinite(values).all():
            raise DegenerateLogits("nll_increase at a re-paired answer is not finite")
        out.append([float(v) for v in values])
    return out
