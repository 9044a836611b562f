"""Content-addressed evidence cache: each evidence unit is stored under the hash of everything
that determines it (model weights, dtype, intervention spec, exact token ids, engine version).

Writes are atomic (temp file + rename), so a killed run leaves only complete entries and a
re-run resumes from them. Errors are never cached: only finished units are written.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import tempfile
from pathlib import Path

ENGINE_VERSION = 1  # bump when the numbers an engine produces change


def evidence_cache_dir() -> Path:
    env = os.environ.get("MI_AUDIT_EVIDENCE_CACHE")
    if env:
        return Path(env)
    from audit.models import cache_root

    return cache_root() / "evidence"


def unit_key(**parts) -> str:
    """sha256 of the canonical JSON of the parts that determine a unit's result."""
    blob = json.dumps({"engine": ENGINE_VERSION, **parts}, sort_keys=True, default=str, separators=(",", ":"))
    return hashlib.sha256(blob.encode()).hexdigest()


class EvidenceCache:
    """get/put of JSON values by key; disabled caches never hit and never write."""

    def __init__(self, root: Path | None = None, enabled: bool = True):
        self.root = Path(root) if root else evidence_cache_dir()
        self.enabled = enabled
        self.hits = self.misses = self.writes = 0

    def _path(self, key: str) -> Path:
        return self.root / key[:2] / f"{key}.json"

    def get(self, key: str):
        value = self._lookup(key) if self.enabled else None
        if value is None:
            self.misses += 1
        else:
            self.hits += 1
        return value

    def _lookup(self, key: str):
        return read_json(self._path(key))

    def adapter_dir(self, key: str) -> Path:
        """Where a trained adapter (a directory of files, not one JSON value) lives."""
        return self.root / "adapters" / key

    def put(self, key: str, value) -> None:
        if not self.enabled:
            return
        write_atomic(self._path(key), json.dumps(value).encode())
        self.writes += 1

    def absorb(self, returned: dict) -> None:
        """Write what a worker computed (see :class:`audit.worker_cache.WorkerCache`): this
        process stays the cache's only writer. An adapter's ``metrics.json`` is written last,
        since its presence marks the adapter complete."""
        for key, value in returned["units"].items():
            self.put(key, value)
        if self.enabled:
            for rel, blob in sorted(returned["files"].items(), key=lambda kv: kv[0].endswith("metrics.json")):
                write_atomic(self.root / rel, blob)
        self.hits += returned["stats"]["hits"]
        self.misses += returned["stats"]["misses"]

    def stats(self) -> dict:
        return {"enabled": self.enabled, "hits": self.hits, "misses": self.misses, "writes": self.writes}


def read_json(path: Path):
    """The JSON value at ``path``, or None if it is missing or torn."""
    try:
        return json.loads(path.read_text())
    except (FileNotFoundError, json.JSONDecodeError):
        return None


def write_atomic(path: Path, blob: bytes) -> None:
    """Write ``blob`` to ``path`` via a temp file and rename: readers never see a partial file."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=".tmp-")
    with os.fdopen(fd, "wb") as f:
        f.write(blob)
    os.replace(tmp, path)


def clear(root: Path | None = None) -> int:
    """Remove every cached evidence unit; returns how many were removed."""
    root = Path(root) if root else evidence_cache_dir()
    if not root.exists():
        return 0
    n = sum(1 for _ in root.rglob("*.json"))
    shutil.rmtree(root)
    return n
