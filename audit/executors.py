"""Where evidence units are computed: in this process (``local``) or on Ray workers (``ray``).

An executor computes the *missing* units of a sweep and yields them batch by batch; the caller
(the driver) alone writes the content-hash cache and the ledger, whichever executor ran. Units of
one model go to one worker, so weights load once per worker, not once per unit or claim.
"""

from __future__ import annotations

from typing import Iterator

class UnitFailed(RuntimeError):
    """An evidence unit could not be computed (after the executor's retries)."""


class LocalExecutor:
    """Units computed in this process, on the model the runner loaded."""

    name = "local"

    def evidence(self, ctx):
        """The claim's evidence, from the builder registered for its intervention kind."""
        from audit.evidence import BUILDERS

        return BUILDERS.get(ctx.lc.claim.intervention.kind)(ctx)

    def layer_sweep(self, ctx, spec, batches: list, layers: list[int], reuse_prefix: bool) -> Iterator[dict]:
        from interventions.sweep import sweep_batches

        if not batches:
            return
        yield from sweep_batches(ctx.loaded.model, ctx.adapter, spec, batches, layers, ctx.progress.advance,
                                 reuse_prefix=reuse_prefix)

    def close(self) -> None:
        pass

    def describe(self) -> dict:
        return {"executor": "local"}
