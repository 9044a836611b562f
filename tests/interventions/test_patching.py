"""Activation patching on tiny models: planted path found, misaligned pairs refused, trivial flagged."""

import pytest
import torch

from audit.cache import EvidenceCache
from audit.runner import RunOptions, run_claim
from audit.schema import load_claim
from tests.interventions.test_ablation import claim_file, planted_mlp  # noqa: F401  (fixture)


def run(lc, tmp_path, tag="p"):
    return run_claim(lc, RunOptions(evidence_cache=EvidenceCache(tmp_path / f"cache-{tag}")))


PATCH_MLP = "  kind: patching\n  target: mlp\n  min_gap: 0.01"


def test_planted_mlp_carries_the_difference(tmp_path, planted_mlp):  # noqa: F811
    good = run(claim_file(tmp_path, planted_mlp, PATCH_MLP, "  kind: top_component\n  component: L2.mlp",
                          families="[arithmetic, code_semantics]", prompts=4), tmp_path)
    assert good["verdict"] == "supported", good["reasons"]
    assert good["evidence"]["metric"] == "recovery"
    bad = run(claim_file(tmp_path, planted_mlp, PATCH_MLP, "  kind: top_component\n  component: L0.mlp",
                         families="[arithmetic, code_semantics]", prompts=4, name="bad"), tmp_path)
    assert bad["verdict"] == "refuted"


PAIR_SUITE = """\
name: pairs
version: 1
families:
  animals:
    prompts: [{id: a-0, prompt: "x", answer: "y"}]
pairs:
  animals:
    - {id: p0, clean: "The cat sat. Say it:", clean_answer: "cat", corrupt: "The horse sat. Say it:", corrupt_answer: "horse"}
    - {id: p1, clean: "The dog ran. Say it:", clean_answer: "dog", corrupt: "The sheep ran. Say it:", corrupt_answer: "sheep"}
"""


def test_misaligned_pairs_are_refused_with_both_tokenizations_and_never_pass(tmp_path, planted_mlp):  # noqa: F811
    suite = tmp_path / "pairs.yaml"
    suite.write_text(PAIR_SUITE)
    rec = run(claim_file(tmp_path, planted_mlp, PATCH_MLP, "  kind: top_component\n  component: L2.mlp",
                         families="[animals]", prompts=2, seeds="[1]", suite=suite), tmp_path)
    assert rec["verdict"] == "errored" and "2 refused" in rec["reasons"][0]
    # the refusals are recorded in the ledger record's evidence? errored runs keep only the error,
    # so check the builder's message directly
    from audit.evidence.patching import _encode_pair
    from audit.suite import load_suite
    from tests.conftest import byte_tokenizer

    pair = load_suite(suite).suite.pairs["animals"][0]
    _, _, problem = _encode_pair(byte_tokenizer(), pair, False)
    assert "different lengths" in problem and "clean:" in problem and "corrupt:" in problem


def test_last_layer_residual_recovery_is_flagged_trivial(tmp_path, planted_mlp):  # noqa: F811
    spec = "  kind: patching\n  target: residual\n  layers: [0, 3]\n  positions: [last]\n  min_gap: 0.01"
    rec = run(claim_file(tmp_path, planted_mlp, spec, "  kind: top_component\n  component: L3@last",
                         families="[arithmetic]", prompts=4), tmp_path)
    assert rec["evidence"]["trivial"] == ["L3@last"]
    assert rec["verdict"] == "inconclusive" and "trivial" in " ".join(rec["reasons"])
    pooled = rec["summary"]["pooled"]
    assert pooled[1] == pytest.approx(1.0, abs=1e-4)  # full residual at the last layer: recovery is exactly 1


def test_uninformative_pairs_are_not_evidence(tmp_path, planted_mlp):  # noqa: F811
    rec = run(claim_file(tmp_path, planted_mlp, "  kind: patching\n  target: mlp\n  min_gap: 1000.0",
                         "  kind: top_component\n  component: L2.mlp", families="[arithmetic]", prompts=4), tmp_path)
    assert rec["verdict"] == "errored" and "no informative pairs" in rec["reasons"][0]


def _random_component_claim(tmp_path, model_dir, name, threshold):
    lc = claim_file(tmp_path, model_dir, "  kind: patching\n  target: mlp\n  layers: [5]\n  min_gap: 0.01",
                    f"  kind: effect_at_least\n  component: L5.mlp\n  threshold: {threshold}", name=name,
                    families="[arithmetic, code_semantics]", prompts=4)
    lc.path.write_text(lc.path.read_text().replace("controls: {seeds: [1, 2, 3]}",
                                                   "controls: {seeds: [1, 2, 3], random_component: {n: 199}}"))
    return load_claim(lc.path)


def test_a_patch_that_recovers_more_than_every_random_component_passes_the_control(tmp_path, tmp_path_factory):
    from tests.interventions.test_ablation import _deep_mlp

    rec = run(_random_component_claim(tmp_path, _deep_mlp(tmp_path_factory, 30.0, 0.05, "p_specific"), "specific",
                                      0.2), tmp_path, "s")
    ctl = rec["evidence"]["controls"]["random_component"]
    assert rec["verdict"] == "supported", rec["reasons"]
    assert ctl["status"] == "passed" and ctl["n_draws"] == 23 and "random_component" in rec["controls_run"]


def test_a_patch_random_components_outdo_is_refuted_by_the_control(tmp_path, tmp_path_factory):
    """Planted: the claimed MLP recovers a little, every other layer's MLP far more: the control refutes
    it (the null explains the recovery), so the claim is not supported whatever the criterion alone says."""
    from tests.interventions.test_ablation import _deep_mlp

    rec = run(_random_component_claim(tmp_path, _deep_mlp(tmp_path_factory, 3.0, 30.0, "p_generic"), "generic",
                                      1e-4), tmp_path, "g")
    ctl = rec["evidence"]["controls"]["random_component"]
    assert ctl["status"] == "refuted" and rec["verdict"] != "supported", (ctl, rec["reasons"])
    assert ctl["observed"] < ctl["median"]


@pytest.fixture(scope="module")
def copy_model(tmp_path_factory):
    """A Llama that answers with the letter its prompt contains, through layer 2's MLP: one-hot
    embeddings and an identity read-out; layer 0's attention averages every earlier token into the
    answer position (zero queries and keys: uniform weights; identity values and output); every
    other write is zeroed and MLP 2 writes a large multiple of its normalised input. Patching MLP 2
    from a pair's own clean run gives that run's letter; from another pair's run, a third letter:
    recovery of the pair's own logit difference collapses (to about a half)."""
    from transformers import LlamaConfig, LlamaForCausalLM

    from tests.conftest import byte_tokenizer, save

    tok = byte_tokenizer()
    vocab, hidden = len(tok), 264
    torch.manual_seed(0)
    model = LlamaForCausalLM(LlamaConfig(
        vocab_size=vocab, hidden_size=hidden, intermediate_size=2 * hidden, num_hidden_layers=4,
        num_attention_heads=4, num_key_value_heads=4, max_position_embeddings=256, tie_word_embeddings=False,
        pad_token_id=tok.pad_token_id, eos_token_id=tok.eos_token_id, bos_token_id=None)).eval()
    eye = torch.eye(hidden)
    with torch.no_grad():
        model.model.embed_tokens.weight.zero_()
        model.model.embed_tokens.weight[:, :vocab] = torch.eye(vocab)
        model.lm_head.weight.zero_()
        model.lm_head.weight[:vocab, :vocab] = 10 * torch.eye(vocab)
        for i, block in enumerate(model.model.layers):
            attn, mlp = block.self_attn, block.mlp
            attn.o_proj.weight.zero_()
            mlp.down_proj.weight.zero_()
            if i == 0:
                attn.q_proj.weight.zero_()
                attn.k_proj.weight.zero_()
                attn.v_proj.weight.copy_(eye)
                attn.o_proj.weight.copy_(eye)
            if i == 2:
                mlp.gate_proj.weight.zero_()
                mlp.gate_proj.weight[:hidden] = 1.0  # gate = sum of the input: a large constant > 0
                mlp.up_proj.weight.zero_()
                mlp.up_proj.weight[:hidden] = eye
                mlp.down_proj.weight[:, :hidden] = eye
    return save(model, tok, tmp_path_factory.mktemp("copy_model"))


def _pairs_suite(tmp_path, same: bool):
    """Eight pairs in one family, each prompt holding its answer letter (the copy model answers with
    it): distinct letters and fillers (so recovery varies a little by length), or (``same``) one pair
    eight times."""
    letters = "BCDEFGHIJKLMOPQR"  # not A, N: "Answer:" follows every prompt
    rows = [(letters[0], letters[1]) if same else (letters[2 * i], letters[2 * i + 1]) for i in range(8)]
    fillers = ["go"] * 8 if same else ["go", "go on", "now go", "go on now", "so go", "go go", "we go", "go so on"]
    pairs = "\n".join(f'    - {{id: q{i}, clean: "{f} {a}", clean_answer: "{a}", corrupt: "{f} {b}", '
                      f'corrupt_answer: "{b}"}}' for i, ((a, b), f) in enumerate(zip(rows, fillers)))
    path = tmp_path / ("pairs_same.yaml" if same else "pairs_distinct.yaml")
    path.write_text(f'name: pairs\nversion: 1\nfamilies:\n  w:\n    prompts: [{{id: w-0, prompt: "x", answer: "y"}}]\n'
                    f"pairs:\n  w:\n{pairs}\n")
    return path


def _shuffled_claim(tmp_path, model_dir, same: bool, n: int = 39):
    lc = claim_file(tmp_path, model_dir, "  kind: patching\n  target: mlp\n  min_gap: 0.01",
                    "  kind: effect_at_least\n  component: L2.mlp\n  threshold: 0.2", name="same" if same else "distinct",
                    families="[w]", prompts=5, suite=_pairs_suite(tmp_path, same))
    lc.path.write_text(lc.path.read_text().replace("controls: {seeds: [1, 2, 3]}",
                                                   f"controls: {{seeds: [1, 2, 3], shuffled_label: {{n: {n}}}}}"))
    return load_claim(lc.path)


def test_recovery_that_collapses_under_re_pairing_passes_the_shuffled_pairs_control(tmp_path, copy_model):
    rec = run(_shuffled_claim(tmp_path, copy_model, same=False), tmp_path, "d")
    ctl = rec["evidence"]["controls"]["shuffled_label"]
    assert ctl["status"] == "passed" and rec["verdict"] == "supported", (ctl.get("reason"), rec["reasons"])
    assert ctl["observed"] > max(max(row) for row in ctl["null_per_seed"])
    assert "shuffled_label" in rec["controls_run"]


def test_pairs_that_cannot_be_told_apart_leave_the_shuffled_pairs_control_inconclusive(tmp_path, copy_model):
    # every pair is the same pair: any re-pairing gives the same patch, so the control cannot tell
    rec = run(_shuffled_claim(tmp_path, copy_model, same=True), tmp_path, "s")
    ctl = rec["evidence"]["controls"]["shuffled_label"]
    assert ctl["status"] == "inconclusive" and "tie" in ctl["reason"] and rec["verdict"] == "inconclusive"


def test_shuffled_pairs_need_a_claimed_component(tmp_path, planted_mlp):  # noqa: F811
    from audit.errors import ClaimFileError

    lc = claim_file(tmp_path, planted_mlp, PATCH_MLP, "  kind: exceeds\n  greater: [L2.mlp]\n  than: [L1.mlp]",
                    name="top")
    lc.path.write_text(lc.path.read_text().replace("controls: {seeds: [1, 2, 3]}",
                                                   "controls: {seeds: [1, 2, 3], shuffled_label: {n: 39}}"))
    with pytest.raises(ClaimFileError, match="shuffled_label judges one claimed component"):
        load_claim(lc.path)


def test_the_report_draws_the_shuffled_pairs_null(tmp_path, copy_model):
    from tests.conftest import rendered

    rec = run(_shuffled_claim(tmp_path, copy_model, same=False, n=19), tmp_path, "r")
    page = rendered(tmp_path, rec)
    assert "shuffled_label: pooled null" in page and "null-shuffled_label" in page


@pytest.mark.parametrize("arch", ["llama", "qwen2", "gemma3", "lfm2"])
def test_answer_position_patches_take_the_exact_fast_path(tmp_path, tiny_dir, arch, monkeypatch):
    """Patching at the answer position recomputes only the answer token (prefix keys and values
    reused): the recovery equals the whole-replay path's, on every architecture. Recovery is an LD
    difference divided by the pair's clean-corrupt gap (down to min_gap = 0.01 here), so float32 LD
    differences of ~1e-6 become up to ~2e-4 in recovery (seen on AMD EPYC for lfm2); a wrong path
    moves it by O(0.1)."""
    import interventions.compute.patching as ops

    model = tiny_dir(f"fastpatch_{arch}", arch, hub=2)
    spec = "  kind: patching\n  target: mlp\n  positions: [last, all]\n  min_gap: 0.01"
    lc = claim_file(tmp_path, model, spec, "  kind: top_component\n  component: L2.mlp@last",
                    families="[arithmetic, code_semantics]", prompts=3)
    fast = run(lc, tmp_path, "fast")
    monkeypatch.setattr(ops, "ANSWER_POSITION_PATH", False)
    slow = run(lc, tmp_path, "slow")
    assert fast["evidence"]["labels"] == slow["evidence"]["labels"] and fast["verdict"] == slow["verdict"]
    for pid, values in slow["evidence"]["per_prompt"]["recovery"].items():
        assert fast["evidence"]["per_prompt"]["recovery"][pid] == pytest.approx(values, abs=5e-4), pid
