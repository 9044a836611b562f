"""Planted truths of quantization's shuffled_label control (audit/evidence/quantization_controls.py
``repaired_match``): a mode that answers each prompt's own question beats its re-paired floor; one that
gives every prompt of a family the same answer does not; exact match 0 everywhere is a tie."""

from types import SimpleNamespace

import pytest

from audit.evidence.quantization_controls import repaired_match
from tests.conftest import byte_tokenizer

FAMILIES = {"arith": [("a1", "7"), ("a2", "12"), ("a3", "9"), ("a4", "30")],
            "copy": [("c1", "dog"), ("c2", "cat"), ("c3", "owl"), ("c4", "bee")]}


@pytest.fixture(scope="module")
def setup():
    tok = byte_tokenizer()
    pairs = {pid: (tok("q")["input_ids"], tok(" " + a)["input_ids"]) for fam in FAMILIES.values() for pid, a in fam}
    samples = {s: {f: [SimpleNamespace(id=pid) for pid, _ in fam] for f, fam in FAMILIES.items()} for s in (1, 2)}
    ctx = SimpleNamespace(loaded=SimpleNamespace(tokenizer=tok),
                          lc=SimpleNamespace(claim=SimpleNamespace(controls=SimpleNamespace(
                              shuffled_label=SimpleNamespace(n=199)))))
    return ctx, pairs, samples


def measured(texts: dict) -> dict:
    answers = {pid: a for fam in FAMILIES.values() for pid, a in fam}
    return {"texts": texts, "per_prompt": {p: {"exact_match": float(t.startswith(answers[p]))} for p, t in texts.items()}}


def run(setup, texts):
    ctx, pairs, samples = setup
    return repaired_match(ctx, ["m"], {"m": measured(texts)}, samples, pairs)["m"]


def test_answering_each_own_prompt_beats_the_floor(setup):
    r = run(setup, {pid: f"{a} and more" for fam in FAMILIES.values() for pid, a in fam})
    assert r["status"] == "passed" and r["observed"] == 1.0 and r["null_max"] == 0.0 and r["p"] == pytest.approx(1 / 200)


def test_one_answer_per_family_is_at_its_floor(setup):
    # every arithmetic prompt answered "7", every copy prompt "dog": right once per family of four
    r = run(setup, {pid: FAMILIES[f][0][1] for f, fam in FAMILIES.items() for pid, _ in fam})
    assert r["observed"] == 0.25 and r["status"] == "refuted", r["reason"]
    assert r["median"] == pytest.approx(0.25, abs=0.05)


def test_no_exact_match_anywhere_is_a_tie(setup):
    r = run(setup, {pid: "zzz" for fam in FAMILIES.values() for pid, _ in fam})
    assert r["status"] == "inconclusive" and "tie" in r["reason"]


def test_families_of_one_prompt_cannot_be_re_paired(setup):
    ctx, pairs, _ = setup
    samples = {1: {"arith": [SimpleNamespace(id="a1")], "copy": [SimpleNamespace(id="c1")]}}
    r = repaired_match(ctx, ["m"], {"m": measured({"a1": "7", "c1": "dog"})}, samples, pairs)["m"]
    assert r["status"] == "inconclusive" and r["undefined"] and "no donor" in r["reason"]
