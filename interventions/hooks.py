"""Forward hooks in a context manager that always removes them and counts how often each fired.

An intervention that never fired is a silent no-op; the engine turns it into an error.
"""

from __future__ import annotations

from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Callable


class InterventionNotApplied(RuntimeError):
    """A hook that should have changed the forward pass never ran."""


@dataclass
class Hook:
    """A forward hook on ``module``: ``fn(module, args, kwargs, output) -> new output``; with
    ``pre=True`` a pre-hook ``fn(module, args, kwargs) -> (args, kwargs)`` that edits the inputs."""

    module: object
    fn: Callable
    name: str
    fired: int = field(default=0)
    pre: bool = False


@contextmanager
def hooked(hooks: list[Hook]):
    """Install forward hooks (with kwargs) for the duration of the block; remove them even on error."""
    handles = []

    def counting(h: Hook):
        def run(module, *rest):
            h.fired += 1
            return h.fn(module, *rest)

        return run

    try:
        for h in hooks:
            register = h.module.register_forward_pre_hook if h.pre else h.module.register_forward_hook
            handles.append(register(counting(h), with_kwargs=True))
        yield hooks
    finally:
        for handle in handles:
            handle.remove()


def require_fired(hooks: list[Hook]) -> None:
    """Raise if any hook never fired (the intervention did not happen)."""
    silent = [h.name for h in hooks if h.fired == 0]
    if silent:
        raise InterventionNotApplied(f"intervention hooks never fired: {', '.join(silent)}")


def first_output(output):
    """The hidden-state tensor of a module output (tensor or tuple whose first item it is)."""
    return output[0] if isinstance(output, tuple) else output


def replace_output(output, tensor):
    """Rebuild a module output with its hidden-state tensor replaced."""
    return (tensor,) + tuple(output[1:]) if isinstance(output, tuple) else tensor


def hidden_input(args, kwargs):
    """The hidden-state input of a decoder layer call (positional or keyword)."""
    return args[0] if args else kwargs["hidden_states"]


def layer_write(args, kwargs, output):
    """A decoder layer's write to the residual stream: its output minus its input."""
    return first_output(output) - hidden_input(args, kwargs)


def same_norm_perturbation(module, removed: Callable, direction, name: str) -> Hook:
    """A hook on ``module`` that, instead of removing what an ablation removes there, moves its
    output x by the same amount per token in one fixed direction: x_t - ||d_t|| u, with
    ``d_t = removed(args, kwargs, output)[t]`` and ``direction`` u a unit vector ([hidden]). Acts
    on each token alone (the random-vector null of a layer ablation: controls/layer_random_vector.py)."""
    import torch

    def perturb(module, args, kwargs, output):
        x = first_output(output)
        size = removed(args, kwargs, output).float().norm(dim=-1, keepdim=True)
        return replace_output(output, (x.float() - size * direction.to(x.device, torch.float32)).to(x.dtype))

    return Hook(module, perturb, name)
