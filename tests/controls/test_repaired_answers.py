"""The shuffled-label control of ablation claims (controls/repaired_answers.py): planted truths.

A component that carries the prompt-to-answer mapping passes; one whose removal hurts every
letter alike (its effect on the own answer is real, but no larger than on another prompt's) is
refuted; a suite with nothing to re-pair is inconclusive; a metric that does not read the answer
is refused in the claim file.
"""

import textwrap

import pytest

from audit.cache import EvidenceCache
from audit.errors import ClaimFileError
from audit.runner import RunOptions, run_claim
from audit.schema import load_claim
from controls.repaired_answers import draws
from tests.controls.answer_planted import copying, format_boost, suite
from tests.conftest import rendered


@pytest.fixture(scope="module")
def planted(tmp_path_factory):
    d = tmp_path_factory.mktemp("answers")
    return {"dir": d, "copying": copying(d), "format": format_boost(d), "suite": suite(d),
            "same": suite(d, same_first_token=True)}


ABLATION = ("{{kind: ablation, target: attn, method: zero, layers: [{layer}]}}",
            "{{kind: effect_at_least, component: L{layer}.attn, threshold: 1.0}}")
LAYER_SWEEP = ("{{kind: layer_ablation, method: skip}}", "{{kind: hub, layer: {layer}}}")
LAYER_SCALING = ("{{kind: layer_scaling, factor: 0.0}}", "{{kind: hub, layer: {layer}}}")  # factor 0 = skip


def claim(planted, tmp_path, model: str, layer: int, suite_key="suite", metric="nll_increase", n=199, name="c",
          kind=ABLATION):
    intervention, acceptance = (text.format(layer=layer) for text in kind)
    path = tmp_path / f"{name}.yaml"
    path.write_text(textwrap.dedent(f"""\
        id: {name}
        statement: "Planted: ablating L{layer}.attn raises the NLL of the prompt's own answer."
        model: {planted[model]}
        suite: {{name: {planted[suite_key]}, families: [early, late], prompts_per_family: 8, chat_template: false}}
        intervention: {intervention}
        metric: {{kind: {metric}}}
        controls: {{seeds: [1, 2, 3], shuffled_label: {{n: {n}}}}}
        acceptance: {acceptance}
        """))
    return load_claim(path)


def run(lc, tmp_path):
    return run_claim(lc, RunOptions(evidence_cache=EvidenceCache(tmp_path / f"cache-{lc.claim.id}")))


def test_a_component_that_carries_the_answer_passes(planted, tmp_path):
    rec = run(claim(planted, tmp_path, "copying", 0), tmp_path)
    ctl = rec["evidence"]["controls"]["shuffled_label"]
    assert rec["verdict"] == "supported", rec["reasons"]
    assert ctl["status"] == "passed" and ctl["re_paired"] == "answers" and ctl["n_draws"] == 199
    assert ctl["p"] == pytest.approx(1 / 200) and ctl["prompts_without_donor"] == 0
    assert "shuffled_label" in rec["controls_run"]
    assert "shuffled_label: pooled null of nll_increase of another prompt's answer" in rendered(tmp_path, rec)


def test_a_component_that_hurts_every_answer_alike_is_refuted(planted, tmp_path):
    rec = run(claim(planted, tmp_path, "format", 1, name="f"), tmp_path)
    ctl = rec["evidence"]["controls"]["shuffled_label"]
    assert rec["summary"]["interval"][0] > 1.0  # the main criterion alone: supported
    assert ctl["status"] == "refuted" and rec["verdict"] == "refuted", rec["reasons"]
    assert rec["reasons"][0].startswith("shuffled_label: pooled effect")


def test_answers_that_all_start_alike_cannot_be_re_paired(planted, tmp_path):
    rec = run(claim(planted, tmp_path, "copying", 0, suite_key="same", name="s"), tmp_path)
    ctl = rec["evidence"]["controls"]["shuffled_label"]
    assert rec["summary"]["interval"][0] > 1.0  # the main criterion alone: supported
    assert ctl["status"] == "inconclusive" and "start with the same token" in ctl["reason"]
    assert rec["verdict"] == "inconclusive"


@pytest.mark.parametrize("kind", [ABLATION, LAYER_SWEEP, LAYER_SCALING], ids=["ablation", "layer_sweep", "scaling"])
def test_a_metric_that_ignores_the_answer_is_refused(planted, tmp_path, kind):
    with pytest.raises(ClaimFileError, match="metric 'kl' does not read the answer"):
        claim(planted, tmp_path, "copying", 0, metric="kl", name="k", kind=kind)


@pytest.mark.parametrize("kind", [LAYER_SWEEP, LAYER_SCALING], ids=["layer_sweep", "scaling"])
def test_a_hub_layer_that_carries_the_answer_passes_and_one_that_hurts_every_answer_is_refuted(planted, tmp_path, kind):
    """The layer-sweep form (``hub`` acceptance, skip or scaling by 0): the copying layer 0 passes,
    the format layer 1 (the hub of its model by the criterion alone) is refuted."""
    copy = run(claim(planted, tmp_path, "copying", 0, name="lc", kind=kind), tmp_path)
    ctl = copy["evidence"]["controls"]["shuffled_label"]
    assert copy["verdict"] == "supported" and ctl["status"] == "passed" and ctl["claimed"] == "L0", copy["reasons"]
    assert "shuffled_label: pooled null of nll_increase of another prompt's answer" in rendered(tmp_path, copy)
    fmt = run(claim(planted, tmp_path, "format", 1, name="lf", kind=kind), tmp_path)
    assert fmt["evidence"]["controls"]["shuffled_label"]["status"] == "refuted"
    assert fmt["verdict"] == "refuted" and fmt["reasons"][0].startswith("shuffled_label: pooled effect"), fmt["reasons"]
    assert fmt["reasons"][1].startswith("layer 1 is on top") and fmt["summary"]["top_separated"]  # the hub alone held


def test_draws_are_seeded_within_the_family_and_never_the_prompt_itself():
    families = {"a": ["a1", "a2", "a3"], "b": ["b1", "b2"], "c": ["c1"]}
    one, again, other = draws(1, families, 50), draws(1, families, 50), draws(2, families, 50)
    assert one == again and one != other
    assert all(set(plan) == {"a1", "a2", "a3", "b1", "b2"} for plan in one)  # a family of one takes no part
    assert all(plan[p] != p and plan[p][0] == p[0] for plan in one for p in plan)
    assert {plan["a3"] for plan in one} == {"a1", "a2"}  # both donors are drawn
