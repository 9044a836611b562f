"""The seeds control's pure checks: identical draws are reruns, overlaps are listed."""

from hypothesis import given, settings
from hypothesis import strategies as st

from audit.suite import load_suite
from controls.seeds import identical_seeds, ids_of, overlap, sample_prompts, unit_ids
from tests.conftest import MAIN_SUITE


def test_seeds_that_draw_every_prompt_are_identical():
    suite = load_suite(MAIN_SUITE)
    full = sample_prompts(suite, [1, 2, 3], ["arithmetic", "copying"], 40)
    assert identical_seeds(full) == [(1, 2), (1, 3), (2, 3)]
    assert identical_seeds(sample_prompts(suite, [1, 2, 3], ["arithmetic", "copying"], 8)) == []
    # the confirm half has 20 prompts per family: 20 draws all of them in every seed
    assert len(identical_seeds(sample_prompts(suite, [1, 2], ["arithmetic"], 20, split="confirm"))) == 1


def test_a_role_that_differs_keeps_seeds_apart():
    same = {"eval": ["a", "b"]}
    assert identical_seeds({1: {**same, "positive": ["p1"]}, 2: {**same, "positive": ["p2"]}}) == []
    assert identical_seeds({1: {**same, "positive": ["p1"]}, 2: {**same, "positive": ["p1"]}}) == [(1, 2)]
    # the same ids under another role are other inputs
    assert identical_seeds({1: {"eval": ["a"], "x": ["b"]}, 2: {"eval": ["b"], "x": ["a"]}}) == []


def test_ids_and_overlap():
    samples = {1: {"f": ["a", "b"]}, 2: {"f": ["b", "c"]}}
    assert ids_of(samples) == {1: frozenset({("f", "a"), ("f", "b")}), 2: frozenset({("f", "b"), ("f", "c")})}
    assert unit_ids(samples) == {"a", "b", "c"}
    assert overlap({"a", "b", "c"}, {"c", "b", "z"}) == ["b", "c"] and overlap({"a"}, {"b"}) == []


SUITE = load_suite(MAIN_SUITE)


@settings(max_examples=40, deadline=None)
@given(st.lists(st.integers(0, 10_000), min_size=2, max_size=6, unique=True), st.integers(1, 19))
def test_disjoint_splits_never_overlap_whatever_the_seeds(seeds, k):
    suite = SUITE
    explore = unit_ids(sample_prompts(suite, seeds, ["arithmetic", "json_schema"], k, split="explore"))
    confirm = unit_ids(sample_prompts(suite, seeds, ["arithmetic", "json_schema"], k, split="confirm"))
    assert overlap(explore, confirm) == []
