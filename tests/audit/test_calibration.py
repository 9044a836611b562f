"""Every calibration case of every criterion family runs on its synthetic evidence without erroring
(3 draws each; ``bench/calibration.py`` measures the rates with many draws)."""

from audit.calibration import all_cases, run_case


def test_every_calibration_case_runs_without_error():
    cases = all_cases()
    prefixes = {c.name.split(":")[0] for c in cases}
    assert {"steering", "training"} <= prefixes
    assert len({c.name for c in cases}) == len(cases)  # names are unique (they seed the draws)
    for case in cases:
        assert case.truth in ("supported", "refuted", "null"), case.name
        row = run_case(case, 3)
        assert row["errored"] == 0.0, case.name


def test_calibration_modules_import_no_torch():
    import subprocess
    import sys

    from tests.conftest import REPO

    code = ("import sys, audit.calibration_steering, audit.calibration_training; "
            "bad = [m for m in ('torch', 'transformers') if m in sys.modules]; sys.exit(1 if bad else 0)")
    assert subprocess.run([sys.executable, "-c", code], cwd=REPO).returncode == 0
