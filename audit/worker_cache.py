"""A Ray worker's view of the driver's evidence cache: it reads, it never writes.

Reads come from the driver's cache directory where the worker can see it (same machine or a
shared filesystem; elsewhere every read misses and the unit is computed). Writes are kept and
returned with the result; files a builder writes under the cache (trained adapters) go to a
private scratch directory and travel back as bytes. The driver then writes everything with
:meth:`audit.cache.EvidenceCache.absorb`, so the cache keeps one writer whichever executor ran.
"""

from __future__ import annotations

import hashlib
import shutil
import tempfile
from pathlib import Path

from audit.cache import EvidenceCache, read_json


def _digests(directory: Path) -> dict[str, str]:
    return {str(f.relative_to(directory)): hashlib.sha256(f.read_bytes()).hexdigest()
            for f in sorted(directory.rglob("*")) if f.is_file()}


class WorkerCache(EvidenceCache):
    def __init__(self, driver_root: str | Path, enabled: bool = True):
        super().__init__(Path(tempfile.mkdtemp(prefix="mi-audit-worker-")), enabled)
        self.driver_root = Path(driver_root)
        self.pending: dict[str, object] = {}
        self._seeded: dict[str, dict[str, str]] = {}

    def _lookup(self, key: str):
        if key in self.pending:
            return self.pending[key]
        return read_json(self.driver_root / self._path(key).relative_to(self.root))

    def put(self, key: str, value) -> None:
        if self.enabled:
            self.pending[key] = value
            self.writes += 1

    def adapter_dir(self, key: str) -> Path:
        """A scratch copy of the driver's adapter directory (if it has one) that the builder may
        extend; what is new or changed in it goes back to the driver."""
        scratch = super().adapter_dir(key)
        if key not in self._seeded:
            source = self.driver_root / scratch.relative_to(self.root)
            if source.is_dir():
                shutil.copytree(source, scratch)
            self._seeded[key] = _digests(scratch) if scratch.is_dir() else {}
        return scratch

    def drain(self) -> dict:
        """Everything to be written by the driver: JSON units, changed files, hit/miss counts."""
        files = {}
        for key, before in self._seeded.items():
            directory = super().adapter_dir(key)
            if directory.is_dir():
                for rel, digest in _digests(directory).items():
                    if before.get(rel) != digest:
                        files[str((directory / rel).relative_to(self.root))] = (directory / rel).read_bytes()
        shutil.rmtree(self.root, ignore_errors=True)
        return {"units": self.pending, "files": files, "stats": {"hits": self.hits, "misses": self.misses}}
