"""The shuffled-label control of layer-skip claims, the reference re-paired
(audit/evidence/layer_skip_repaired.py): each prompt's skipped output against the unmodified model's
on another prompt of its family.

Synthetic: a skipped model equal to the unmodified one keeps its own prompt's top-5 path (1.0) far
above another prompt's: passed, small p; a skipped model whose output ignores the prompt is as close
to another prompt's output as to its own: not passed, large p; families of one prompt: undefined.
Tiny model (the random_component test's planted 8-layer Llama): skipping the two silent layers beats
the re-paired floor; skipping the planted writer sits on it; the verdict is the same without the
control, and the report draws the null."""

import random
from types import SimpleNamespace

import pytest

from audit.cache import EvidenceCache
from audit.evidence.layer_skip_repaired import record
from audit.runner import RunOptions, run_claim
from audit.schema import load_claim
from tests.audit.evidence.test_layer_skip import skip_claim
from tests.conftest import rendered

VOCAB, POSITIONS, FAMILIES, PER_FAMILY = 40, 6, ("a", "b", "c"), 6


def _path(rng) -> list[list[int]]:
    return [rng.sample(range(VOCAB), 5) for _ in range(POSITIONS)]


def _synthetic(per_family: int = PER_FAMILY, seeds=(1, 2)):
    """(samples, base outputs) of prompts whose unmodified top-5 paths and continuations differ."""
    rng = random.Random(0)
    samples = {s: {f: [SimpleNamespace(id=f"{f}{s}-{i}") for i in range(per_family)] for f in FAMILIES} for s in seeds}
    ids = [p.id for fams in samples.values() for ps in fams.values() for p in ps]
    base = {pid: {"topk": _path(rng), "continuation": [rng.randrange(VOCAB) for _ in range(POSITIONS)]} for pid in ids}
    return samples, base


def _metrics(outputs: dict, base: dict) -> dict:
    """The per-prompt skip metrics the op would store (own prompt)."""
    from audit.evidence.layer_skip_repaired import repaired

    return {pid: repaired(out, base[pid]) for pid, out in outputs.items()}


def test_an_unchanged_model_beats_the_repaired_floor():
    samples, base = _synthetic()
    outputs = {pid: dict(b) for pid, b in base.items()}
    rec = record("same", samples, _metrics(outputs, base), outputs, base, n=39)
    assert rec["observed"] == 1.0 and rec["null_max"] < 0.5, rec["reason"]
    assert rec["status"] == "passed" and rec["p"] <= 0.05, rec["reason"]
    assert rec["agreement"]["observed"] == 1.0 and rec["agreement"]["status"] == "passed"
    assert rec["prompts_without_donor"] == 0 and rec["n_draws"] == 39 and rec["n_seeds"] == 2


def test_an_output_that_ignores_the_prompt_sits_on_the_repaired_floor():
    samples, base = _synthetic()
    rng = random.Random(1)
    constant = {"topk": _path(rng), "continuation": [0] * POSITIONS}  # the same output whatever the prompt
    outputs = {pid: constant for pid in base}
    rec = record("broken", samples, _metrics(outputs, base), outputs, base, n=39)
    assert rec["status"] != "passed" and rec["p"] > 0.2, rec["reason"]
    assert rec["null_min"] <= rec["observed"] <= rec["null_max"]
    assert rec["agreement"]["status"] == "inconclusive" and "tie" in rec["agreement"]["reason"]


def test_families_of_one_prompt_leave_the_control_undefined():
    samples, base = _synthetic(per_family=1)
    outputs = {pid: dict(b) for pid, b in base.items()}
    rec = record("same", samples, _metrics(outputs, base), outputs, base, n=39)
    assert rec["status"] == "inconclusive" and rec["undefined"] and "one prompt" in rec["reason"]
    assert "p" not in rec and "observed" not in rec  # no number that could read as a finding


def test_lonely_prompts_are_left_out_and_counted():
    samples, base = _synthetic()
    samples[1]["a"] = samples[1]["a"][:1]
    outputs = {pid: dict(b) for pid, b in base.items()}
    rec = record("same", samples, _metrics(outputs, base), outputs, base, n=39)
    assert rec["prompts_without_donor"] == 1 and rec["status"] == "passed"


# ---------------------------------------------------------------------------------------------- tiny model

@pytest.fixture(scope="module")
def planted(tmp_path_factory):
    from tests.controls.test_layer_skip_random_component import _model

    return _model(tmp_path_factory.mktemp("skip_repaired"), [2, 5])


def _run(tmp_path, model, name, control=True, prompts=4):
    from tests.controls.test_layer_skip_random_component import CONFIGS

    lc = skip_claim(tmp_path / f"{name}.yaml", model, CONFIGS, min_speedup=0.01, timing_tolerance=100, prompts=prompts)
    if control:
        lc.path.write_text(lc.path.read_text().replace("seeds: [1, 2]", "seeds: [1, 2]\n  shuffled_label: {n: 39}"))
        lc = load_claim(lc.path)
    return run_claim(lc, RunOptions(evidence_cache=EvidenceCache(tmp_path / "cache")))


def test_silent_layers_beat_the_repaired_floor_and_the_planted_writer_does_not(tmp_path, planted):
    rec = _run(tmp_path, planted, "rp")
    nulls = rec["evidence"]["controls"]["shuffled_label"]
    silent, writer = nulls["L2,5"], nulls["L3,6"]
    assert silent["observed"] == 1.0 and silent["status"] == "passed" and silent["p"] <= 0.05, silent["reason"]
    assert silent["null_max"] < 1.0 and silent["agreement"]["status"] == "passed"
    assert writer["status"] != "passed" and writer["p"] > 0.05, writer["reason"]
    assert writer["observed"] < silent["median"]  # far below what another prompt's output keeps of an unskipped one
    assert "shuffled_label" in rec["controls_run"]
    assert any(r.startswith("shuffled_label (reported, not judged) skip L3,6") for r in rec["reasons"])
    assert all(set(m) == {"top5_overlap", "greedy_agreement", "prefix_agreement", "nll_increase"}
               for row in rec["evidence"]["configs"] for m in row["per_prompt"].values())  # outputs not stored
    bare = _run(tmp_path, planted, "bare", control=False)
    assert rec["verdict"] == bare["verdict"] and rec["summary"]["config_status"] == bare["summary"]["config_status"]
    assert "controls" not in bare["evidence"]
    page = rendered(tmp_path, rec)
    for text in ("Control: shuffled_label", "null-repaired-reference-0", "re-paired median (range)"):
        assert text in page, text


def test_one_prompt_per_family_is_undefined_never_a_finding(tmp_path, planted):
    rec = _run(tmp_path, planted, "lonely", prompts=1)
    for ctl in rec["evidence"]["controls"]["shuffled_label"].values():
        assert ctl["undefined"] and ctl["status"] == "inconclusive", ctl
    assert "undefined" in rendered(tmp_path, rec)
