"""From a run's working ledger to the published one: ``audit publish`` merges, gates, then writes.

Runs write to a working directory (the project's ``work_dir``, ``audit-out/``); the published
directory (``reports/``) changes only here, and only when the gate passes on the merged ledger:
the published ledger's records, then the working ledger's records it does not have yet (by
``run_id``, in their order). The published ledger stays append-only: its bytes are kept and the
new lines go after them, so the baseline's lock over its first bytes still holds.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from audit import ledger


@dataclass
class Merge:
    published: list[dict]   # the published ledger's usable records
    new: list[dict]         # working records the published ledger lacks, in order
    work_warnings: list[str]

    @property
    def records(self) -> list[dict]:
        return self.published + self.new

    def ledger_bytes(self, published_bytes: bytes) -> bytes:
        """The bytes the published ledger will have: its own, then one line per new record."""
        head = published_bytes if not published_bytes or published_bytes.endswith(b"\n") else published_bytes + b"\n"
        return head + b"".join(ledger.line(r) for r in self.new)


def merge(published_dir: Path, work_dir: Path | None) -> Merge:
    """The published records and the working ones not yet published (LedgerError: unreadable)."""
    published, _ = ledger.load(published_dir)  # its unusable lines: the gate reads them from the bytes
    if work_dir is None or Path(work_dir).resolve() == Path(published_dir).resolve():
        return Merge(published, [], [])
    work, work_bad = ledger.load(work_dir)
    have = {r.get("run_id") for r in published}
    new, seen = [], set()
    for r in work:
        rid = r.get("run_id")
        if rid and rid not in have and rid not in seen:
            seen.add(rid)
            new.append(r)
    return Merge(published, new, [str(b) for b in work_bad])


def write(published_dir: Path, m: Merge) -> None:
    """Append the new records to the published ledger (LedgerError when one cannot be written)."""
    for r in m.new:
        ledger.append(published_dir, r)
