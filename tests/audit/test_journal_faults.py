"""`audit run` with an unusable run journal: one line, exit 4, the ledger untouched."""

import os

import pytest
from typer.testing import CliRunner

from audit.cli import app
from audit.journal import Journal, JournalError
from audit.verdict import EXIT_INVALID
from tests.conftest import write_claim


def _run(claim, out):
    return CliRunner().invoke(app, ["run", str(claim), "--out", str(out)])


def test_journal_path_is_a_file(tmp_path, tiny_dir):
    claim = write_claim(tmp_path / "c.yaml", model=str(tiny_dir))
    out = tmp_path / "out"
    out.mkdir()
    (out / "ledger.jsonl").write_text('{"claim_id": "x"}\n')
    (out / ".journal").write_text("not a directory")
    result = _run(claim, out)
    assert result.exit_code == EXIT_INVALID, result.output
    assert result.exception is None or isinstance(result.exception, SystemExit), result.exception
    lines = [line for line in result.output.splitlines() if line.strip()]
    assert len(lines) == 1 and ".journal" in lines[0] and "not a directory" in lines[0], result.output
    assert "Traceback" not in result.output
    assert (out / "ledger.jsonl").read_text() == '{"claim_id": "x"}\n'


def test_unwritable_journal_dir_is_refused(tmp_path, monkeypatch):
    claim = tmp_path / "c.yaml"
    claim.write_text("id: c\n")
    real_access = os.access
    monkeypatch.setattr(os, "access", lambda p, mode: False if str(p).endswith(".journal") else real_access(p, mode))
    with pytest.raises(JournalError, match="not writable"):
        Journal(tmp_path, [claim], {})


def test_journal_lost_mid_run_is_a_journal_error(tmp_path):
    claim = tmp_path / "c.yaml"
    claim.write_text("id: c\n")
    journal = Journal(tmp_path, [claim], {})
    (tmp_path / ".journal").rmdir()
    (tmp_path / ".journal").write_text("in the way")
    with pytest.raises(JournalError, match="cannot be written"):
        journal.mark(claim, "run-1")


def test_journal_resumes_as_before(tmp_path):
    claim = tmp_path / "c.yaml"
    claim.write_text("id: c\n")
    Journal(tmp_path, [claim], {}).mark(claim, "run-1")
    again = Journal(tmp_path, [claim], {})
    assert again.resuming and again.recorded_run(claim) == "run-1"
    again.finish()
    assert not Journal(tmp_path, [claim], {}).resuming
