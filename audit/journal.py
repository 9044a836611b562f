"""Run journal: lets an interrupted ``audit run`` resume without duplicating ledger records.

An invocation (the claim files, their hashes and the run options) gets a journal file under
``<out>/.journal/``. Just before each claim's record is appended to the ledger, the journal notes
its run id; a re-run of the same invocation reuses the records the ledger has under those ids and
runs the rest again (a kill between the two writes loses no record and duplicates none). A
finished run removes its journal.
"""

from __future__ import annotations

import hashlib
import json
import os
from pathlib import Path


class Journal:
    def __init__(self, out_dir: Path, files: list[Path], options: dict):
        parts = [(str(f.resolve()), hashlib.sha256(f.read_bytes()).hexdigest() if f.is_file() else "") for f in files]
        key = hashlib.sha256(json.dumps([parts, options], sort_keys=True, default=str).encode()).hexdigest()[:24]
        self.path = Path(out_dir) / ".journal" / f"{key}.json"
        try:
            self.done: dict[str, str] = json.loads(self.path.read_text())["done"]
        except (FileNotFoundError, ValueError, KeyError):
            self.done = {}

    @property
    def resuming(self) -> bool:
        return bool(self.done)

    def recorded_run(self, claim_file: Path) -> str | None:
        """The run id already in the ledger for this claim file in the interrupted run, if any."""
        return self.done.get(str(claim_file.resolve()))

    def mark(self, claim_file: Path, run_id: str) -> None:
        self.done[str(claim_file.resolve())] = run_id
        self.path.parent.mkdir(parents=True, exist_ok=True)
        tmp = self.path.with_suffix(".tmp")
        tmp.write_text(json.dumps({"done": self.done}))
        os.replace(tmp, self.path)

    def finish(self) -> None:
        self.path.unlink(missing_ok=True)
