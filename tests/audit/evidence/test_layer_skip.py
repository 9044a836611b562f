"""Layer-skip claims on tiny models with planted truths: skipping layers that write nothing is a
free speedup (the "not free" claim is refuted); skipping a planted hub breaks outputs (supported)."""

import textwrap

import pytest

from audit.cache import EvidenceCache
from audit.runner import RunOptions, run_claim
from audit.schema import load_claim
from tests.conftest import MAIN_SUITE, plant_hub, rendered, save, tiny_model
from tests.interventions.test_layer_skip import make_identity


def skip_claim(path, model, configs: str, extra_intervention: str = "", acceptance: str = "",
               min_speedup: float = 1.05, timing_tolerance: float = 1.25, prompts: int = 3) -> object:
    path.write_text(textwrap.dedent(f"""\
        id: {path.stem}
        statement: "Naive layer skipping is not a free speedup (planted test)."
        model: {model}
        suite:
          name: {MAIN_SUITE}
          families: [arithmetic, copying, factual_recall]
          prompts_per_family: {prompts}
          chat_template: false
        intervention:
          kind: layer_skip
          configs: {configs}
          max_new_tokens: 6
          speed_prompts: 8
          speed_repeats: 5
        """) + extra_intervention + textwrap.dedent(f"""\
        metric:
          kind: skip_faithfulness
        controls:
          seeds: [1, 2]
        acceptance:
          kind: skip_not_free
          min_speedup: {min_speedup}
          timing_tolerance: {timing_tolerance}
        """) + acceptance)
    return load_claim(path)


@pytest.fixture(scope="module")
def identity_model(tmp_path_factory):
    model, tok = tiny_model("llama", n_layers=6)
    make_identity(model, [1, 2, 3, 4])
    return save(model, tok, tmp_path_factory.mktemp("identity"))


@pytest.fixture(scope="module")
def hub_model(tmp_path_factory):
    model, tok = tiny_model("llama", n_layers=4)
    plant_hub(model, 2)
    return save(model, tok, tmp_path_factory.mktemp("hub"))


def test_skipping_layers_that_write_nothing_is_free_so_the_claim_is_refuted(tmp_path, identity_model):
    # timing a millisecond-scale tiny model is noisy on a shared machine (single repeats stall): the
    # verdict here turns on the planted faithfulness (min_speedup 0.01 counts any config as fast
    # enough, a loose timing tolerance lets a stalled repeat pass), and the planted speed-up (4 of 6
    # layers gone) is checked on the median of the repeats
    # (12 prompts per family: identical outputs on every one of n distinct prompts bound the mean from
    # below by the exact Clopper-Pearson rule, which needs n > 42 to clear 0.9)
    lc = skip_claim(tmp_path / "free.yaml", identity_model, "[{block: [1, 4]}]", min_speedup=0.01, timing_tolerance=100,
                    prompts=12)
    rec = run_claim(lc, RunOptions(evidence_cache=EvidenceCache(tmp_path / "c")))
    row = rec["evidence"]["configs"][0]
    assert row["skipped"] == [1, 2, 3, 4] and rec["evidence"]["n_prompts"] > 42
    assert all(s["top5_overlap"] == 1.0 and s["greedy_agreement"] == 1.0 for s in row["seeds"])
    assert all(v["greedy_agreement"] == 1.0 for v in row["per_prompt"].values())
    assert all(abs(s["nll_increase"]) < 1e-4 for s in row["seeds"])
    assert row["median_speedup"] > 1.05, row["speedups"]
    assert rec["verdict"] == "refuted", rec["reasons"]
    assert "free speedup" in rec["reasons"][0]


def test_skipping_a_planted_hub_breaks_outputs_so_the_claim_is_supported(tmp_path, hub_model):
    lc = skip_claim(tmp_path / "hub.yaml", hub_model, "[{layers: [2]}, {every_other: [0, 2]}]")
    rec = run_claim(lc, RunOptions(evidence_cache=EvidenceCache(tmp_path / "c")))
    assert rec["verdict"] == "supported", rec["reasons"]
    assert rec["evidence_kinds"] == ["ablation"]  # deleting layers builds the model; comparing is the ablation
    for check in rec["summary"]["checks"]:
        overlap = check["parts"][0]["parts"][0]
        assert overlap["check"] == "top5_overlap" and overlap["high"] < 0.9 and overlap["per_seed"]
    for row in rec["evidence"]["configs"]:
        assert all(s["top5_overlap"] < 0.9 for s in row["seeds"])
        assert all(s["nll_increase"] != 0 for s in row["seeds"])  # measured (a random model has no "right" answer)
    assert [r["name"] for r in rec["evidence"]["configs"]] == ["L2", "every other L0-2"]
    assert rec["evidence"]["speed"]["interleaved"] and rec["evidence"]["speed"]["repeats"] == 5


def test_least_important_layers_come_from_another_claims_sweep(tmp_path, hub_model):
    from tests.conftest import write_claim

    write_claim(tmp_path / "atlas.yaml", model=str(hub_model), layer=2, families=("arithmetic", "copying"),
                seeds=(1, 2), prompts=4)  # a studentised interval needs a few prompts per family
    lc = skip_claim(tmp_path / "least.yaml", hub_model, "[{least_important: {claim: atlas.yaml, k: 2}}]")
    rec = run_claim(lc, RunOptions(evidence_cache=EvidenceCache(tmp_path / "c")))
    dep = rec["evidence"]["dependencies"][0]
    assert dep["claim_id"] == "atlas" and dep["verdict"] == "supported"
    assert 2 not in dep["skipped"] and len(dep["skipped"]) == 2
    assert rec["evidence"]["configs"][0]["skipped"] == dep["skipped"]


def test_out_of_range_skip_layers_are_an_invalid_claim(tmp_path, hub_model):
    from audit.errors import ClaimFileError
    from audit.schema import check_layers

    lc = skip_claim(tmp_path / "bad.yaml", hub_model, "[{block: [2, 9]}]")
    with pytest.raises(ClaimFileError) as err:
        check_layers(lc, 4)
    assert "bad.yaml:" in str(err.value) and "layer 9" in str(err.value) and "0..3" in str(err.value)


def test_a_config_naming_its_layers_two_ways_is_rejected_with_position(tmp_path, hub_model):
    from audit.errors import ClaimFileError

    with pytest.raises(ClaimFileError) as err:
        skip_claim(tmp_path / "two.yaml", hub_model, "[{layers: [1], block: [1, 2]}]")
    assert "two.yaml:" in str(err.value) and "exactly one way" in str(err.value)


def test_missing_dependency_claim_is_reported_at_check_time(tmp_path, hub_model):
    from audit.errors import ClaimFileError

    with pytest.raises(ClaimFileError) as err:
        skip_claim(tmp_path / "dep.yaml", hub_model, "[{least_important: {claim: nowhere.yaml, k: 1}}]")
    assert "nowhere.yaml not found" in str(err.value)


def test_the_card_renders_the_config_table_and_tradeoff_plot(tmp_path, hub_model):
    from audit import ledger
    from audit.render import render_report

    lc = skip_claim(tmp_path / "card.yaml", hub_model, "[{layers: [2]}]")
    rec = run_claim(lc, RunOptions(evidence_cache=EvidenceCache(tmp_path / "c")))
    out = tmp_path / "report"
    ledger.append(out, rec)
    render_report(out)
    page = (out / "claims" / "card.md").read_text()
    assert "Skip configs against the unmodified model" in page and "| L2 | 1 | 2 |" in page
    assert "95% interval" in page and "skip L2 › faithful › top5_overlap" in page
    assert (out / "plots" / "card-tradeoff.png").stat().st_size > 1000


def test_a_speedup_beyond_the_compute_ratio_is_implausible_and_never_a_free_speedup(tmp_path, identity_model,
                                                                                     monkeypatch):
    # the shipped SmolLM2 symptom, planted: removing 1 of 6 layers (compute ratio 1.2x) "runs 3.3x faster"
    import interventions.generation as generation

    calls = []

    def noisy_clock(variants, work, repeats, warmup=1):
        calls.append(warmup)
        return {n: [3.3 if n == "unmodified" else 1.0] * repeats for n in variants}

    monkeypatch.setattr(generation, "timed_side_by_side", noisy_clock)
    lc = skip_claim(tmp_path / "noisy.yaml", identity_model, "[{layers: [1]}]",
                    extra_intervention="  speed_warmup: 3\n")
    rec = run_claim(lc, RunOptions(evidence_cache=EvidenceCache(tmp_path / "c")))
    ev, row = rec["evidence"], rec["evidence"]["configs"][0]
    assert all(s["greedy_agreement"] == 1.0 for s in row["seeds"])  # faithful: a free speedup if timing were real
    assert row["compute_ratio"] == 1.2 and row["median_speedup"] == 3.3
    assert rec["verdict"] == "inconclusive", rec["reasons"]
    assert "implausible timing (3.3x exceeds compute ratio 1.2x" in rec["reasons"][0]
    assert calls == [3] and ev["speed"]["warmup"] == 3  # the declared warm-ups reach the clock
    assert ev["hardware"]["cpu_count"] >= 1 and "ram_gb" in ev["hardware"] and "bitsandbytes" in ev["hardware"]
    page = rendered(tmp_path, rec)
    assert "uncertain (implausible timing)" in page and "noisy machine." in page
    assert "Hardware: CPU; " in page and "3 warm-up + 5 timed repeats" in page
