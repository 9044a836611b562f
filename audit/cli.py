"""The ``audit`` command line: run, check, gate, publish, history, report, schema, cache."""

from __future__ import annotations

import glob
import json
import os
import re
import sys
from pathlib import Path
from typing import List, Optional

import typer
from rich.console import Console
from rich.markup import escape
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn, TimeRemainingColumn
from rich.table import Table

from audit.errors import ClaimFileError
from audit.validation import duplicate_ids
from audit.gate import EXIT_NOTHING
from audit.verdict import EXIT_ERRORED, EXIT_INVALID, EXIT_OK, combine_exit_codes


class _Typer(typer.Typer):
    """The console entry point: an unexpected exception is one line on stderr (exit 3, errored),
    not a traceback; MI_AUDIT_TRACEBACK=1 shows the traceback."""

    def __call__(self, *args, **kwargs):
        try:
            return super().__call__(*args, **kwargs)
        except Exception as exc:
            if os.environ.get("MI_AUDIT_TRACEBACK"):
                raise
            first = str(exc).strip().splitlines()[0] if str(exc).strip() else ""
            print(plain(f"internal error: {type(exc).__name__}: {first} (a bug in mi-audit; MI_AUDIT_TRACEBACK=1 "
                        f"shows the traceback; records already in the ledger are kept)"), file=sys.stderr)
            sys.exit(EXIT_ERRORED)


EXIT_USAGE = 64  # a command-line usage error (sysexits EX_USAGE); 0-6 are verdict and gate codes


def _usage_errors_exit(code: int) -> None:
    """Typer/click report usage errors (bad option, missing argument, out of range) with exit 2,
    which here means *inconclusive*: give them their own code."""
    import click

    click.UsageError.exit_code = code
    try:
        import typer._click.exceptions as vendored
        vendored.UsageError.exit_code = code
    except ImportError:  # typer without a vendored click
        pass


_usage_errors_exit(EXIT_USAGE)

app = _Typer(add_completion=False, no_args_is_help=True, context_settings={"help_option_names": ["-h", "--help"]})
console = Console(stderr=True, soft_wrap=True)  # messages keep whole lines (paths, file:line) in logs
out_console = Console()

VERDICT_STYLE = {"supported": "green", "refuted": "red", "inconclusive": "yellow", "errored": "magenta",
                 "pending": "dim"}


def _version(value: bool) -> None:
    if value:
        from audit import __version__

        out_console.print(f"mi-audit {__version__}", highlight=False)
        raise typer.Exit(EXIT_OK)


@app.callback()
def _main(version: bool = typer.Option(False, "--version", callback=_version, is_eager=True,
                                       help="print the version and exit")) -> None:
    """Declarative audits of mechanistic-interpretability claims.

    Exit codes: 0 as expected; 1 a verdict contradicts its expect; 2 inconclusive; 3 errored;
    4 invalid input; 5 nothing matched; 6 stale evidence or baseline mismatch (gate);
    7 pending (weights not on this machine); 64 command-line usage error.
    """


def _project():
    """The project's settings (``[tool.mi-audit]`` in pyproject.toml); a broken table is one line, exit 4."""
    from audit.project import ProjectConfigError, load

    try:
        return load()
    except ProjectConfigError as exc:
        _fail(str(exc))

# C0 controls but tab and newline, DEL, C1 controls: escape sequences must not reach the terminal
_CONTROL = re.compile(r"[\x00-\x08\x0b-\x1f\x7f-\x9f]")


def plain(text: object) -> str:
    """User text made safe to echo: control characters (ESC, NUL, CR, ...) shown as ``\\xNN``."""
    return _CONTROL.sub(lambda m: f"\\x{ord(m.group()):02x}", str(text))


def safe(text: object) -> str:
    """User text made safe for a rich string with markup: control characters shown, markup escaped."""
    return escape(plain(text))


def _quiet_libraries() -> None:
    from audit.quiet import quiet_libraries

    quiet_libraries()


CLAIM_SUFFIXES = (".yaml", ".yml")


def expand_claim_paths(paths: list[Path]) -> list[tuple[Path, bool]]:
    """(file, named explicitly) for each claim file: files named directly, *.yaml directly inside
    named directories (suites in subdirectories excluded), and glob patterns (``claims/*_hub.yaml``,
    quoted so the shell leaves them alone). A path that does not exist is kept, to be reported."""
    out: list[tuple[Path, bool]] = []
    for p in paths:
        if p.is_dir():
            out.extend((q, False) for q in sorted(p.iterdir()) if not q.is_dir() and q.suffix in CLAIM_SUFFIXES)
        elif not p.exists() and glob.has_magic(str(p)):
            for m in sorted(glob.glob(str(p), recursive=True)):
                q = Path(m)
                if q.is_dir():
                    out.extend((r, False) for r in sorted(q.iterdir()) if not r.is_dir() and r.suffix in CLAIM_SUFFIXES)
                elif q.suffix in CLAIM_SUFFIXES:
                    out.append((q, False))
        else:
            out.append((p, True))
    seen, unique = set(), []
    for q, explicit in out:
        if _real(q) not in seen:
            seen.add(_real(q))
            unique.append((q, explicit))
    return unique


def _real(path: Path) -> Path:
    """The resolved path, or the absolute one when it cannot be resolved (a symlink loop)."""
    try:
        return path.resolve()
    except (OSError, RuntimeError):
        return path.absolute()


def claim_files(paths: list[Path]) -> list[Path]:
    """Files named directly, *.yaml inside named directories (suites excluded), glob matches."""
    return [q for q, _ in expand_claim_paths(paths)]


def _nothing_matched(paths) -> None:
    _say(f"no claim files matched: {' '.join(map(str, paths))}", to_stderr=True)
    raise typer.Exit(EXIT_NOTHING)


def _invalid(problems) -> None:
    for problem in problems:
        console.print(f"[red]invalid[/red] {safe(problem)}", highlight=False, soft_wrap=True)


def _fail(message: str, code: int = EXIT_INVALID):
    """Print one line (``error`` in red, then the message verbatim) and exit with ``code``."""
    console.print(f"[red]error[/red] {safe(message)}", highlight=False, soft_wrap=True)
    raise typer.Exit(code)


def _load(path: Path):
    from audit.schema import load_claim

    try:
        return load_claim(path)
    except ClaimFileError as exc:
        _invalid(exc.problems)
        return None


def _open_out(out: Path) -> None:
    """Create ``--out`` and check it is a writable directory; exit 4 with one line otherwise."""
    if os.path.lexists(out) and not out.is_dir():
        _fail(f"--out {out}: not a directory (a file is in the way)")
    try:
        out.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        _fail(f"--out {out}: cannot create the directory ({exc.strerror or exc})")
    if not os.access(out, os.W_OK | os.X_OK):
        _fail(f"--out {out}: the directory is not writable (read-only or no permission)")


def _render(out: Path, gate_result: dict | None = None) -> Path | None:
    """Render the report; an unwritable or broken output dir is one line (the ledger is kept)."""
    from audit.render import render_report

    try:
        return render_report(out, gate_result) if gate_result is not None else render_report(out)
    except OSError as exc:
        _say(f"error: report not rendered in {out}: {exc}; the ledger is kept", to_stderr=True, style="red")
        return None


class _RichProgress:
    """A rich bar per stage on a terminal (count, elapsed, ETA); in a log (not a TTY) one line per
    finished stage instead: ``done <stage>: <n> in <s> s``."""

    def __init__(self, progress: Progress):
        self.progress, self.task = progress, None
        self.log = progress.disable
        self.stage = ("", 0, 0, 0.0)  # description, total, done, started

    def start(self, total: int, description: str) -> None:
        import time

        self.task = self.progress.add_task(description, total=total)
        self.stage = (description, total, 0, time.perf_counter())
        if self.log and not total:
            self._finished()

    def advance(self, n: int = 1) -> None:
        if self.task is not None:
            self.progress.advance(self.task, n)
        desc, total, done, t0 = self.stage
        self.stage = (desc, total, done + n, t0)
        if self.log and total and done < total <= done + n:
            self._finished()

    def _finished(self) -> None:
        import time

        desc, total, done, t0 = self.stage
        _say(f"done {desc}: {done}/{total} in {time.perf_counter() - t0:.1f} s", to_stderr=True)


@app.command()
def run(
    paths: List[Path] = typer.Argument(..., help="claim files or directories of claim files"),
    model: Optional[str] = typer.Option(None, "--model", help="run on this checkpoint instead (alias, HF id or local dir)"),
    out: Optional[Path] = typer.Option(None, "--out", help="where the run's ledger and report are written (default: the "
                                       "project's work_dir, audit-out/; the published report changes only by "
                                       "`audit publish`)"),
    dtype: str = typer.Option("float32", "--dtype", help="float32 | bfloat16 | float16 | int8 | nf4 (bitsandbytes)"),
    download: bool = typer.Option(False, "--download", help="allow downloading weights from the Hugging Face Hub"),
    batch_size: int = typer.Option(16, "--batch-size", min=1),
    no_cache: bool = typer.Option(False, "--no-cache", help="recompute every evidence unit (nothing read or written)"),
    trace_budget_mb: int = typer.Option(1024, "--trace-budget-mb", min=0,
                                        help="memory for recorded layer inputs per batch; beyond it batches shrink, then ablations recompute"),
    device: str = typer.Option("cpu", "--device", help="cpu | cuda | auto (cuda when available; models larger "
                               "than one GPU are spread by accelerate)"),
    executor: str = typer.Option("local", "--executor", help="local | processes | ray: where evidence units are computed "
                                  "(processes: --workers single-threaded processes here, robust to a busy machine)"),
    workers: Optional[int] = typer.Option(None, "--workers", min=1, help="worker processes of --executor processes "
                                          "(default: the cores this process may use)"),
    address: Optional[str] = typer.Option(None, "--address", help="Ray cluster address (default: start a local Ray)"),
    ray_gpus: float = typer.Option(0.0, "--ray-gpus", min=0, help="GPUs declared per Ray model worker"),
    ray_cpus: float = typer.Option(1.0, "--ray-cpus", min=0, help="CPUs declared per Ray model worker"),
    ray_memory_mb: Optional[int] = typer.Option(None, "--ray-memory-mb", min=1, help="memory declared per Ray model worker"),
    retries: int = typer.Option(2, "--retries", min=0, help="retries of a failed evidence unit (Ray) before the claim errors"),
    ray_workers: int = typer.Option(1, "--ray-workers", min=1, help="Ray workers per model (each loads the weights once); "
                                    "a sweep's units are spread over them"),
    threads: Optional[int] = typer.Option(None, "--threads", min=1, help="torch intra-op threads (default: the cores "
                                          "this process may use minus the load of other work; MI_AUDIT_THREADS)"),
) -> None:
    """Run claims on their models, append verdicts to the run's ledger and render its report.

    An interrupted run (crash, kill -9) resumes when the same command is run again: claims already
    recorded are not run or recorded twice, and finished evidence units come from the cache.
    """
    from audit.models import DEVICES, MODES
    from audit.session import RunRequest, SessionError, run_session

    _quiet_libraries()
    expanded = expand_claim_paths(paths)
    files = [f for f, _ in expanded]
    missing = [f for f in files if not os.path.lexists(f)]
    if not files or len(missing) == len(files):
        _nothing_matched(paths)
    for f in missing:  # nothing is written for a path that is not there; the others still run
        _say(f"error {f}: no such claim file", to_stderr=True, style="red")
    out = out if out is not None else _project().work_dir
    if model:
        from audit.models import unknown_alias

        if problem := unknown_alias(model):
            _fail(f"--model {model}: {problem}")
    if device not in DEVICES:
        _fail(f"--device {device}: expected one of {', '.join(DEVICES)}")
    if dtype not in MODES:
        _fail(f"--dtype {dtype}: expected one of {', '.join(MODES)}")
    _open_out(out)
    request = RunRequest(
        files=[f for f in files if f not in missing], explicit={f for f, named in expanded if named}, out=out,
        run_options=dict(model=model, dtype=dtype, device=device, allow_download=download, batch_size=batch_size,
                         trace_budget_mb=trace_budget_mb),
        cache=not no_cache, executor=executor, threads=threads,
        executor_options=dict(address=address, num_cpus=ray_cpus, num_gpus=ray_gpus, memory_mb=ray_memory_mb,
                              max_retries=retries, workers_per_model=ray_workers, workers=workers),
        journal_key={"model": model, "dtype": dtype, "download": download})
    try:
        result = run_session(request, _CliReporter(), _load, _render)
    except SessionError as exc:
        _fail(str(exc), exc.code)
    _print_results(result.records)
    _cache_warnings(result.cache)
    codes = result.codes + ([EXIT_NOTHING] if missing else [])
    if result.html is None:
        codes.append(EXIT_INVALID)
    else:
        _say(f"report: {result.html}", to_stderr=True)
    raise typer.Exit(combine_exit_codes(codes))


class _CliReporter:
    """How a run session's events look on the terminal (stderr) or in a log."""

    def waiting(self, out: Path, lock: Path) -> None:
        console.print(f"another `audit run` is writing to {safe(out)} (lock {safe(lock)}); waiting for it to finish",
                      highlight=False)

    def resuming(self, kept: int) -> None:
        console.print(f"resuming an interrupted run ({kept} claim(s) already recorded)")

    def invalid(self, problems: list) -> None:
        _invalid(problems)

    def note(self, text: str, style: str | None = None) -> None:
        _say(text, to_stderr=True, style=style)

    def progress(self):
        from contextlib import contextmanager

        @contextmanager
        def bars():
            with Progress(TextColumn("{task.description}", markup=False), BarColumn(), MofNCompleteColumn(),
                          TimeElapsedColumn(), TextColumn("eta"), TimeRemainingColumn(), console=console,
                          transient=False, disable=not console.is_terminal) as bar:
                yield _RichProgress(bar)
        return bars()


def _cache_warnings(cache) -> None:
    """One line when cached evidence failed its checks or could not be written (counts are in provenance)."""
    stats = cache.stats()
    if stats.get("corrupt"):
        _say(f"warning: {stats['corrupt']} cached evidence unit(s) under {cache.root} failed their checksum "
             f"(edited or damaged); they were recomputed and replaced", to_stderr=True, style="yellow")
    if stats.get("unverified"):
        _say(f"note: {stats['unverified']} cached evidence unit(s) written before checksums existed were "
             f"recomputed and replaced", to_stderr=True, style="dim")
    if stats.get("write_errors"):
        _say(f"warning: {stats['write_errors']} write(s) to the evidence cache {cache.root} failed "
             f"({stats['warnings'][-1] if stats.get('warnings') else ''}); results are unaffected",
             to_stderr=True, style="yellow")


def _print_results(records: list[dict]) -> None:
    table = Table(title="claims")
    for col in ("claim", "verdict", "confidence", "expect", "why"):
        table.add_column(col, overflow="fold")
    for r in records:
        style = VERDICT_STYLE.get(r["verdict"], "")
        verdict = f"[{style}]{safe(r['verdict'])}[/{style}]" if style else safe(r["verdict"])
        table.add_row(safe(r["claim_id"]), verdict, safe(r["confidence"]), safe(r["expect"]),
                      safe("; ".join(map(str, r["reasons"]))[:400]))
    out_console.print(table)


@app.command()
def check(paths: List[Path] = typer.Argument(..., help="claim files or directories"),
          deep: bool = typer.Option(False, "--deep", help="also check layer, head and module names against each "
                                                           "claim's model config where it is on this machine (loads "
                                                           "transformers; never the weights)")) -> None:
    """Validate claim files without running anything (exit 4 when any is invalid)."""
    files = claim_files(paths)
    if not files:
        _nothing_matched(paths)
    codes = []
    dups = duplicate_ids(files)
    for f in files:
        lc = _load(f)
        if lc is not None and f in dups:
            _say(f"invalid {dups[f]}", style="red")
            lc = None
        if lc is not None and deep:
            lc = _deep_check(lc)
        elif lc is not None:
            _say(f"ok {f}: {lc.claim.id}")
        codes.append(EXIT_INVALID if lc is None else EXIT_OK)
    raise typer.Exit(combine_exit_codes(codes))


def _deep_check(lc):
    """The claim checked against its model's config: the claim back, or None (invalid; said)."""
    from audit.runner import check_against_model

    try:
        what = check_against_model(lc)
    except ClaimFileError as exc:
        _invalid(exc.problems)
        return None
    except Exception as exc:  # a config transformers cannot read: the run would error the same way
        _say(f"invalid {lc.path}: model {lc.claim.model} cannot be read: {type(exc).__name__}: {exc}", style="red")
        return None
    _say(f"ok {lc.path}: {lc.claim.id} ({what})")
    return lc


cache_app = typer.Typer(help="The evidence cache (content-addressed units under the user cache dir).")
app.add_typer(cache_app, name="cache")


@cache_app.command("clear")
def cache_clear(yes: bool = typer.Option(False, "--yes", "-y", help="delete without asking")) -> None:
    """Delete what the evidence cache wrote: evidence units, trained adapters, unfinished writes.

    Files under the cache directory that the cache did not write are kept (and listed), as are
    the dequantized model copies. Asks before deleting unless --yes is given."""
    from audit.cache import inventory, remove

    inv = inventory()
    _say(_describe_cache(inv))
    if not inv.ours():
        raise typer.Exit(EXIT_OK)
    if not yes:
        try:
            agreed = typer.confirm("delete them?", default=False, err=True)
        except typer.Abort:  # no terminal, stdin closed, Ctrl-C
            _fail("nothing deleted: no answer (pass --yes to delete without asking)")
        if not agreed:
            _say("nothing deleted")
            raise typer.Exit(EXIT_OK)
    remove(inv)
    _say(f"removed {len(inv.units)} evidence unit(s) and {len(inv.adapters)} trained adapter(s) "
         f"({_mb(inv.size('units') + inv.size('adapters') + inv.size('temps'))}) from {inv.root}")


@cache_app.command("info")
def cache_info() -> None:
    """Where the evidence cache is, what it holds and how much."""
    from audit.cache import inventory

    _say(_describe_cache(inventory()))


def _mb(n: int) -> str:
    return f"{n / 2**20:.1f} MB"


def _describe_cache(inv) -> str:
    if not inv.root.is_dir():
        return f"{inv.root}: no evidence cache there"
    text = (f"{inv.root}: {len(inv.units)} evidence unit(s) ({_mb(inv.size('units'))}), "
            f"{len(inv.adapters)} trained adapter(s) ({_mb(inv.size('adapters'))})")
    if inv.temps:
        text += f", {len(inv.temps)} unfinished write(s) ({_mb(inv.size('temps'))})"
    if inv.foreign:
        names = ", ".join(p.name for p in inv.foreign[:5]) + (", ..." if len(inv.foreign) > 5 else "")
        text += f"; {len(inv.foreign)} other file(s) or folder(s) the cache did not write, never deleted: {names}"
    return text


@app.command()
def schema(out: Optional[Path] = typer.Option(None, "--out", help="write the schema to this file (atomically) "
                                              "instead of printing it, e.g. claim.schema.json")) -> None:
    """Print the JSON Schema of claim files (editors: point yaml-language-server at it)."""
    from audit.cache import write_atomic
    from audit.schema import json_schema

    text = json.dumps(json_schema(), indent=2) + "\n"
    if out is None:
        sys.stdout.write(text)
        return
    if out.is_dir():
        _fail(f"--out {out}: is a directory (give a file name, e.g. {out / 'claim.schema.json'})")
    try:
        write_atomic(out, text.encode())
        out.chmod(0o644)  # a file to share and commit, not the temp file's 0600
    except (FileExistsError, NotADirectoryError):
        _fail(f"--out {out}: a file is in the way of its directory {out.parent}")
    except OSError as exc:
        _fail(f"--out {out}: cannot write the schema ({exc.strerror or exc}; its directory must be writable)")
    _say(f"schema: {out}", to_stderr=True)


@app.command()
def report(out: Optional[Path] = typer.Option(None, "--out", help="the directory whose ledger is rendered "
                                              "(default: the project's work_dir, audit-out/)")) -> None:
    """Re-render the report from the ledger without recomputing anything."""
    from audit import ledger

    out = out if out is not None else _project().work_dir
    if os.path.lexists(out) and not out.is_dir():
        _fail(f"--out {out}: not a directory (a file is in the way)")
    if not out.is_dir():
        _fail(f"--out {out}: no such directory (nothing to render; `audit run` writes one)", EXIT_NOTHING)
    if not ledger.ledger_path(out).exists():
        _fail(f"--out {out}: no ledger ({ledger.LEDGER_NAME}) to render; run `audit run --out {out} CLAIM` first",
              EXIT_NOTHING)
    _open_out(out)
    html = _render(out)
    if html is None:
        raise typer.Exit(EXIT_INVALID)
    _say(f"report: {html}", to_stderr=True)


def _say(text: str, to_stderr: bool = False, style: str | None = None) -> None:
    """Print text verbatim (no markup; control characters shown, never sent)."""
    (console if to_stderr else out_console).print(plain(text), markup=False, highlight=False, soft_wrap=True,
                                                  style=style)


def _written(path: Path, write) -> bool:
    """Run a write of ``path``; an OSError (read-only, a directory in the way) is one line, False."""
    try:
        write()
        return True
    except OSError as exc:
        _say(f"error: {path} not written: {exc.strerror or exc}", to_stderr=True, style="red")
        return False


def _read_ledger(out: Path, code: int) -> tuple[list[dict], bytes]:
    """The ledger's usable records and bytes; an unreadable ledger is one line and exit ``code``;
    unusable lines are listed (one line each, capped), never silently skipped."""
    from audit import ledger

    try:
        records, warnings = ledger.read(out)
        blob = ledger.data(out)
    except ledger.LedgerError as exc:
        _fail(str(exc), code)
    for w in warnings[:MAX_LISTED]:
        _say(f"warning: {w}", to_stderr=True, style="yellow")
    if len(warnings) > MAX_LISTED:
        _say(f"warning: ... and {len(warnings) - MAX_LISTED} more unusable ledger line(s)", to_stderr=True,
             style="yellow")
    return records, blob


MAX_LISTED = 10  # repeated messages beyond this are counted, not printed


def _gate_on(paths: list[Path], records: list[dict], blob: bytes, baseline_file: Path,
             model: Optional[str], pending: Optional[str]):
    """The gate over ``records`` (and the ledger bytes they came from) under the project's policy."""
    from audit import gate as g

    files = claim_files(paths)
    claims, invalid = g.load_claims(files) if files else ([], [])
    baseline, problems = g.load_baseline(baseline_file)
    policy = _project().policy()
    if pending is not None:
        policy = {"pending": pending, "source": "--pending"}
    result = g.evaluate(records, claims, baseline, invalid=invalid + problems, ledger_bytes=blob, model=model,
                        matched_any=bool(files), policy=policy)
    return result, claims


def _evaluate_gate(paths: list[Path], out: Path, baseline_file: Optional[Path], model: Optional[str],
                   pending: Optional[str] = None):
    from audit import gate as g

    records, blob = _read_ledger(out, g.EXIT_MISMATCH)
    result, claims = _gate_on(paths, records, blob, baseline_file or out / g.BASELINE_NAME, model, pending)
    return result, records, claims


def _print_gate(result, to_stderr: bool) -> None:
    from collections import defaultdict

    grouped: dict[tuple, list[str]] = defaultdict(list)  # the same failure of several claims is one line
    for f in result.failures:
        grouped[(f.code, f.reason, f.message)].append(f.claim_id)
    for (code, reason, message), ids in grouped.items():
        who = f"{', '.join(i for i in ids if i)}: " if any(ids) else ""
        _say(f"FAIL [{code}] {who}{reason}: {message}", to_stderr, "red")
    if result.changes:
        _say("changes:", to_stderr)
        for ch in result.changes:
            _say(f"  {ch.claim_id}: {ch.text}", to_stderr)
    for n in result.notes:
        _say(f"note: {n}", to_stderr, "dim")
    counts: dict[str, int] = defaultdict(int)
    for c in result.claims:
        counts[c.status] += 1
    verdict = "PASSED" if result.passed else f"FAILED (exit {result.exit_code})"
    base = (f"baseline published {result.baseline['published_at']}" if result.baseline
            else "no published baseline")
    policy = result.policy
    _say(f"gate {verdict}: {', '.join(f'{n} {k}' for k, n in sorted(counts.items()))}; {base}; pending claims "
         f"{'allowed' if policy.get('pending') == 'allow' else 'fail'} ({policy.get('source')})",
         to_stderr, "green" if result.passed else "red")


_PENDING_OPTION = typer.Option(None, "--pending", help="allow | fail: whether claims whose weights are not on this "
                               "machine pass (default: the project's [tool.mi-audit.gate] pending, else fail)")


def _check_pending(pending: Optional[str]) -> None:
    from audit.project import PENDING_POLICIES

    if pending is not None and pending not in PENDING_POLICIES:
        _fail(f"--pending {pending}: expected one of {', '.join(PENDING_POLICIES)}")


@app.command()
def gate(
    paths: List[Path] = typer.Argument(None, help="claim files, directories or globs (default: claims/)"),
    out: Optional[Path] = typer.Option(None, "--out", help="where the ledger and baseline live (default: the "
                                       "project's published_dir, reports/)"),
    baseline: Optional[Path] = typer.Option(None, "--baseline", help="published baseline (default: OUT/published.json)"),
    model: Optional[str] = typer.Option(None, "--model", help="gate the evidence computed with `audit run --model M`"),
    pending: Optional[str] = _PENDING_OPTION,
    junit: Optional[Path] = typer.Option(None, "--junit", help="also write JUnit XML (one test case per claim)"),
    as_json: bool = typer.Option(False, "--json", help="print the result as JSON on stdout (human lines go to stderr)"),
    write: bool = typer.Option(False, "--write/--no-report", help="write OUT/gate.json and re-render OUT's report with the gate "
                               "box (default, --no-report: read-only, nothing in OUT changes)"),
) -> None:
    """Fail unless the latest verdicts still hold: compare them with their claim files and the published baseline.

    Exit 0 pass; 1 a verdict contradicts its expect (or a published claim became refuted); 2 inconclusive;
    3 errored or a required control did not run; 4 invalid claim file or too few seeds; 5 nothing matched;
    6 stale or missing evidence, or the baseline does not match the ledger; 7 pending (weights not on this
    machine) under the policy pending = fail. The most serious wins (5 > 4 > 6 > 3 > 1 > 2 > 7 > 0).
    Nothing is recomputed: run `audit run` first.
    """
    from audit import gate as g
    from audit.junit import to_junit

    _check_pending(pending)
    paths = paths or [Path("claims")]
    out = out if out is not None else _project().published_dir
    result, records, _ = _evaluate_gate(paths, out, baseline, model, pending)
    if write and out.is_dir() and _written(out / g.GATE_NAME, lambda: g.write_json(out / g.GATE_NAME, result.to_dict())):
        if records:
            _render(out, result.to_dict())
    if junit:
        _written(junit, lambda: (junit.parent.mkdir(parents=True, exist_ok=True),
                                 junit.write_text(to_junit(result), encoding="utf-8")))
    _print_gate(result, to_stderr=as_json)
    if as_json:
        print(json.dumps(result.to_dict(), indent=2, default=str))
    raise typer.Exit(result.exit_code)


@app.command()
def publish(
    paths: List[Path] = typer.Argument(None, help="claim files, directories or globs (default: claims/)"),
    source: Optional[Path] = typer.Option(None, "--from", help="the working directory whose new records are "
                                          "published (default: the project's work_dir, audit-out/)"),
    out: Optional[Path] = typer.Option(None, "--to", "--out", help="the published directory (default: the project's "
                                       "published_dir, reports/)"),
    model: Optional[str] = typer.Option(None, "--model", help="as for `audit gate --model`"),
    pending: Optional[str] = _PENDING_OPTION,
    dry_run: bool = typer.Option(False, "--dry-run", help="gate the merged ledger and say what would be published; "
                                 "write nothing"),
) -> None:
    """Publish: merge the working ledger's new records into the published ledger, gate the result, and
    only when it passes append them, write OUT/published.json and gate.json, and render OUT's report.

    The baseline holds each claim's published run and verdict and a lock on the ledger (its size and
    hash); later gates fail when a published claim regresses or the ledger was rewritten.
    """
    from audit import gate as g
    from audit import ledger, publication

    _check_pending(pending)
    project = _project()
    paths = paths or [Path("claims")]
    if source is None:  # the project's work_dir feeds the project's published_dir; an explicit --to alone
        source = project.work_dir if out is None else out  # publishes what that directory already holds
    out = out if out is not None else project.published_dir
    if not source.is_dir() and source.resolve() != out.resolve():
        _say(f"note: no working directory {source}; publishing what {out} already has", to_stderr=True, style="dim")
        source = None
    try:
        merged = publication.merge(out, source)
        blob = merged.ledger_bytes(ledger.data(out))
    except ledger.LedgerError as exc:
        _fail(str(exc), g.EXIT_MISMATCH)
    for w in merged.work_warnings[:MAX_LISTED]:
        _say(f"warning: {w} (not published)", to_stderr=True, style="yellow")
    result, claims = _gate_on(paths, merged.records, blob, out / g.BASELINE_NAME, model, pending)
    if not result.passed:
        _print_gate(result, to_stderr=False)
        _say(f"not published: the gate fails ({len(merged.new)} new record(s) from {source} left unpublished)",
             style="red")
        raise typer.Exit(result.exit_code)
    if dry_run:
        _print_gate(result, to_stderr=False)
        _say(f"dry run: would publish {len(merged.new)} new record(s) from {source} and {len(claims)} claim(s) "
             f"to {out}; nothing written")
        raise typer.Exit(result.exit_code)
    _open_out(out)
    try:
        publication.write(out, merged)
    except ledger.LedgerError as exc:
        _fail(str(exc), EXIT_ERRORED)
    records, _ = _read_ledger(out, g.EXIT_MISMATCH)
    baseline = g.baseline_from(result, records, claims, g.ledger_lock(out), model)
    if not _written(out / g.BASELINE_NAME, lambda: g.write_json(out / g.BASELINE_NAME, baseline)):
        raise typer.Exit(EXIT_INVALID)
    result, _, _ = _evaluate_gate(paths, out, None, model, pending)  # the gate box now shows the new baseline
    _written(out / g.GATE_NAME, lambda: g.write_json(out / g.GATE_NAME, result.to_dict()))
    html = _render(out, result.to_dict())
    _say(f"published {len(claims)} claim(s) ({len(merged.new)} new record(s)): {out / g.BASELINE_NAME}")
    if html is not None:
        _say(f"report: {html}", to_stderr=True)
    raise typer.Exit(result.exit_code if html is not None else combine_exit_codes([result.exit_code, EXIT_INVALID]))


@app.command()
def history(
    claim_id: str = typer.Argument(..., help="the claim's id"),
    out: Optional[Path] = typer.Option(None, "--out", help="the published directory (default: the project's "
                                       "published_dir); runs in the work_dir not yet published are shown too"),
    as_json: bool = typer.Option(False, "--json", help="print the history as JSON"),
    diff: bool = typer.Option(True, "--diff/--no-diff", help="show claim-file diffs between runs"),
) -> None:
    """How a claim's verdict changed over time and why (claim-file diff, thresholds, model, suite, evidence),
    and an edit of the claim file's expect since its latest run (the acknowledgement of that run)."""
    from audit import ledger, publication
    from audit.errors import did_you_mean
    from audit.history import acknowledgement, history as claim_history

    project = _project()
    work = project.work_dir if out is None and project.work_dir.is_dir() else None  # unpublished runs too
    out = out if out is not None else project.published_dir
    try:
        merged = publication.merge(out, work)
    except ledger.LedgerError as exc:
        _fail(str(exc))
    records = merged.records
    entries = claim_history(records, claim_id)
    if not entries:
        ids = list(dict.fromkeys(r.get("claim_id") for r in records))
        hint = did_you_mean(claim_id, ids) or (f"known: {', '.join(ids)}" if ids else f"the ledger in {out} is empty")
        _say(f"no ledger record of claim '{claim_id}' ({hint})", to_stderr=True)
        raise typer.Exit(EXIT_NOTHING)
    latest = [r for r in records if r.get("claim_id") == claim_id][-1]
    ack = acknowledgement(latest, _claim_now(latest))
    if as_json:
        print(json.dumps({"runs": [e.to_dict() for e in entries], "claim_file_now": ack}, indent=2, default=str))
        raise typer.Exit(EXIT_OK)
    unpublished = {r.get("run_id") for r in merged.new}
    _say(f"{claim_id}: {len(entries)} run(s) in {ledger.ledger_path(out)}"
         + (f" and {work}" if unpublished & {e.run_id for e in entries} else ""))
    for e in entries:
        style = VERDICT_STYLE.get(e.verdict)
        head = f"#{e.n} {e.at[:19].replace('T', ' ')}  run {e.run_id[:8]}  {e.verdict}"
        head += f" ({e.confidence})" if e.confidence not in ("", "none") else ""
        head += f"  expect {e.expect}" + ("  (not published)" if e.run_id in unpublished else "")
        _say(head, style=f"bold {style}" if style else "bold")
        for ch in e.changes or []:
            _say(f"    {ch.text}")
        if not e.changes:
            _say("    first record")
        _say(f"    why this verdict: {'; '.join(e.reasons)[:300]}", style="dim")
        if diff and e.diff:
            for line in e.diff:
                colour = "green" if line.startswith("+") else "red" if line.startswith("-") else "dim"
                _say(f"      {line}", style=colour)
    if ack:
        _say(f"claim file now: {ack}", style="bold")
    raise typer.Exit(EXIT_OK)


def _claim_now(rec: dict) -> dict | None:
    """The claim as its file says it now (the file the record names), or None when it cannot be loaded."""
    from audit.schema import load_claim

    path = Path((rec.get("provenance") or {}).get("claim_file", ""))
    if not path.name or not path.is_file():
        return None
    try:
        return load_claim(path).claim.model_dump(mode="json")
    except (ClaimFileError, OSError):
        return None


def main() -> None:  # pragma: no cover - console script entry
    app()


if __name__ == "__main__":  # `python -m audit.cli`
    app()
