"""Command-line conventions: --version and -h, usage and choice errors, missing paths, model-alias
typos, the report's --out, and one line per finished stage in a log."""

import pytest

from audit import __version__
from audit.cli import EXIT_USAGE, _RichProgress
from tests.audit.synthetic import cli
from tests.conftest import write_claim



def test_version_and_short_help():
    assert cli("--version").output.strip() == f"mi-audit {__version__}"
    result = cli("-h")
    assert result.exit_code == 0 and "Exit codes" in result.output and "7 pending" in result.output
    assert cli("run", "-h").exit_code == 0


def test_usage_errors_are_not_inconclusive():
    assert cli("run", "--batch-size", "0", "x.yaml").exit_code == EXIT_USAGE
    assert cli("no-such-command").exit_code == EXIT_USAGE


@pytest.mark.parametrize("option,value,choices", [("--dtype", "fp16", "float32, bfloat16"),
                                                  ("--device", "gpu", "cpu, cuda, auto"),
                                                  ("--executor", "spark", "local, processes, ray")])
def test_bad_choices_are_one_line_exit_4(tmp_path, option, value, choices):
    claim = write_claim(tmp_path / "c.yaml", model=str(tmp_path))
    result = cli("run", claim, "--out", tmp_path / "o", option, value)
    assert result.exit_code == 4, result.output
    lines = [line for line in result.output.splitlines() if line.strip()]
    assert len(lines) == 1 and choices in lines[0] and "Traceback" not in result.output


def test_a_claim_path_that_does_not_exist_exits_5_and_writes_nothing(tmp_path):
    out = tmp_path / "o"
    result = cli("run", tmp_path / "nope.yaml", "--out", out)
    assert result.exit_code == 5 and "no claim files matched" in result.output
    assert not out.exists()


def test_a_model_alias_typo_gets_a_suggestion_at_check_and_at_run(tmp_path):
    claim = write_claim(tmp_path / "c.yaml", model="smollm2-135")
    result = cli("check", claim)
    assert result.exit_code == 4 and "did you mean 'smollm2-135m'?" in result.output and "c.yaml:3" in result.output
    ok = write_claim(tmp_path / "ok.yaml", model=str(tmp_path))
    result = cli("run", ok, "--model", "gemma3-270", "--out", tmp_path / "o")
    assert result.exit_code == 4 and "did you mean 'gemma3-270m'?" in result.output
    assert not (tmp_path / "o").exists()


def test_report_out_must_exist(tmp_path):
    result = cli("report", "--out", tmp_path / "missing")
    assert result.exit_code == 5 and "no such directory" in result.output
    assert not (tmp_path / "missing").exists()
    (tmp_path / "empty").mkdir()
    assert cli("report", "--out", tmp_path / "empty").exit_code == 5


def test_a_log_gets_one_line_per_finished_stage(capsys):
    from rich.progress import Progress

    with Progress(disable=True) as bar:
        p = _RichProgress(bar)
        p.start(3, "layer sweep: 3 units")
        p.advance(2)
        p.advance(1)
        p.start(0, "nothing to do")
    err = capsys.readouterr().err
    assert "done layer sweep: 3 units: 3/3 in" in err and err.count("done ") == 2
