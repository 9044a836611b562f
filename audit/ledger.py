"""The ledger: append-only JSONL, one record per claim run, never rewritten.

Each record is written with a single ``write`` on a file opened in append mode and fsynced, so a
crash can at worst leave a partial *last* line; readers skip (and report) such a line and the
next append starts on a fresh line, so earlier records are never corrupted.

Reading never trusts the file: every line must be one JSON object shaped like a record (a valid
claim id, the field types the report and the gate rely on). A line that is not is a ``BadLine``:
kept in the file, listed by the report and the gate, never used. A ledger that cannot be read at
all (a directory, no permission, not a regular file) raises ``LedgerError`` with one line.
"""

from __future__ import annotations

import hashlib
import json
import os
import re
import stat
from dataclasses import dataclass
from pathlib import Path

from pydantic import ValidationError

from audit.record import (CLAIM_ID_MAX, CLAIM_ID_PATTERN, CLAIM_ID_RULE, SCHEMA_VERSION,  # noqa: F401
                          LedgerRecord)

LEDGER_NAME = "ledger.jsonl"
MAX_DEPTH = 64  # real records nest about 10 deep; deeper ones would exhaust recursion in the report
_ID = re.compile(CLAIM_ID_PATTERN)


class LedgerError(OSError):
    """The ledger as a whole cannot be read or written; the message is one line naming the file.
    An OSError: callers that report an unreadable or unwritable output directory report it too."""


@dataclass(frozen=True)
class BadLine:
    """A ledger line that is not a usable record: kept in the file, listed, never used."""

    path: str
    line: int
    problem: str
    claim_id: str = ""  # the (valid) claim id the line names, when it names one
    torn: bool = False  # an incomplete write (what a crash leaves), not corruption
    after: int = 0      # how many usable records precede it

    def __str__(self) -> str:
        return f"{self.path}:{self.line}: {self.problem}"


def ledger_path(out_dir: Path) -> Path:
    return Path(out_dir) / LEDGER_NAME


def valid_claim_id(value) -> bool:
    return isinstance(value, str) and len(value) <= CLAIM_ID_MAX and bool(_ID.fullmatch(value))


def slug(claim_id) -> str:
    """A file-name stem for a claim id: the id itself when valid, else a sanitised, hashed stand-in
    (never a path separator, ``..``, NUL or a leading dot, at most 60 characters)."""
    if valid_claim_id(claim_id) and len(claim_id) <= 60:
        return claim_id
    text = claim_id if isinstance(claim_id, str) else repr(claim_id)
    digest = hashlib.sha256(text.encode("utf-8", "surrogatepass")).hexdigest()[:10]
    stem = re.sub(r"[^a-z0-9_-]+", "-", text.lower()).strip("-_")[:40] or "claim"
    return f"{stem}-{digest}"


_SURROGATE = re.compile("[\ud800-\udfff]")


def _structure_problem(value) -> str | None:
    """Nesting deeper than MAX_DEPTH, or text that is not Unicode (a lone surrogate from a ``\\ud800`` escape)."""
    stack = [(value, 1)]
    while stack:
        item, depth = stack.pop()
        if depth > MAX_DEPTH:
            return f"nested deeper than {MAX_DEPTH} levels"
        if isinstance(item, str) and _SURROGATE.search(item):
            return f"text {_short(item)} is not valid Unicode (a lone surrogate)"
        if isinstance(item, dict):
            stack.extend((x, depth + 1) for pair in item.items() for x in pair)
        elif isinstance(item, list):
            stack.extend((x, depth + 1) for x in item)
    return None


def _short(value, n: int = 60) -> str:
    text = repr(value)
    return text if len(text) <= n else text[: n - 1] + "…"


def record_problem(rec) -> str | None:
    """Why a parsed JSON value is not a usable record (``None`` when it is)."""
    if not isinstance(rec, dict):
        return f"a JSON {type(rec).__name__}, expected a record (a JSON object)"
    if "claim_id" not in rec:
        return "a record without claim_id"
    if not valid_claim_id(rec["claim_id"]):
        return f"claim_id {_short(rec['claim_id'])} is not a claim id (expected {CLAIM_ID_RULE})"
    structure = _structure_problem(rec)
    if structure:
        return structure
    try:
        LedgerRecord.model_validate(rec)
    except ValidationError as exc:
        err = exc.errors()[0]
        return f"field {_where(rec, err['loc'])} = {_short(err.get('input'))}: {err['msg'][0].lower()}{err['msg'][1:]}"
    return None


def _where(rec: dict, loc: tuple) -> str:
    """The dotted path of a validation error in the record (pydantic's union branch names left out)."""
    parts, value = [], rec
    for key in loc:
        if (isinstance(value, dict) and key in value) or (isinstance(value, list) and isinstance(key, int)
                                                          and 0 <= key < len(value)):
            value = value[key]
            parts.append(str(key))
    return ".".join(parts)


def _parse_line(raw: bytes) -> tuple[object, str | None, bool]:
    """(value, problem, torn) of one line; torn: an incomplete write, what a crash leaves."""
    starts_like_record = raw.lstrip().startswith(b"{")
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        torn = starts_like_record and exc.end == len(raw) and "end of data" in exc.reason
        return None, f"not UTF-8 text (byte {exc.start + 1})", torn
    try:
        return json.loads(text), None, False
    except RecursionError:
        return None, "JSON nested too deeply", False
    except ValueError as exc:  # JSONDecodeError, or an integer with too many digits
        if starts_like_record and isinstance(exc, json.JSONDecodeError) and not exc.msg.startswith("Extra data"):
            return None, "an incomplete line (a crash during a write?)", True
        return None, f"not JSON ({str(exc).split(':')[0]})", False


_UNUSED = "the line is kept in the ledger and not used"


def parse(data: bytes, name: str = LEDGER_NAME) -> tuple[list[dict], list[BadLine]]:
    """The usable records of ledger bytes, in order, and every line that is not one."""
    records: list[dict] = []
    bad: list[BadLine] = []
    for n, raw in enumerate(data.split(b"\n"), start=1):
        raw = raw.rstrip(b"\r")
        if not raw.strip():
            continue
        value, problem, torn = _parse_line(raw)
        if problem is None:
            problem = record_problem(value)
        if problem is None:
            records.append(value)
            continue
        named = value.get("claim_id") if isinstance(value, dict) else None
        bad.append(BadLine(name, n, f"{problem}; {_UNUSED}", named if valid_claim_id(named) else "", torn,
                           len(records)))
    return records, bad



def _read_bytes(path: Path) -> bytes | None:
    """The ledger's bytes (``None`` when there is no ledger yet); LedgerError when it cannot be read."""
    try:
        st = os.stat(path)
    except (FileNotFoundError, NotADirectoryError):  # no ledger yet (or --out is not a directory)
        return None
    except OSError as exc:
        raise LedgerError(f"{path}: cannot read the ledger ({exc.strerror or exc})") from None
    if stat.S_ISDIR(st.st_mode):
        raise LedgerError(f"{path}: is a directory, expected the ledger file (JSON lines); "
                          "move it away or use another --out; nothing was read or changed")
    if not stat.S_ISREG(st.st_mode):
        raise LedgerError(f"{path}: is not a regular file, expected the ledger file (JSON lines); "
                          "nothing was read or changed")
    try:
        return path.read_bytes()
    except OSError as exc:
        raise LedgerError(f"{path}: cannot read the ledger ({exc.strerror or exc}); nothing was changed") from None


def load(out_dir: Path) -> tuple[list[dict], list[BadLine]]:
    """The usable records under ``out_dir`` and the lines that are not (LedgerError: unreadable)."""
    path = ledger_path(out_dir)
    data = _read_bytes(path)
    return ([], []) if data is None else parse(data, str(path))


def data(out_dir: Path) -> bytes:
    """The ledger's bytes as they are (b"" when there is none yet; LedgerError when unreadable)."""
    return _read_bytes(ledger_path(out_dir)) or b""


def read(out_dir: Path) -> tuple[list[dict], list[str]]:
    """All usable records, and a one-line warning for each line that is not (torn, corrupt)."""
    records, bad = load(out_dir)
    return records, [str(b) for b in bad]


def check(out_dir: Path) -> None:
    """Raise LedgerError now when the ledger under ``out_dir`` could not be read or appended to
    (run it before computing anything that would then be lost)."""
    path = ledger_path(out_dir)
    _read_bytes(path)
    target = path if path.exists() else Path(out_dir)
    if target.exists() and not os.access(target, os.W_OK):
        raise LedgerError(f"{target}: not writable; the ledger cannot be appended to")


def line(record: dict) -> bytes:
    """The ledger line of a record (``schema_version`` first), newline included; ValueError for a
    record readers would not use (it is never written: a line readers drop would lose it silently)."""
    text = json.dumps({"schema_version": SCHEMA_VERSION, **record}, sort_keys=False, default=str)
    problem = record_problem(json.loads(text))
    if problem:
        raise ValueError(f"not a usable ledger record: {problem}")
    return (text + "\n").encode()


def append(out_dir: Path, record: dict) -> None:
    """Append one record (a JSON object) to the ledger under ``out_dir`` (LedgerError: it cannot be,
    or the record is not one readers would use)."""
    path = ledger_path(out_dir)
    try:
        text = line(record)
    except ValueError as exc:
        raise LedgerError(f"{path}: {exc}; the record was not written") from None
    try:
        _append_line(path, text.rstrip(b"\n"))
    except OSError as exc:
        raise LedgerError(f"{path}: cannot append to the ledger ({exc.strerror or exc}); "
                          "the record was not written") from None


def _append_line(path: Path, line: bytes) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    if path.exists() and not path.is_file():  # a directory, a FIFO (opening it would block) ...
        raise LedgerError(f"{path}: is not a regular file, expected the ledger file; the record was not written")
    fd = os.open(path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o644)
    try:
        prefix = b"" if _ends_clean(fd, path) else b"\n"
        os.write(fd, prefix + line + b"\n")
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


def latest_per_claim(records: list[dict]) -> dict[str, dict]:
    """The most recent record of each claim id, in first-seen order."""
    latest: dict[str, dict] = {}
    for rec in records:
        latest.pop(rec.get("claim_id"), None)
        latest[rec.get("claim_id")] = rec
    return latest
