"""The shipped main suite: 12 families, >= 32 prompts each, reproducible, seeds resample."""

import subprocess
import sys

from audit.suite import load_suite
from controls.seeds import sample_prompts
from tests.conftest import MAIN_SUITE, REPO

FAMILIES = ["copying", "delimiter_tracking", "json_schema", "factual_recall", "arithmetic", "code_syntax",
            "code_semantics", "variable_renaming", "dead_code", "refusal_compliance", "verbosity_control",
            "uncertainty_signalling"]


def test_main_suite_has_the_study_families_with_enough_prompts():
    suite = load_suite(REPO / "claims" / "suites" / "main.yaml")
    assert suite.family_names() == FAMILIES
    for fam in FAMILIES:
        prompts = suite.suite.families[fam].prompts
        assert len(prompts) >= 32
        assert len({p.prompt for p in prompts}) == len(prompts)
        assert all(p.answer and not p.answer[0].isspace() for p in prompts)


def test_pairs_for_six_families_differ_in_answer():
    suite = load_suite(REPO / "claims" / "suites" / "main.yaml")
    assert len(suite.suite.pairs) >= 6
    for pairs in suite.suite.pairs.values():
        assert len(pairs) >= 16 and all(p.clean_answer != p.corrupt_answer for p in pairs)


def test_generator_reproduces_the_committed_file():
    proc = subprocess.run([sys.executable, str(REPO / "claims" / "suites" / "build_main.py"), "--check"],
                          capture_output=True, text=True)
    assert proc.returncode == 0, proc.stdout


def test_seed_sampling_is_deterministic_and_differs_between_seeds():
    suite = load_suite(MAIN_SUITE)
    a = sample_prompts(suite, [42, 137], ["arithmetic"], 8)
    b = sample_prompts(suite, [42, 137], ["arithmetic"], 8)
    assert a == b
    assert [p.id for p in a[42]["arithmetic"]] != [p.id for p in a[137]["arithmetic"]]
    assert len(a[42]["arithmetic"]) == 8
