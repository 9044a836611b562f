"""How a claim is run (:class:`RunOptions`) and where progress goes (:class:`Progress`)."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Callable, Optional

from audit.cache import EvidenceCache
from audit.executors import LocalExecutor


@dataclass
class RunOptions:
    model: str | None = None
    dtype: str = "float32"
    device: str = "cpu"  # cpu | cuda | auto
    allow_download: bool = False
    batch_size: int = 16
    trace_budget_mb: int = 1024  # recorded layer inputs per batch; beyond it: smaller batches, then recompute
    evidence_cache: EvidenceCache = field(default_factory=EvidenceCache)
    executor: object = field(default_factory=LocalExecutor)  # where evidence units are computed (local | ray)
    model_label: str | None = None  # what the record names as the model when ``model`` is a materialised object
    model_provenance: dict = field(default_factory=dict)  # e.g. the object's class and peft adapter
    # how a claim this one builds on is run: ``(lc, options, progress) -> record`` (the runner sets
    # its own run_claim; evidence builders call it, so they never import the runner)
    run_dependency: Optional[Callable] = None


class Progress:
    """Progress sink; the CLI plugs a rich progress bar in."""

    def start(self, total: int, description: str) -> None: ...

    def advance(self, n: int = 1) -> None: ...
