"""Run journal: lets an interrupted ``audit run`` resume without duplicating ledger records.

An invocation (the claim files, their hashes and the run options) gets a journal file under
``<out>/.journal/``. Just before each claim's record is appended to the ledger, the journal notes
its run id; a re-run of the same invocation reuses the records the ledger has under those ids and
runs the rest again (a kill between the two writes loses no record and duplicates none). A
finished run removes its journal. A journal directory that cannot be used (a file in its place,
read-only) is a ``JournalError`` when the journal is opened, before anything is computed.
"""

from __future__ import annotations

import hashlib
import json
import os
from pathlib import Path


class JournalError(Exception):
    """The journal under ``<out>/.journal`` cannot be read or written (one line for the user)."""


class Journal:
    def __init__(self, out_dir: Path, files: list[Path], options: dict):
        parts = [(str(f.resolve()), hashlib.sha256(f.read_bytes()).hexdigest() if f.is_file() else "") for f in files]
        key = hashlib.sha256(json.dumps([parts, options], sort_keys=True, default=str).encode()).hexdigest()[:24]
        self.path = Path(out_dir) / ".journal" / f"{key}.json"
        self._usable()
        try:
            self.done: dict[str, str] = json.loads(self.path.read_text())["done"]
        except (FileNotFoundError, ValueError, KeyError, TypeError):
            self.done = {}
        except OSError as exc:
            raise self._error("cannot be read", exc) from None
        if not isinstance(self.done, dict):
            self.done = {}

    def _usable(self) -> None:
        """The journal directory exists (created if needed) and is writable; JournalError otherwise."""
        folder = self.path.parent
        if os.path.lexists(folder) and not folder.is_dir():
            raise JournalError(f"run journal {folder}: not a directory (a file is in the way); move it away "
                               f"and run again (nothing was run or recorded)")
        try:
            folder.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            raise self._error("cannot be created", exc) from None
        if not os.access(folder, os.W_OK | os.X_OK):
            raise JournalError(f"run journal {folder}: the directory is not writable (read-only or no "
                               f"permission); fix its permissions and run again (nothing was run or recorded)")

    def _error(self, what: str, exc: OSError) -> JournalError:
        return JournalError(f"run journal {self.path}: {what} ({exc.strerror or exc})")

    @property
    def resuming(self) -> bool:
        return bool(self.done)

    def recorded_run(self, claim_file: Path) -> str | None:
        """The run id already in the ledger for this claim file in the interrupted run, if any."""
        return self.done.get(str(claim_file.resolve()))

    def mark(self, claim_file: Path, run_id: str) -> None:
        self.done[str(claim_file.resolve())] = run_id
        tmp = self.path.with_suffix(".tmp")
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            tmp.write_text(json.dumps({"done": self.done}))
            os.replace(tmp, self.path)
        except OSError as exc:
            raise self._error("cannot be written", exc) from None

    def finish(self) -> None:
        try:
            self.path.unlink(missing_ok=True)
        except OSError as exc:
            raise self._error("cannot be removed", exc) from None
