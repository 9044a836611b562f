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


def test_split_halves_are_disjoint_deterministic_and_cover_the_family():
    suite = load_suite(MAIN_SUITE)
    for fam in suite.family_names():
        explore = {p.id for p in suite.with_split("explore").prompts(fam)}
        confirm = {p.id for p in suite.with_split("confirm").prompts(fam)}
        every = {p.id for p in suite.prompts(fam)}
        assert explore and confirm and not explore & confirm and explore | confirm == every
        assert abs(len(explore) - len(confirm)) <= 1
        assert explore == {p.id for p in load_suite(MAIN_SUITE, "explore").prompts(fam)}  # same file, same half
    for fam in suite.suite.pairs:
        explore = {p.id for p in suite.with_split("explore").pairs(fam)}
        confirm = {p.id for p in suite.with_split("confirm").pairs(fam)}
        assert explore and confirm and not explore & confirm
        assert explore | confirm == {p.id for p in suite.suite.pairs[fam]}


def test_split_is_by_hash_of_the_id_not_by_order():
    import hashlib

    from audit.suite import split_half

    class P:
        def __init__(self, i):
            self.id = i

    items = [P(f"x-{i:03d}") for i in range(11)]
    explore = [p.id for p in split_half(items, "explore")]
    by_hash = sorted((p.id for p in items), key=lambda i: hashlib.sha256(i.encode()).hexdigest())
    assert sorted(explore) == sorted(by_hash[:6]) and explore == sorted(explore)
    assert [p.id for p in split_half(list(reversed(items)), "explore")] == explore  # input order does not matter


def test_sampling_honours_the_split_and_all_keeps_the_old_draw():
    import random

    suite = load_suite(MAIN_SUITE)
    half = suite.with_split("confirm")
    allowed = {p.id for p in half.prompts("arithmetic")}
    drawn = sample_prompts(suite, [42, 137, 2026], ["arithmetic"], 8, split="confirm")
    assert all(p.id in allowed for ps in drawn.values() for p in ps["arithmetic"])
    assert sample_prompts(half, [42], ["arithmetic"], 8) == {42: drawn[42]}
    # split all draws exactly what every earlier version drew (cached evidence stays valid)
    prompts = sorted(suite.suite.families["arithmetic"].prompts, key=lambda p: p.id)
    old = sorted(random.Random("42:arithmetic").sample(prompts, 8), key=lambda p: p.id)
    assert suite.sample(42, "arithmetic", 8) == old


def test_pair_sampling_honours_the_split():
    import random

    from audit.suite import sample_pairs

    suite = load_suite(MAIN_SUITE)
    fam = sorted(suite.suite.pairs)[0]
    drawn = sample_pairs(suite, [1, 2], [fam], 4, split="explore")
    allowed = {p.id for p in suite.with_split("explore").pairs(fam)}
    assert all(p.id in allowed for ps in drawn.values() for p in ps[fam]) and len(drawn[1][fam]) == 4
    assert drawn != sample_pairs(suite, [1, 2], [fam], 4, split="confirm")
    pairs = sorted(suite.suite.pairs[fam], key=lambda p: p.id)  # split all: the patching builder's old draw
    assert sample_pairs(suite, [1], [fam], 4)[1][fam] == sorted(random.Random(f"1:{fam}:pairs").sample(pairs, 4),
                                                                key=lambda p: p.id)
