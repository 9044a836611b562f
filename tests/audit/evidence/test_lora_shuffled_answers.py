"""The shuffled-answers control on the planted LoRA model (tests/lora_planted.py): the task
"answer zz" is nearly a constant, so an adapter trained on answers permuted among its prompts
learns it as well — the control must keep the claim from being supported; when the answer depends
on the prompt (``mapped``: "a ..." -> zz, "b ..." -> yy) the shuffled adapter cannot learn the
pairing and the same claim is supported."""

import pytest

from audit.cache import EvidenceCache
from audit.errors import ClaimFileError
from audit.runner import RunOptions, run_claim
from controls.shuffled_answers import derangement, shuffled
from tests.lora_planted import PLACEMENTS, build_planted, lora_claim

ACCEPT = ("{kind: lora_efficiency, candidate: atlas, reference: all, min_param_ratio: 5, max_exact_match_gap: 0.2, "
          "min_margin_over_control: 0.3}")


@pytest.mark.parametrize("n", [2, 3, 7, 16])
def test_the_derangement_moves_every_answer(n):
    for seed in range(20):
        perm = derangement(n, seed)
        assert sorted(perm) == list(range(n)) and all(i != j for i, j in enumerate(perm))
    assert derangement(n, 5) == derangement(n, 5)


def test_shuffled_prompts_keep_ids_and_questions():
    from audit.suite import SuitePrompt

    prompts = [SuitePrompt(id=f"p{i}", prompt=f"q{i}", answer=f"a{i}") for i in range(5)]
    out = shuffled(prompts, 3)
    assert [p.id for p in out] == [p.id for p in prompts] and [p.prompt for p in out] == [p.prompt for p in prompts]
    assert all(o.answer != p.answer for o, p in zip(out, prompts))


def _with_control(tmp_path, mapped: bool, seeds: str = "[1, 2, 3]", margin: float = 0.3, **kw) -> dict:
    d = build_planted(tmp_path / "p", mapped=mapped)
    lc = lora_claim(d, "shuf", PLACEMENTS, ACCEPT, seeds=seeds, **kw)
    lc.path.write_text(lc.path.read_text().replace(f"controls: {{seeds: {seeds}}}",
                                                   f"controls: {{seeds: {seeds}, shuffled_answers: {{min_margin: {margin}}}}}"))
    from audit.schema import load_claim

    rec = run_claim(load_claim(lc.path), RunOptions(evidence_cache=EvidenceCache(tmp_path / "c")))
    rows = rec["evidence"]["controls"]["shuffled_answers"]
    assert len(rows) == len(rec["evidence"]["seeds"]) and "shuffled_answers" in rec["controls_run"]
    return rec


def test_a_task_shuffled_answers_also_learn_is_not_supported(tmp_path):
    rec = _with_control(tmp_path, mapped=False)
    checks = {c["check"]: c for c in rec["summary"]["checks"]}
    shuffled_check = checks["exact match atlas - shuffled answers"]
    assert shuffled_check["high"] < 0.3  # the shuffled adapter learns "zz" as well: no margin over it
    assert rec["verdict"] != "supported", rec["reasons"]  # the same claim without the control is supported


def test_a_prompt_dependent_task_passes_the_control(tmp_path):
    # By construction the true adapter can reach ~0.8 (4 in 5 prompts follow the letter) and a
    # shuffled one only the marginal guess (~0.4): a margin of 0.1 is well inside that gap. Training
    # seeds are the replicates of a training claim (seed-level t interval), so five of them and a
    # longer, gentler schedule keep adapters from failing to learn by chance.
    rec = _with_control(tmp_path, mapped=True, seeds="[1, 2, 3, 4, 5]", margin=0.1,
                        training="{rank: 4, alpha: 8, steps: 150, batch_size: 8, learning_rate: 0.01}")
    checks = {c["check"]: c for c in rec["summary"]["checks"]}
    shuffled_check = checks["exact match atlas - shuffled answers"]
    assert shuffled_check["status"] == "pass" and shuffled_check["low"] > 0.1, shuffled_check
    assert rec["verdict"] == "supported", rec["reasons"]


def test_shuffled_answers_needs_a_candidate_and_a_lora_kind(tmp_path):
    d = build_planted(tmp_path / "p")
    text = (d / "atlas.yaml").read_text().replace("controls: {seeds: [1, 2]}",
                                                  "controls: {seeds: [1, 2], shuffled_answers: {}}")
    (d / "bad.yaml").write_text(text.replace("id: atlas", "id: bad"))
    from audit.schema import load_claim

    with pytest.raises(ClaimFileError, match="intervention 'layer_ablation' takes no shuffled_answers control"):
        load_claim(d / "bad.yaml")
