"""The ``audit`` command line: run, check, schema, report."""

from __future__ import annotations

import json
from pathlib import Path
from typing import List, Optional

import typer
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn
from rich.table import Table

from audit.errors import ClaimFileError
from audit.verdict import EXIT_INVALID, EXIT_OK, combine_exit_codes

app = typer.Typer(add_completion=False, no_args_is_help=True,
                  help="Declarative audits of mechanistic-interpretability claims.")
console = Console(stderr=True)
out_console = Console()

VERDICT_STYLE = {"supported": "green", "refuted": "red", "inconclusive": "yellow", "errored": "magenta"}


def _quiet_libraries() -> None:
    """Library progress bars and warnings would drown the audit's own output."""
    import os

    os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
    try:
        from transformers.utils import logging as hf_logging

        hf_logging.set_verbosity_error()
        hf_logging.disable_progress_bar()
    except ImportError:
        pass


def claim_files(paths: list[Path]) -> list[Path]:
    """Files named directly, plus *.yaml directly inside named directories (suites excluded)."""
    files: list[Path] = []
    for p in paths:
        if p.is_dir():
            files.extend(sorted(q for q in p.glob("*.yaml") if q.is_file()))
        else:
            files.append(p)
    return files


def _load(path: Path):
    from audit.schema import load_claim

    try:
        return load_claim(path)
    except ClaimFileError as exc:
        for problem in exc.problems:
            console.print(f"[red]invalid[/red] {problem}", markup=True, highlight=False, soft_wrap=True)
        return None


class _RichProgress:
    def __init__(self, progress: Progress):
        self.progress, self.task = progress, None

    def start(self, total: int, description: str) -> None:
        self.task = self.progress.add_task(description, total=total)

    def advance(self, n: int = 1) -> None:
        if self.task is not None:
            self.progress.advance(self.task, n)


@app.command()
def run(
    paths: List[Path] = typer.Argument(..., help="claim files or directories of claim files"),
    model: Optional[str] = typer.Option(None, "--model", help="run on this checkpoint instead (alias, HF id or local dir)"),
    out: Path = typer.Option(Path("reports"), "--out", help="where the ledger and report are written"),
    dtype: str = typer.Option("float32", "--dtype", help="float32 | bfloat16 | float16"),
    download: bool = typer.Option(False, "--download", help="allow downloading weights from the Hugging Face Hub"),
    batch_size: int = typer.Option(16, "--batch-size", min=1),
    no_cache: bool = typer.Option(False, "--no-cache", help="recompute every evidence unit (nothing read or written)"),
    trace_budget_mb: int = typer.Option(1024, "--trace-budget-mb", min=0,
                                        help="memory for recorded layer inputs per batch; beyond it batches shrink, then ablations recompute"),
) -> None:
    """Run claims on their models, append verdicts to the ledger and render the report.

    An interrupted run (crash, kill -9) resumes when the same command is run again: claims already
    recorded are not run or recorded twice, and finished evidence units come from the cache.
    """
    from filelock import FileLock, Timeout

    from audit import ledger
    from audit.cache import EvidenceCache
    from audit.journal import Journal
    from audit.render import render_report
    from audit.runner import RunOptions, run_claim

    _quiet_libraries()
    files = claim_files(paths)
    if not files:
        console.print("no claim files matched")
        raise typer.Exit(EXIT_INVALID)
    out.mkdir(parents=True, exist_ok=True)
    lock = FileLock(str(out / ".lock"))
    try:
        lock.acquire(timeout=0)
    except Timeout:  # concurrent runs on one output dir are serialized, never interleaved
        console.print(f"another `audit run` is writing to {out} (lock {out / '.lock'}); waiting for it to finish")
        lock.acquire()
    codes, records = [], []
    options = RunOptions(model=model, dtype=dtype, allow_download=download, batch_size=batch_size,
                         trace_budget_mb=trace_budget_mb, evidence_cache=EvidenceCache(enabled=not no_cache))
    journal = Journal(out, files, {"model": model, "dtype": dtype, "download": download})
    if journal.resuming:
        console.print(f"resuming an interrupted run ({len(journal.done)} claim(s) already recorded)")
    try:
        with Progress(TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn(),
                      console=console, transient=False) as bar:
            for f in files:
                previous = journal.recorded_run(f)
                if previous:
                    rec = next((r for r in ledger.read(out)[0] if r.get("run_id") == previous), None)
                    if rec is not None:
                        records.append(rec)
                        codes.append(rec["exit_code"])
                        continue
                lc = _load(f)
                if lc is None:
                    codes.append(EXIT_INVALID)
                    continue
                try:
                    record = run_claim(lc, options, _RichProgress(bar))
                except ClaimFileError as exc:  # valid file, but wrong for this model (e.g. layer out of range)
                    for problem in exc.problems:
                        console.print(f"[red]invalid[/red] {problem}", highlight=False, soft_wrap=True)
                    codes.append(EXIT_INVALID)
                    continue
                ledger.append(out, record)
                journal.mark(f, record["run_id"])
                records.append(record)
                codes.append(record["exit_code"])
        html = render_report(out)
        journal.finish()
    finally:
        lock.release()
    _print_results(records)
    console.print(f"report: {html}")
    raise typer.Exit(combine_exit_codes(codes))


def _print_results(records: list[dict]) -> None:
    table = Table(title="claims")
    for col in ("claim", "verdict", "confidence", "expect", "why"):
        table.add_column(col, overflow="fold")
    for r in records:
        style = VERDICT_STYLE.get(r["verdict"], "")
        table.add_row(r["claim_id"], f"[{style}]{r['verdict']}[/{style}]", r["confidence"], r["expect"],
                      "; ".join(r["reasons"])[:400])
    out_console.print(table)


@app.command()
def check(paths: List[Path] = typer.Argument(..., help="claim files or directories")) -> None:
    """Validate claim files without running anything (exit 4 when any is invalid)."""
    files = claim_files(paths)
    codes = []
    for f in files:
        lc = _load(f)
        codes.append(EXIT_INVALID if lc is None else EXIT_OK)
        if lc is not None:
            out_console.print(f"ok {f}: {lc.claim.id}")
    raise typer.Exit(combine_exit_codes(codes) if files else EXIT_INVALID)


cache_app = typer.Typer(help="The evidence cache (content-addressed units under the user cache dir).")
app.add_typer(cache_app, name="cache")


@cache_app.command("clear")
def cache_clear() -> None:
    """Delete every cached evidence unit (dequantized model copies are kept)."""
    from audit.cache import clear, evidence_cache_dir

    out_console.print(f"removed {clear()} evidence unit(s) from {evidence_cache_dir()}")


@cache_app.command("info")
def cache_info() -> None:
    """Where the evidence cache is and how many units it holds."""
    from audit.cache import evidence_cache_dir

    root = evidence_cache_dir()
    out_console.print(f"{root}: {sum(1 for _ in root.rglob('*.json')) if root.exists() else 0} unit(s)")


@app.command()
def schema() -> None:
    """Print the JSON Schema of claim files."""
    from audit.schema import json_schema

    print(json.dumps(json_schema(), indent=2))


@app.command()
def report(out: Path = typer.Option(Path("reports"), "--out")) -> None:
    """Re-render the report from the ledger without recomputing anything."""
    from audit.render import render_report

    console.print(f"report: {render_report(out)}")


def main() -> None:  # pragma: no cover - console script entry
    app()


if __name__ == "__main__":  # `python -m audit.cli`
    app()
