"""The executors by name (``--executor``): ``local`` (this process) or ``ray`` (Ray workers, the
optional extra ``mi-audit[ray]``). One registry; an executor kind is a module plus a line here."""

from __future__ import annotations

from audit.executors import LocalExecutor
from audit.registry import Registry

EXECUTORS: Registry = Registry("executor")
EXECUTORS.register("local")(lambda **kwargs: LocalExecutor())


@EXECUTORS.register("ray")
def _ray(**kwargs):
    from audit.ray_executor import RayExecutor

    return RayExecutor(**kwargs)


def make_executor(name: str, **kwargs):
    """The executor named ``name``; kwargs go to the Ray executor (the local one takes none)."""
    return EXECUTORS.get(name)(**kwargs)
