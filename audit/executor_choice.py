"""The executors by name (``--executor``): ``local`` (this process), ``processes`` (single-threaded
worker processes on this machine) or ``ray`` (Ray workers, the optional extra ``mi-audit[ray]``). One registry; an executor kind is a module plus a line here."""

from __future__ import annotations

from audit.executors import LocalExecutor
from audit.registry import Registry

EXECUTORS: Registry = Registry("executor")
EXECUTORS.register("local")(lambda **kwargs: LocalExecutor())


@EXECUTORS.register("processes")
def _processes(workers: int | None = None, fault: dict | None = None, **ray_options):
    from audit.process_executor import ProcessExecutor

    return ProcessExecutor(workers, fault)


@EXECUTORS.register("ray")
def _ray(**kwargs):
    from audit.ray_executor import RayExecutor

    kwargs.pop("workers", None)
    return RayExecutor(**kwargs)


def make_executor(name: str, **kwargs):
    """The executor named ``name``; kwargs go to the Ray executor (``workers`` to the processes one;
    the local one takes none)."""
    return EXECUTORS.get(name)(**kwargs)
