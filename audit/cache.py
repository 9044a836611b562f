"""Content-addressed evidence cache: each evidence unit is stored under the hash of everything
that determines it (model weights, dtype, intervention spec, exact token ids, engine version).

Writes are atomic (temp file + rename), so a killed run leaves only complete entries and a
re-run resumes from them. Errors are never cached: only finished units are written.

Nothing read back is trusted: a unit file holds its key and the sha256 of its value, checked on
every read; a trained adapter directory holds a manifest of its files' sha256s
(:data:`ADAPTER_MANIFEST`), checked the first time it is handed out. Whatever fails a check (edited,
``{}``, binary garbage, a directory in place of a file, another unit's file) is a miss: recomputed
and replaced, and counted in :meth:`EvidenceCache.stats` (``corrupt``), which ends up in the
record's provenance.

Units and complete adapters written before checksums existed (format 1: the bare value; an
adapter directory with ``metrics.json`` but no manifest) cannot be verified after the fact. They
are trusted once — they came from this cache's atomic writer — and sealed on that first read
(rewritten with a checksum, a manifest added), counted as ``unverified`` so provenance says so:
recomputing a whole cache (hours of adapter training) to protect against tampering that happened
before the checks existed would cost more than it protects.
"""

from __future__ import annotations

import hashlib
import json
import os
import re
import shutil
import stat
import tempfile
from dataclasses import dataclass, field
from pathlib import Path

ENGINE_VERSION = 1  # bump when the numbers an engine produces change
UNIT_FORMAT = 2  # 1: the bare JSON value (no checksum); 2: {"format", "key", "sha256", "value"}
ADAPTER_MANIFEST = ".mi-audit-manifest.json"  # sha256 of every file of a sealed adapter directory
ADAPTER_DONE = "metrics.json"  # written last by the trainer: its presence marks an adapter complete
MAX_UNIT_BYTES = 256 * 2**20  # a unit is a few KB; anything this large is not one of ours
KEY_RE = re.compile(r"[0-9a-f]{64}")


def cache_root() -> Path:
    """mi-audit's cache directory (MI_AUDIT_CACHE, else the user cache dir): models, weight hashes,
    evidence."""
    env = os.environ.get("MI_AUDIT_CACHE")
    if env:
        return Path(env)
    from platformdirs import user_cache_dir

    return Path(user_cache_dir("mi-audit"))


def evidence_cache_dir() -> Path:
    env = os.environ.get("MI_AUDIT_EVIDENCE_CACHE")
    if env:
        return Path(env)
    return cache_root() / "evidence"


def unit_key(**parts) -> str:
    """sha256 of the canonical JSON of the parts that determine a unit's result."""
    blob = json.dumps({"engine": ENGINE_VERSION, **parts}, sort_keys=True, default=str, separators=(",", ":"))
    return hashlib.sha256(blob.encode()).hexdigest()


def value_digest(value) -> str:
    """sha256 of a value's JSON text; the same before writing and after reading back (key order,
    float reprs and string escapes survive a JSON round trip; tuples and int keys are already
    lists and strings in the text)."""
    return hashlib.sha256(json.dumps(value).encode()).hexdigest()


def encode_unit(key: str, value) -> bytes:
    return json.dumps({"format": UNIT_FORMAT, "key": key, "sha256": value_digest(value), "value": value}).encode()


HIT, MISS, CORRUPT, UNVERIFIED = "hit", "miss", "corrupt", "unverified"


def read_unit(path: Path, key: str) -> tuple[str, object]:
    """(status, value) of the unit file at ``path``: ``hit`` with the verified value; ``miss``
    (absent); ``unverified`` with the value of an old unit without a checksum; ``corrupt``
    (anything else)."""
    try:
        st = os.stat(path)
    except FileNotFoundError:
        return MISS, None
    except OSError:  # a symlink loop, no permission on the directory, ...
        return CORRUPT, None
    if not stat.S_ISREG(st.st_mode) or st.st_size > MAX_UNIT_BYTES:
        return CORRUPT, None
    try:
        with open(path, "rb") as f:
            data = json.loads(f.read(MAX_UNIT_BYTES + 1))
    except FileNotFoundError:
        return MISS, None
    except (OSError, ValueError, RecursionError):  # unreadable, not UTF-8, not JSON, absurdly nested
        return CORRUPT, None
    return _check_unit(data, key)


def _check_unit(data, key: str) -> tuple[str, object]:
    if not isinstance(data, dict) or "format" not in data:
        return (UNVERIFIED, data) if data not in (None, {}, []) else (CORRUPT, None)
    if data.get("format") != UNIT_FORMAT or data.get("key") != key or "value" not in data:
        return CORRUPT, None
    try:
        ok = data.get("sha256") == value_digest(data["value"])
    except (TypeError, ValueError, RecursionError):
        ok = False
    return (HIT, data["value"]) if ok and data["value"] is not None else (CORRUPT, None)


def file_digests(directory: Path) -> dict[str, str]:
    """sha256 of every regular file under ``directory`` (the manifest itself and temp files excluded)."""
    out = {}
    for f in sorted(directory.rglob("*")):
        rel = str(f.relative_to(directory))
        if f.is_file() and not f.is_symlink() and rel != ADAPTER_MANIFEST and not f.name.startswith(".tmp-"):
            out[rel] = hashlib.sha256(f.read_bytes()).hexdigest()
    return out


def adapter_status(directory: Path) -> str:
    """``miss`` (no directory, or an empty one), ``hit`` (every file as its manifest says),
    ``unverified`` (complete — ``metrics.json`` present — but no manifest: written before
    manifests existed), ``corrupt`` otherwise (an interrupted, unsealed adapter included)."""
    try:
        if not directory.exists() and not directory.is_symlink():
            return MISS
        if directory.is_symlink() or not directory.is_dir():
            return CORRUPT
        manifest = directory / ADAPTER_MANIFEST
        if not manifest.exists():
            if not any(directory.iterdir()):
                return MISS
            return UNVERIFIED if (directory / ADAPTER_DONE).is_file() else CORRUPT
        want = json.loads(manifest.read_bytes())
        got = file_digests(directory)
    except (OSError, ValueError, RecursionError):
        return CORRUPT
    if not isinstance(want, dict) or ADAPTER_DONE not in want:
        return CORRUPT
    return HIT if all(got.get(rel) == digest for rel, digest in want.items()) else CORRUPT


def remove_path(path: Path) -> None:
    """Remove a file, a symlink or a directory tree at ``path`` (nothing if absent)."""
    if path.is_symlink() or path.is_file():
        path.unlink(missing_ok=True)
    elif path.is_dir():
        shutil.rmtree(path)
    elif os.path.lexists(path):
        path.unlink()


class EvidenceCache:
    """get/put of JSON values by key; disabled caches never hit and never write."""

    def __init__(self, root: Path | None = None, enabled: bool = True):
        self.root = Path(root) if root else evidence_cache_dir()
        self.enabled = enabled
        self.hits = self.misses = self.writes = 0
        self.corrupt = self.unverified = self.write_errors = 0
        self.warnings: list[str] = []
        self._handed: dict[str, Path] = {}  # adapter directories handed out, sealed once complete

    def _path(self, key: str) -> Path:
        return self.root / key[:2] / f"{key}.json"

    def get(self, key: str):
        status, value = self._lookup(key) if self.enabled else (MISS, None)
        self._count(status, f"evidence unit {key[:16]}")
        if status == UNVERIFIED:  # an old unit: trusted once, sealed with a checksum now
            self._seal_unit(key, value)
        return value

    def _seal_unit(self, key: str, value) -> None:
        self._try(lambda: write_replacing(self.root, self._path(key), encode_unit(key, value)))

    def _count(self, status: str, what: str) -> None:
        if status in (HIT, UNVERIFIED):
            self.hits += 1
            self.unverified += status == UNVERIFIED
            return
        self.misses += 1
        if status == CORRUPT:
            self.corrupt += 1
            self._warn(f"{what} failed its checksum (edited, damaged or replaced by something else); "
                       f"recomputed and replaced")

    def _warn(self, message: str) -> None:
        if len(self.warnings) < 10 and message not in self.warnings:  # counted in full, listed up to 10
            self.warnings.append(message)

    def _lookup(self, key: str) -> tuple[str, object]:
        return read_unit(self._path(key), key)

    def adapter_dir(self, key: str) -> Path:
        """Where a trained adapter (a directory of files, not one JSON value) lives. The first
        time it is handed out its files are checked against its manifest; a directory that fails
        is removed, so the adapter is trained again (an old complete one without a manifest is
        trusted once and sealed)."""
        directory = self.root / "adapters" / key
        if key not in self._handed and self.enabled:
            self.seal()
            status = adapter_status(directory)
            self._count(status, f"trained adapter {key[:16]}")
            if status == CORRUPT:
                self._try(lambda: remove_path(directory))
            self._handed[key] = directory
        return directory

    def seal(self) -> None:
        """Write the manifest of every adapter directory handed out in this process that is
        complete (its ``metrics.json`` exists): what this process trained or re-measured."""
        for key, directory in list(self._handed.items()):
            if (directory / ADAPTER_DONE).is_file():
                self._try(lambda d=directory: write_atomic(d / ADAPTER_MANIFEST, json.dumps(file_digests(d)).encode()))
                del self._handed[key]

    def put(self, key: str, value) -> None:
        if not self.enabled:
            return
        if self._try(lambda: write_replacing(self.root, self._path(key), encode_unit(key, value))):
            self.writes += 1

    def _try(self, write) -> bool:
        """Run a cache write; a failure (read-only or full disk) costs the cache, never the claim."""
        try:
            write()
            return True
        except OSError as exc:
            self.write_errors += 1
            self._warn(f"cache write failed under {self.root}: {type(exc).__name__}: {exc}")
            return False

    def absorb(self, returned: dict) -> None:
        """Write what a worker computed (see :class:`audit.worker_cache.WorkerCache`): this
        process stays the cache's only writer. An adapter's ``metrics.json`` is written last,
        since its presence marks the adapter complete; then the adapter is sealed."""
        for key, value in returned["units"].items():
            self.put(key, value)
        if self.enabled:
            for key in {Path(rel).parts[1] for rel in returned["files"] if Path(rel).parts[0] == "adapters"}:
                directory = self.root / "adapters" / key
                if adapter_status(directory) not in (HIT, UNVERIFIED):  # the worker found it unusable, trained anew
                    self._try(lambda d=directory: remove_path(d))
                self._handed[key] = directory
            for rel, blob in sorted(returned["files"].items(), key=lambda kv: kv[0].endswith(ADAPTER_DONE)):
                self._try(lambda r=rel, b=blob: write_replacing(self.root, self.root / r, b))
            self.seal()
        for name in ("hits", "misses", "corrupt", "unverified"):
            setattr(self, name, getattr(self, name) + returned["stats"].get(name, 0))
        for message in returned["stats"].get("warnings", []):
            self._warn(message)

    def stats(self) -> dict:
        """Counts so far (read when a claim's evidence is done: completed adapters are sealed now)."""
        if self.enabled:
            self.seal()
        out = {"enabled": self.enabled, "hits": self.hits, "misses": self.misses, "writes": self.writes,
               "corrupt": self.corrupt, "unverified": self.unverified}
        if self.write_errors:
            out["write_errors"] = self.write_errors
        if self.warnings:
            out["warnings"] = list(self.warnings)
        return out


def write_atomic(path: Path, blob: bytes) -> None:
    """Write ``blob`` to ``path`` via a temp file and rename: readers never see a partial file."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=".tmp-")
    try:
        with os.fdopen(fd, "wb") as f:
            f.write(blob)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def write_replacing(root: Path, path: Path, blob: bytes) -> None:
    """:func:`write_atomic` of a path under ``root``, first removing what stands in the way inside
    ``root`` (a directory where the file goes, a file where one of its directories goes)."""
    try:
        write_atomic(path, blob)
        return
    except OSError:
        pass
    for ancestor in reversed(path.relative_to(root).parents[:-1]):
        if os.path.lexists(root / ancestor) and not (root / ancestor).is_dir():
            remove_path(root / ancestor)
    if path.is_dir() or path.is_symlink():
        remove_path(path)
    write_atomic(path, blob)


@dataclass
class Inventory:
    """What under a cache directory the cache wrote (units, adapters, its temp files) and what it did not."""

    root: Path
    units: list[Path] = field(default_factory=list)
    adapters: list[Path] = field(default_factory=list)
    temps: list[Path] = field(default_factory=list)
    foreign: list[Path] = field(default_factory=list)

    def size(self, part: str) -> int:
        return sum(_tree_bytes(p) for p in getattr(self, part))

    def ours(self) -> list[Path]:
        return self.units + self.adapters + self.temps


def _tree_bytes(path: Path) -> int:
    """Bytes of a file or of every file under a directory (symlinks not followed)."""
    try:
        if not path.is_dir() or path.is_symlink():
            return path.lstat().st_size
        return sum(f.lstat().st_size for f in path.rglob("*") if f.is_symlink() or f.is_file())
    except OSError:
        return 0


def _is_plain(path: Path, kind) -> bool:
    try:
        return kind(path.lstat().st_mode)
    except OSError:
        return False


def inventory(root: Path | None = None) -> Inventory:
    """Sort what is under the cache directory by its naming: ``<kk>/<key>.json`` units (``kk`` =
    the key's first two hex digits), ``adapters/<key>/`` trained adapters, ``.tmp-*`` files of
    interrupted writes in those directories; anything else (symlinks included) is foreign."""
    inv = Inventory(Path(root) if root else evidence_cache_dir())
    if not _is_plain(inv.root, stat.S_ISDIR):
        return inv
    for entry in sorted(inv.root.iterdir()):
        if entry.name == "adapters" and _is_plain(entry, stat.S_ISDIR):
            for d in sorted(entry.iterdir()):
                _sort_entry(inv, d, KEY_RE.fullmatch(d.name) and _is_plain(d, stat.S_ISDIR), inv.adapters)
        elif re.fullmatch(r"[0-9a-f]{2}", entry.name) and _is_plain(entry, stat.S_ISDIR):
            for f in sorted(entry.iterdir()):
                key = f.name[:-5] if f.name.endswith(".json") else ""
                _sort_entry(inv, f, KEY_RE.fullmatch(key) and key[:2] == entry.name and _is_plain(f, stat.S_ISREG),
                            inv.units)
        else:
            inv.foreign.append(entry)
    return inv


def _sort_entry(inv: Inventory, path: Path, ours, into: list) -> None:
    if ours:
        into.append(path)
    elif path.name.startswith(".tmp-") and _is_plain(path, stat.S_ISREG):
        inv.temps.append(path)
    else:
        inv.foreign.append(path)


def remove(inv: Inventory) -> None:
    """Delete what the cache wrote (nothing foreign), then its directories left empty."""
    for path in inv.ours():
        remove_path(path)
    dirs = {p.parent for p in inv.ours()} | {inv.root}
    for d in sorted(dirs, key=lambda p: len(p.parts), reverse=True):
        try:
            d.rmdir()  # only when empty
        except OSError:
            pass


def clear(root: Path | None = None) -> int:
    """Remove every cached evidence unit and trained adapter (files the cache did not write are
    kept); returns how many units were removed."""
    inv = inventory(root)
    remove(inv)
    return len(inv.units)
