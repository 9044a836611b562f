"""Verdict, confidence, criteria and the seeds control are pure: importing them never imports torch."""

import subprocess
import sys

from tests.conftest import REPO


def test_verdict_logic_imports_no_torch():
    code = ("import sys, audit.verdict, audit.confidence, audit.criteria, audit.stats, audit.inference, controls.seeds; "
            "bad = [m for m in ('torch', 'transformers') if m in sys.modules]; "
            "print(bad); sys.exit(1 if bad else 0)")
    proc = subprocess.run([sys.executable, "-c", code], cwd=REPO, capture_output=True, text=True)
    assert proc.returncode == 0, proc.stdout + proc.stderr


def _no_heavy_imports_after(code: str) -> subprocess.CompletedProcess:
    probe = (f"import sys\n{code}\n"
             "bad = [m for m in ('torch', 'transformers', 'peft', 'bitsandbytes') if m in sys.modules]\n"
             "print('heavy modules loaded:', bad); sys.exit(1 if bad else 0)")
    return subprocess.run([sys.executable, "-c", probe], cwd=REPO, capture_output=True, text=True)


def test_the_claim_schema_imports_no_torch():
    proc = _no_heavy_imports_after("import audit, audit.schema, interventions, controls, audit.gate, audit.render, audit.api, "
                                   "audit.project, audit.publication, audit.model_objects; from audit import run, check")
    assert proc.returncode == 0, proc.stdout + proc.stderr


def test_audit_check_and_schema_run_without_importing_torch():
    """`audit check` on every shipped claim and `audit schema` never load the model stack."""
    code = ("from typer.testing import CliRunner\nfrom audit.cli import app\n"
            "r = CliRunner().invoke(app, ['check', 'claims/'])\nassert r.exit_code == 0, r.output\n"
            "r = CliRunner().invoke(app, ['schema'])\nassert r.exit_code == 0 and '\"title\"' in r.output, r.output")
    proc = _no_heavy_imports_after(code)
    assert proc.returncode == 0, proc.stdout + proc.stderr
