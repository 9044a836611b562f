"""Where evidence units are computed: in this process (``local``) or on Ray workers (``ray``).

An executor takes the tasks of a claim's plan whose units are missing (:mod:`audit.units`) and
yields ``(task, value)`` as each finishes; the caller (the driver) alone writes the content-hash
cache and the ledger, whichever executor ran. Every kind's tasks go through the same contract; on
Ray, tasks of one model go to that model's workers, so weights load once per worker.
"""

from __future__ import annotations

from typing import Iterator

class UnitFailed(RuntimeError):
    """An evidence unit could not be computed (after the executor's retries)."""


class LocalExecutor:
    """Units computed in this process, on the model the runner loaded, in plan order."""

    name = "local"

    def compute(self, ctx, tasks: list) -> Iterator[tuple]:
        """``(task, value)`` per task (see :mod:`audit.units`)."""
        from audit.units import compute

        for task in tasks:
            yield task, compute(ctx, task)

    def close(self) -> None:
        pass

    def describe(self) -> dict:
        return {"executor": "local"}
