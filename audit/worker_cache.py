"""A Ray worker's view of the driver's evidence cache: it reads, it never writes.

Reads come from the driver's cache directory where the worker can see it (same machine or a
shared filesystem; elsewhere every read misses and the unit is computed), checked like the
driver's own reads: a unit or adapter that fails its checksum is a miss, computed here and
replaced by the driver. Writes are kept and
returned with the result; files a builder writes under the cache (trained adapters) go to a
private scratch directory and travel back as bytes. The driver then writes everything with
:meth:`audit.cache.EvidenceCache.absorb`, so the cache keeps one writer whichever executor ran.
"""

from __future__ import annotations

import shutil
import tempfile
from pathlib import Path

from audit.cache import HIT, MISS, UNVERIFIED, EvidenceCache, adapter_status, file_digests, read_unit


class WorkerCache(EvidenceCache):
    def __init__(self, driver_root: str | Path, enabled: bool = True):
        super().__init__(Path(tempfile.mkdtemp(prefix="mi-audit-worker-")), enabled)
        self.driver_root = Path(driver_root)
        self.pending: dict[str, object] = {}
        self._seeded: dict[str, dict[str, str]] = {}

    def _lookup(self, key: str):
        if key in self.pending:
            return HIT, self.pending[key]
        return read_unit(self.driver_root / self._path(key).relative_to(self.root), key)

    def put(self, key: str, value) -> None:
        if self.enabled:
            self.pending[key] = value
            self.writes += 1

    def adapter_dir(self, key: str) -> Path:
        """A scratch copy of the driver's adapter directory (if it has one) that the builder may
        extend; what is new or changed in it goes back to the driver. A driver copy that fails its
        manifest is not copied: the adapter is trained here and replaces it."""
        scratch = self.root / "adapters" / key
        if key not in self._seeded:
            source = self.driver_root / scratch.relative_to(self.root)
            status = adapter_status(source) if self.enabled else MISS
            self._count(status, f"trained adapter {key[:16]}")
            if status in (HIT, UNVERIFIED):  # an old unsealed adapter: the driver seals it on absorb
                shutil.copytree(source, scratch, symlinks=True)
            self._seeded[key] = file_digests(scratch) if scratch.is_dir() else {}
        return scratch

    def drain(self) -> dict:
        """Everything to be written by the driver: JSON units, changed files, hit/miss counts."""
        files = {}
        for key, before in self._seeded.items():
            directory = self.root / "adapters" / key
            if directory.is_dir():
                for rel, digest in file_digests(directory).items():
                    if before.get(rel) != digest:
                        files[str((directory / rel).relative_to(self.root))] = (directory / rel).read_bytes()
        shutil.rmtree(self.root, ignore_errors=True)
        stats = {"hits": self.hits, "misses": self.misses, "corrupt": self.corrupt, "unverified": self.unverified,
                 "warnings": self.warnings}
        return {"units": self.pending, "files": files, "stats": stats}
