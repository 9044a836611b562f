"""The ledger: append-only JSONL, one record per claim run, never rewritten.

Each record is written with a single ``write`` on a file opened in append mode and fsynced, so a
crash can at worst leave a partial *last* line; readers skip (and report) such a line and the
next append starts on a fresh line, so earlier records are never corrupted.
"""

from __future__ import annotations

import json
import os
from pathlib import Path

SCHEMA_VERSION = 1
LEDGER_NAME = "ledger.jsonl"


def ledger_path(out_dir: Path) -> Path:
    return Path(out_dir) / LEDGER_NAME


def append(out_dir: Path, record: dict) -> None:
    """Append one record (a JSON object) to the ledger under ``out_dir``."""
    path = ledger_path(out_dir)
    path.parent.mkdir(parents=True, exist_ok=True)
    line = json.dumps({"schema_version": SCHEMA_VERSION, **record}, sort_keys=False, default=str)
    fd = os.open(path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o644)
    try:
        prefix = b"" if _ends_clean(fd, path) else b"\n"
        os.write(fd, prefix + line.encode() + b"\n")
        os.fsync(fd)
    finally:
        os.close(fd)


def _ends_clean(fd: int, path: Path) -> bool:
    size = os.fstat(fd).st_size
    if size == 0:
        return True
    with open(path, "rb") as f:
        f.seek(size - 1)
        return f.read(1) == b"\n"


def read(out_dir: Path) -> tuple[list[dict], list[str]]:
    """All complete records, and warnings for lines that are not (e.g. cut by a crash)."""
    path = ledger_path(out_dir)
    if not path.exists():
        return [], []
    records, warnings = [], []
    for n, line in enumerate(path.read_text(encoding="utf-8").splitlines(), start=1):
        if not line.strip():
            continue
        try:
            rec = json.loads(line)
        except json.JSONDecodeError:
            warnings.append(f"{path}:{n}: skipped an incomplete ledger line (a crash during a write?)")
            continue
        if isinstance(rec, dict):
            records.append(rec)
    return records, warnings


def latest_per_claim(records: list[dict]) -> dict[str, dict]:
    """The most recent record of each claim id, in first-seen order."""
    latest: dict[str, dict] = {}
    for rec in records:
        latest.pop(rec.get("claim_id"), None)
        latest[rec.get("claim_id")] = rec
    return latest
