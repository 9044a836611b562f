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
