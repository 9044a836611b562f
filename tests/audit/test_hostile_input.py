"""Hostile input to the CLI: unreadable and huge files, YAML the parser chokes on, rich markup and
escape sequences in user text, bad options and output dirs, runaway chat templates. Each ends in a
one-line message with the right exit code (invalid input = 4), no traceback, the ledger intact."""

import os
import resource
import shutil
import subprocess
import sys
import threading
import time

import pytest
from typer.testing import CliRunner

from audit import ledger
from audit.cli import app, plain, safe
from tests.conftest import MAIN_SUITE, byte_tokenizer, write_claim

runner = CliRunner()


def invoke(*args, **kw):
    return runner.invoke(app, [str(a) for a in args], **kw)


def no_traceback(result):
    assert "Traceback" not in result.output, result.output
    assert result.exception is None or isinstance(result.exception, SystemExit), repr(result.exception)


def _valid(tmp_path):
    return write_claim(tmp_path / "valid.yaml", model="smollm2-135m").read_text()


def _sparse(path, size):
    with path.open("wb") as f:
        f.truncate(size)


HOSTILE_FILES = {  # name -> builder(path, tmp_path); expected text in the message
    "symlink_to_dev_zero": (lambda p, t: p.symlink_to("/dev/zero"), "not a regular file"),
    "fifo": (lambda p, t: os.mkfifo(p), "not a regular file"),
    "symlink_loop": (lambda p, t: p.symlink_to(p), "symlink loop"),
    "two_gigabytes": (lambda p, t: _sparse(p, 2 * 2**30), "the limit is 1000000"),
    "nul_byte": (lambda p, t: p.write_text(_valid(t).replace("expect: supported", "expect: supp\x00orted")),
                 "character #x0000 is not allowed"),
    "escape_byte": (lambda p, t: p.write_text("id: x\x1b[2J\n"), "character #x001b is not allowed"),
    "deep_flow_nesting": (lambda p, t: p.write_text("id: " + "[" * 1000 + "]" * 1000 + "\n"),
                          "nesting deeper than 100"),
    "deep_block_nesting": (lambda p, t: p.write_text("".join(" " * i + f"k{i}:\n" for i in range(400)) + " " * 400
                                                     + "v\n"), "nesting deeper than 100"),
    "not_utf8": (lambda p, t: p.write_bytes(b"id: caf\xe9\n"), "not UTF-8"),
    "missing": (lambda p, t: None, "not found"),
}


@pytest.mark.parametrize("case", sorted(HOSTILE_FILES))
def test_hostile_claim_files_are_invalid_one_line_each(tmp_path, case):
    build, message = HOSTILE_FILES[case]
    bad = tmp_path / f"{case}.yaml"
    build(bad, tmp_path)
    rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    t = time.perf_counter()
    for command in (["check", bad], ["run", bad, "--out", tmp_path / "out"]):
        result = invoke(*command)
        no_traceback(result)
        if case == "missing" and command[0] == "run":  # nothing to run: exit 5, nothing written
            assert result.exit_code == 5 and "no claim files matched" in result.output, result.output
            assert not (tmp_path / "out").exists()
            continue
        assert result.exit_code == 4, result.output
        lines = [line for line in result.output.splitlines() if f"{case}.yaml" in line]
        assert len(lines) == 1 and message in lines[0] and lines[0].startswith("invalid "), result.output
    assert time.perf_counter() - t < 20
    assert resource.getrusage(resource.RUSAGE_SELF).ru_maxrss - rss < 200_000  # KB: never read whole


def test_a_claim_directory_with_hostile_entries_still_checks_the_good_ones(tmp_path):
    (tmp_path / "zero.yaml").symlink_to("/dev/zero")
    (tmp_path / "loop.yaml").symlink_to(tmp_path / "loop.yaml")
    (tmp_path / "good.yaml").write_text(_valid(tmp_path))
    (tmp_path / "valid.yaml").unlink()
    result = invoke("check", tmp_path)
    no_traceback(result)
    assert result.exit_code == 4 and "ok " in result.output and "good.yaml" in result.output


MARKUP = ["[/red]", "[wip]", "[bold]x[/bold]", "[link=javascript:alert(1)]y[/link]", "^*$ [/]"]


@pytest.mark.parametrize("text", MARKUP)
def test_markup_in_keys_values_and_paths_is_printed_literally(tmp_path, text):
    folder = tmp_path / f"d{text.replace('/', '_')}"
    folder.mkdir()
    claim = folder / f"{text.replace('/', '_')}c.yaml"
    claim.write_text(_valid(tmp_path).replace("expect: supported", f"expect: supported\n'{text}': 1"))
    result = invoke("check", folder)  # a directory: the name is not taken as a glob
    no_traceback(result)
    assert result.exit_code == 4
    assert f"unknown key '{text}'" in result.output and claim.name in result.output


def test_markup_in_a_model_id_and_the_reasons_of_an_errored_claim(tmp_path):
    claim = write_claim(tmp_path / "c.yaml", model="smollm2-135m", prompts=1, seeds=(1,))
    model = tmp_path / "[/red][wip]missing"
    result = invoke("run", claim, "--model", model, "--out", tmp_path / "out")
    no_traceback(result)
    assert result.exit_code == 3  # errored (was 1 = contradicts when the table crashed)
    (rec,) = ledger.read(tmp_path / "out")[0]
    assert rec["verdict"] == "errored" and "[/red][wip]missing" in rec["reasons"][0]
    assert "[wip]" in result.output


def test_escape_sequences_never_reach_the_terminal(tmp_path):
    claim = tmp_path / "c.yaml"
    claim.write_text(_valid(tmp_path).replace("expect: supported", 'expect: supported\n"\\e[2J\\e]0;pwned\\a\\rX": 1'))
    result = invoke("check", claim)
    no_traceback(result)
    assert result.exit_code == 4
    assert "\x1b" not in result.output and "\x07" not in result.output and "\r" not in result.output
    assert "\\x1b[2J" in result.output


def test_plain_and_safe_keep_text_but_not_control_or_markup():
    assert plain("a\x1b[31mb\x00c\td\ne\x9b") == "a\\x1b[31mb\\x00c\td\ne\\x9b"
    from rich.console import Console

    console = Console(record=True, width=200)
    for text in MARKUP:
        console.print(safe(text))
    assert console.export_text().splitlines() == MARKUP


# ---- options and output directories ---------------------------------------------------------------

@pytest.fixture
def recorded(tmp_path):
    """An output dir with one ledger record (an errored run: no model needed)."""
    out = tmp_path / "out"
    claim = write_claim(tmp_path / "c.yaml", model=str(tmp_path / "no_model"), prompts=1, seeds=(1,))
    assert invoke("run", claim, "--out", out).exit_code == 3
    return claim, out, ledger.ledger_path(out).read_bytes()


def test_unknown_dtype_is_invalid_and_the_ledger_untouched(recorded):
    claim, out, before = recorded
    result = invoke("run", claim, "--out", out, "--dtype", "float8")
    no_traceback(result)
    assert result.exit_code == 4 and "--dtype float8: expected one of float32" in result.output
    assert ledger.ledger_path(out).read_bytes() == before


def test_out_that_is_a_file_or_under_a_file(tmp_path, recorded):
    claim, out, before = recorded
    afile = tmp_path / "afile"
    afile.write_text("keep me")
    for target, message in ((afile, "not a directory"), (afile / "sub", "cannot create the directory")):
        for command in (["run", claim, "--out", target], ["report", "--out", target]):
            result = invoke(*command)
            no_traceback(result)
            if command[0] == "report" and target != afile:  # report never creates: nothing there to render
                assert result.exit_code == 5 and "no such directory" in result.output, result.output
                continue
            assert result.exit_code == 4 and message in result.output, result.output
            assert len(result.output.strip().splitlines()) == 1
    assert afile.read_text() == "keep me" and ledger.ledger_path(out).read_bytes() == before


def _immutable(path):
    """Make ``path`` unwritable even for root (chattr +i), or skip."""
    if os.geteuid() != 0:
        path.chmod(0o555)
        return lambda: path.chmod(0o755)
    if shutil.which("chattr") is None or subprocess.run(["chattr", "+i", str(path)], capture_output=True).returncode:
        pytest.skip("needs chattr +i (root) or a non-root user")
    return lambda: subprocess.run(["chattr", "-i", str(path)], check=True)


def test_read_only_out_is_invalid_and_its_ledger_intact(recorded):
    claim, out, before = recorded
    undo = _immutable(out)
    try:
        for command in (["run", claim, "--out", out], ["report", "--out", out], ["run", claim, "--out", out / "sub"]):
            result = invoke(*command)
            no_traceback(result)
            assert result.exit_code == 4 and "--out" in result.output, result.output
        assert ledger.ledger_path(out).read_bytes() == before
    finally:
        undo()


def test_an_unexpected_exception_is_one_line_at_the_entry_point(tmp_path, monkeypatch, capsys):
    import audit.schema

    def boom(path):
        raise RuntimeError("boom [/red]\nsecond line")

    monkeypatch.setattr(audit.schema, "load_claim", boom)
    monkeypatch.delenv("MI_AUDIT_TRACEBACK", raising=False)
    (tmp_path / "c.yaml").write_text("id: x\n")
    with pytest.raises(SystemExit) as exc:
        app(["check", str(tmp_path / "c.yaml")], prog_name="audit")
    err = capsys.readouterr().err
    assert exc.value.code == 3 and err.count("\n") == 1
    assert err.startswith("internal error: RuntimeError: boom [/red]") and "Traceback" not in err


# ---- chat templates --------------------------------------------------------------------------------

NESTED = "{% for a in range(100000) %}{% for b in range(100000) %}{% endfor %}{% endfor %}x"


def _template_tokenizer(template):
    tok = byte_tokenizer()
    tok.chat_template = template
    return tok


def test_a_runaway_chat_template_is_stopped_with_a_clear_error():
    from audit.encoding import TemplateTimeout, apply_template

    tok = _template_tokenizer(NESTED)
    for where in ("main", "thread"):
        caught = []

        def render():
            t = time.perf_counter()
            try:
                apply_template(tok, [{"role": "user", "content": "hi"}], seconds=0.5, tokenize=False)
            except TemplateTimeout as exc:
                caught.append((time.perf_counter() - t, str(exc)))

        if where == "main":
            render()
        else:
            worker = threading.Thread(target=render)
            worker.start()
            worker.join(30)
        (elapsed, message), = caught
        assert elapsed < 5 and "chat template took more than 0.5 s" in message and "chat_template: false" in message
    assert getattr(sys.gettrace(), "__name__", "") != "check"  # the time-limit tracer is removed


def test_a_normal_chat_template_renders_as_before():
    from audit.encoding import render

    tok = _template_tokenizer("{% for m in messages %}<u>{{ m['content'] }}</u>{% endfor %}"
                              "{% if add_generation_prompt %}<a>{% endif %}")
    expected = tok.apply_chat_template([{"role": "user", "content": "2+2?"}], tokenize=False,
                                       add_generation_prompt=True)
    assert render(tok, "2+2?", True) == (expected, True) == ("<u>2+2?</u><a>", True)


# ---- the suite is read once ------------------------------------------------------------------------

def test_check_on_many_claims_parses_their_suite_once(tmp_path, monkeypatch):
    import audit.suite as suite_mod

    suite = tmp_path / "suite.yaml"
    shutil.copy(MAIN_SUITE, suite)
    (tmp_path / "claims").mkdir()
    for i in range(30):
        claim = write_claim(tmp_path / "claims" / f"c{i:02d}.yaml", model="smollm2-135m")
        claim.write_text(claim.read_text().replace(str(MAIN_SUITE), str(suite)))
    parsed = []
    real = suite_mod.load_yaml
    monkeypatch.setattr(suite_mod, "load_yaml", lambda *a, **k: parsed.append(a) or real(*a, **k))
    result = invoke("check", tmp_path / "claims")
    assert result.exit_code == 0, result.output
    assert result.output.count("ok ") == 30 and len(parsed) == 1


def test_an_edited_suite_is_read_again_even_with_the_same_size_and_mtime(tmp_path):
    from audit.suite import load_suite

    suite = tmp_path / "suite.yaml"
    text = MAIN_SUITE.read_text()
    suite.write_text(text)
    first = load_suite(suite)
    stat = suite.stat()
    edited = text.replace(f"version: {first.version}\n", f"version: {first.version % 9 + 1}\n", 1)
    assert len(edited) == len(text) and edited != text
    suite.write_text(edited)
    os.utime(suite, ns=(stat.st_atime_ns, stat.st_mtime_ns))
    again = load_suite(suite)
    assert again.version != first.version and again.sha256 != first.sha256
    assert load_suite(suite).suite is again.suite  # unchanged: served from memory
