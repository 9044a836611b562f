"""One ``audit run`` session: the output directory's lock, the thread policy, the executor, the
journal (an interrupted run resumes), and each claim run and appended to the ledger in order.

The command line parses options and prints; this module runs and says what happens through a
:class:`Reporter` (it never prints). Failures that end the session before any claim runs are a
:class:`SessionError` (a one-line message and an exit code).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable, Protocol

from audit.errors import ClaimFileError
from audit.verdict import EXIT_ERRORED, EXIT_INVALID


class SessionError(Exception):
    """The session cannot start (or cannot record what it computed): one line, an exit code."""

    def __init__(self, message: str, code: int = EXIT_INVALID):
        super().__init__(message)
        self.code = code


class Reporter(Protocol):
    """What the session tells its caller (the CLI prints it)."""

    def waiting(self, out: Path, lock: Path) -> None: ...
    def resuming(self, kept: int) -> None: ...
    def invalid(self, problems: list) -> None: ...
    def note(self, text: str, style: str | None = None) -> None: ...
    def progress(self): ...  # a context manager giving a progress object for run_claim


@dataclass
class RunRequest:
    """What to run and how: the claim files (``explicit``: named, not found in a directory), the
    output directory and the options of the run."""

    files: list[Path]
    explicit: set[Path]
    out: Path
    run_options: dict  # RunOptions fields except the evidence cache and the executor
    cache: bool = True
    executor: str = "local"
    executor_options: dict = field(default_factory=dict)
    threads: int | None = None
    journal_key: dict = field(default_factory=dict)


@dataclass
class SessionResult:
    records: list[dict]
    codes: list[int]
    cache: object  # the EvidenceCache (its stats and warnings)
    html: Path | None


def run_session(req: RunRequest, reporter: Reporter, load: Callable, render: Callable) -> SessionResult:
    """Run ``req`` under the output directory's lock. ``load(path)`` gives a LoadedClaim or None
    (it reports why); ``render(out)`` renders the report (None when it could not)."""
    from filelock import FileLock, Timeout

    from audit import ledger

    try:
        ledger.check(req.out)  # before anything is computed that could not be recorded
    except ledger.LedgerError as exc:
        raise SessionError(str(exc)) from None
    lock = FileLock(str(req.out / ".lock"))
    try:
        lock.acquire(timeout=0)
    except Timeout:  # concurrent runs on one output dir are serialized, never interleaved
        reporter.waiting(req.out, req.out / ".lock")
        lock.acquire()
    except OSError as exc:
        raise SessionError(f"--out {req.out}: cannot create the lock file ({exc.strerror or exc})") from None
    try:
        return _locked(req, reporter, load, render)
    finally:
        lock.release()


def _locked(req: RunRequest, reporter: Reporter, load: Callable, render: Callable) -> SessionResult:
    from audit import threads as thread_policy
    from audit.cache import EvidenceCache
    from audit.executor_choice import make_executor
    from audit.executors import UnitFailed
    from audit.options import RunOptions

    try:
        thread_policy.apply(req.threads)  # the count is in each record's provenance (machine.torch_threads)
    except ValueError as exc:
        raise SessionError(str(exc)) from None
    try:
        runner = make_executor(req.executor, **req.executor_options)
    except (KeyError, UnitFailed) as exc:
        raise SessionError(f"--executor {req.executor}: {str(exc).strip(chr(34))}") from None
    options = RunOptions(**req.run_options, evidence_cache=EvidenceCache(enabled=req.cache), executor=runner)
    try:
        records, codes, html = _claims(req, options, reporter, load, render)
    finally:
        runner.close()
    return SessionResult(records, codes, options.evidence_cache, html)


def _claims(req: RunRequest, options, reporter: Reporter, load: Callable, render: Callable):
    """Every claim in order (skipping what the journal says is recorded), then the report."""
    from audit import ledger
    from audit.journal import Journal, JournalError
    from audit.runner import run_claim
    from audit.validation import duplicate_ids

    unreadable = _unreadable(req.files)
    readable = [f for f in req.files if f not in unreadable]
    dups = duplicate_ids(readable)
    try:
        journal = Journal(req.out, readable, req.journal_key)
    except JournalError as exc:
        raise SessionError(str(exc)) from None
    recorded: dict[str, dict] = {}
    if journal.resuming:
        recorded = {r.get("run_id"): r for r in ledger.read(req.out)[0]}
        reporter.resuming(sum(rid in recorded for rid in journal.done.values()))
    codes, records = [], []
    with reporter.progress() as progress:
        for f in req.files:
            if f in unreadable:
                reporter.invalid(unreadable[f])
                codes.append(EXIT_INVALID)
                continue
            previous = recorded.get(journal.recorded_run(f) or "")
            if previous is not None:
                records.append(previous)
                codes.append(previous["exit_code"])
                continue
            lc = load(f)
            if lc is not None and f in dups:
                reporter.invalid([dups[f]])
                lc = None
            if lc is None:
                codes.append(EXIT_INVALID)
                continue
            if (lc.claim.retired or lc.claim.superseded_by) and f not in req.explicit:
                status = f"superseded by {lc.claim.superseded_by}" if lc.claim.superseded_by else "retired"
                reporter.note(f"skipped {f}: {status} (name the file to run it anyway)")
                continue
            try:
                record = run_claim(lc, options, progress)
            except ClaimFileError as exc:  # valid file, but wrong for this model (e.g. layer out of range)
                reporter.invalid(exc.problems)
                codes.append(EXIT_INVALID)
                continue
            # journal first: a kill between the two leaves a run id the ledger lacks (the claim
            # is re-run on resume), never a ledger record the journal lacks (it would be duplicated)
            try:
                journal.mark(f, record["run_id"])
                ledger.append(req.out, record)
            except (JournalError, ledger.LedgerError) as exc:
                raise SessionError(f"{exc} (claim {lc.claim.id} was computed but not recorded)", EXIT_ERRORED) from None
            records.append(record)
            codes.append(record["exit_code"])
    html = render(req.out)
    try:
        journal.finish()
    except JournalError as exc:
        reporter.note(f"warning: {exc}", style="yellow")
    return records, codes, html


def _unreadable(files: list[Path]) -> dict[Path, list]:
    """The claim files that cannot even be read (missing, not a regular file, too large, ...),
    found before anything else reads them: they are reported as invalid and never hashed."""
    from audit.yamlsafe import read_bounded

    bad = {}
    for f in files:
        try:
            read_bounded(f)
        except ClaimFileError as exc:
            bad[f] = exc.problems
    return bad
