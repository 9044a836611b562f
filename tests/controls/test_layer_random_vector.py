"""The random-vector control of a layer-ablation hub claim on planted truths
(tests/controls/layer_planted.py): a layer whose write the readout reads beats random same-norm
perturbations of it (supported); a layer that matters only by the size of its write does not
(refuted); a model whose layers write nothing ties (inconclusive); and the claim file is checked."""

import pytest

from audit.cache import EvidenceCache
from audit.errors import ClaimFileError
from audit.runner import RunOptions, run_claim
from audit.schema import load_claim
from tests.conftest import write_claim
from tests.controls.layer_planted import LAYER, build

N = 19  # p can reach 1 / 20 = 0.05


@pytest.fixture(scope="module")
def models(tmp_path_factory, tiny_dir):
    return {"read": build(tmp_path_factory, "read"), "unread": build(tmp_path_factory, "unread"),
            "silent": tiny_dir("silent_llama", "llama", silent=True)}


def claim(tmp_path, model, name="c", controls=f"random_vector: {{n: {N}}}", acceptance=None, method="skip"):
    path = write_claim(tmp_path / f"{name}.yaml", model=str(model), layer=LAYER, method=method)
    text = path.read_text().replace("controls:\n", f"controls:\n  {controls}\n", 1)
    if acceptance is not None:
        text = text[:text.index("acceptance:")] + acceptance
    path.write_text(text)
    return path


def run(tmp_path, model, **kw):
    lc = load_claim(claim(tmp_path, model, **kw))
    return run_claim(lc, RunOptions(evidence_cache=EvidenceCache(tmp_path / "cache")))


def test_a_layer_writing_what_the_readout_reads_beats_random_same_norm_perturbations(tmp_path, models):
    rec = run(tmp_path, models["read"])
    ctl = rec["evidence"]["controls"]["random_vector"]
    assert rec["verdict"] == "supported", rec["reasons"]
    assert ctl["status"] == "passed" and ctl["p"] == pytest.approx(1 / (N + 1)) and ctl["layer"] == LAYER
    assert ctl["observed"] > 10 * ctl["null_max"] > 0  # removing it moves the output far more than any draw
    assert len(ctl["null_per_seed"]) == 3 and all(len(row) == N for row in ctl["null_per_seed"])
    assert "random_vector" in rec["controls_run"]


def test_a_layer_that_matters_only_by_the_size_of_its_write_is_refuted(tmp_path, models):
    """Planted: the layer writes a direction nothing reads, large enough that the final norm feels it;
    moving its output as much along random directions (which the readout does read) changes the
    output at least as much, so the hub the sweep alone supports sits inside the null's bulk."""
    rec = run(tmp_path, models["unread"])
    ctl = rec["evidence"]["controls"]["random_vector"]
    assert rec["summary"]["top_layer"] == LAYER and "is on top" in " ".join(rec["reasons"])  # the sweep supports it
    assert ctl["status"] == "refuted" and rec["verdict"] == "refuted", (ctl["reason"], rec["reasons"])
    assert ctl["observed"] <= ctl["q75"] and ctl["observed"] > 0
    assert rec["reasons"][0].startswith("random_vector")


def test_a_layer_that_writes_nothing_ties_and_is_inconclusive(tmp_path, models):
    rec = run(tmp_path, models["silent"])
    ctl = rec["evidence"]["controls"]["random_vector"]
    assert rec["verdict"] == "inconclusive"
    assert ctl["status"] == "inconclusive" and "tie" in ctl["reason"]
    assert ctl["null_max"] == ctl["null_min"] == ctl["observed"] == 0


def test_too_few_draws_are_inconclusive_never_a_pass(tmp_path, models):
    rec = run(tmp_path, models["read"], controls="random_vector: {n: 9}", name="few")
    ctl = rec["evidence"]["controls"]["random_vector"]
    assert ctl["status"] == "inconclusive" and not ctl["powered"] and rec["verdict"] == "inconclusive"


def test_the_draws_are_the_seeds_and_cached(tmp_path, models):
    first = run(tmp_path, models["read"], name="again")
    second = run(tmp_path, models["read"], name="again")
    a, b = first["evidence"]["controls"]["random_vector"], second["evidence"]["controls"]["random_vector"]
    assert a["null_per_seed"] == b["null_per_seed"]
    assert len({tuple(row) for row in a["null_per_seed"]}) == 3  # each seed draws its own directions


def test_a_claim_naming_no_layer_is_an_error_with_its_line(tmp_path, models):
    path = claim(tmp_path, models["read"], name="nolayer",
                 acceptance="acceptance:\n  kind: effect_at_least\n  component: L2\n  threshold: 0.1\n")
    with pytest.raises(ClaimFileError) as err:
        load_claim(path)
    text = str(err.value)
    assert f"{path.name}:" in text and "random_vector judges one claimed layer" in text
    assert "names a layer: hub)" in text and "controls.random_vector" in text


def test_layer_sweeps_take_random_vector_and_patching_does_not():
    import controls
    import interventions

    takers = {k for k in interventions.INTERVENTIONS.names() if "random_vector" in controls.accepted(
        interventions.INTERVENTIONS.get(k))}
    assert {"steering", "layer_ablation", "layer_scaling"} <= takers and "patching" not in takers


def test_the_layer_sweep_card_draws_the_null(tmp_path, models):
    from tests.conftest import rendered

    rec = run(tmp_path, models["unread"], name="card")
    page = rendered(tmp_path, rec)
    assert "null-random_vector" in page and "random_vector: pooled null of" in page and "refuted" in page
    assert list((tmp_path / "report" / "plots").glob("card-*null-random_vector*.png"))


def test_scaling_by_zero_draws_the_skip_null(tmp_path, models):
    """layer_scaling removes (1 - factor) of the write: at factor 0 its null is the skip null's."""
    skip = run(tmp_path, models["read"], name="skip0")
    path = claim(tmp_path, models["read"], name="scale0")
    path.write_text(path.read_text().replace("kind: layer_ablation\n  method: skip", "kind: layer_scaling\n  factor: 0.0"))
    scaled = run_claim(load_claim(path), RunOptions(evidence_cache=EvidenceCache(tmp_path / "cache")))
    a, b = skip["evidence"]["controls"]["random_vector"], scaled["evidence"]["controls"]["random_vector"]
    assert scaled["evidence"]["method"] == "scale x0" and b["status"] == a["status"] == "passed"
    for row_a, row_b in zip(a["null_per_seed"], b["null_per_seed"], strict=True):
        assert row_b == pytest.approx(row_a, abs=1e-6)


def test_the_work_estimate_counts_the_draws(tmp_path, models):
    from audit.validation import work_terms, work_total

    without = work_total(work_terms(load_claim(write_claim(tmp_path / "w0.yaml", model=str(models["read"]), layer=LAYER))))
    terms = work_terms(load_claim(claim(tmp_path, models["read"], name="w1", controls="random_vector: {n: 50}")))
    assert any(f.label == "random directions" and f.value == 50 and f.loc == ("controls", "random_vector", "n")
               for term in terms for f in term)
    assert work_total(terms) > without
