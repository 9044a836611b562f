"""Every intervention kind runs through the Ray executor and the processes executor as a plan of
units (audit/units.py): on a local Ray instance with two workers per model, or two single-threaded
worker processes, each kind's plan is split into several tasks, all computed on the workers (the
driver computes none), and the evidence equals the local executor's (one thread, as the worker
processes run). Seven models on a two-CPU cluster: the Ray executor stops idle pools to make room
(never a deadlock); the processes executor keeps one model's pool at a time."""

import importlib.util

import pytest

from audit import units
from audit.cache import EvidenceCache
from audit.executor_choice import make_executor
from audit.executors import LocalExecutor
from audit.runner import RunOptions, run_claim
from tests.audit.evidence.test_layer_skip import hub_model as skip_hub, skip_claim  # noqa: F401  (fixture)
from tests.audit.evidence.test_quantization import claim as quant_claim, hub_model as quant_hub  # noqa: F401
from tests.interventions.conftest import planted_steering, steering_claim  # noqa: F401  (fixture)
from tests.interventions.test_ablation import claim_file, planted_mlp  # noqa: F401  (fixture)
from tests.interventions.test_layer_scaling import scaling_claim
from tests.lora_planted import build_planted, lora_claim

NEEDS_RAY = pytest.mark.skipif(importlib.util.find_spec("ray") is None,
                               reason="needs the optional extra mi-audit[ray] (make test installs it)")
EXECUTORS = {"ray": dict(max_retries=1, workers_per_model=2), "processes": dict(workers=2)}


@pytest.fixture(scope="module")
def lora_dir(tmp_path_factory):
    return build_planted(tmp_path_factory.mktemp("lora_units"))


def _with_random_vector(path, model):
    from audit.schema import load_claim
    from tests.conftest import write_claim

    write_claim(path, model=str(model), prompts=2, seeds=(1, 2))
    path.write_text(path.read_text().replace("controls:\n", "controls:\n  random_vector: {n: 3}\n", 1))
    return load_claim(path)


def _claims(tmp_path, planted_mlp, skip_hub, quant_hub, planted_steering, lora_dir):  # noqa: F811
    from audit.schema import load_claim

    ablate = lambda method: claim_file(  # noqa: E731
        tmp_path, planted_mlp, f"  kind: ablation\n  target: mlp\n  method: {method}",
        "  kind: effect_at_least\n  component: L2.mlp\n  threshold: 0.01", seeds="[1, 2]", name=f"ablate_{method}")
    model, suite = planted_steering("linear")
    return {
        "layer_scaling (a layer sweep: one folder)": scaling_claim(tmp_path / "scale.yaml", planted_mlp, 0.5, prompts=2),
        "layer_ablation + random_vector (the null as units)": _with_random_vector(tmp_path / "rv.yaml", planted_mlp),
        "ablation (zero)": ablate("zero"),
        "ablation (mean: one capture per process)": ablate("mean"),
        "patching": claim_file(tmp_path, planted_mlp, "  kind: patching\n  target: mlp\n  min_gap: 0.01",
                               "  kind: effect_at_least\n  component: L2.mlp\n  threshold: 0.2", seeds="[1, 2]",
                               name="patch"),
        "patching with its controls (re-paired sources, random subspaces, negative position)": claim_file(
            tmp_path, planted_mlp, "  kind: patching\n  target: mlp\n  positions: [last]\n  min_gap: 0.01",
            "  kind: effect_at_least\n  component: L2.mlp@last\n  threshold: 0.2", seeds="[1, 2]", name="patch_controls",
            controls="shuffled_label: {n: 2}, random_subspace: {n: 3}, negative_position: {position: first}"),
        "steering": load_claim(steering_claim(tmp_path / "steer.yaml", model=model, suite=suite, n=8, seeds=(1, 2),
                                                  controls="random_vector: {n: 8}\n  shuffled_label: {n: 8}\n  "
                                                           "prompting_baseline: {instruction: 'Say Z Z Z.'}")),
        "layer_skip": skip_claim(tmp_path / "skip.yaml", skip_hub, "[{layers: [2]}]", prompts=2),
        "quantization": quant_claim(tmp_path / "quant.yaml", quant_hub, """\
            intervention:
              kind: quantization
              modes: [float32, bfloat16]
              reference: float32
              max_new_tokens: 3
              speed: {prompts: 2, new_tokens: 2, repeats: 1, warmup: 0}
            """, "acceptance: {kind: quant_practical, candidate: bfloat16, baseline: float32, min_speed_ratio: 0.01}\n",
                                    metric="quantization_tradeoff"),
        "quantization_drift": quant_claim(tmp_path / "drift.yaml", quant_hub, """\
            intervention:
              kind: quantization_drift
              modes: [bfloat16]
              reference: float32
              method: skip
            """, "acceptance: {kind: causal_drift, min_spearman: 0.5, magnitude_ratio: [0.5, 2.0]}\n"),
        "lora_adapter_ablation": lora_claim(
            lora_dir, "adapter_ablation", "placement: {placement: modules, modules: [layers.3.mlp.down_proj]}\n",
            "{kind: adapter_concentration, min_correlation: 0.9, max_p: 0.5, min_late_share: 0.5}",
            kind="lora_adapter_ablation", metric="lora_adapter_effect", extra="  permutations: 200\n", seeds="[1, 2]",
            training="{rank: 4, alpha: 8, steps: 4, batch_size: 8, learning_rate: 0.02}"),
        "lora_sweep": lora_claim(lora_dir, "sweep", """\
            points:
              - {label: learns, learning_rate: 0.02}
              - {label: frozen, learning_rate: 1.0e-7}
            """, "{kind: sweep_best, metric: final_loss, best: learns}", kind="lora_sweep",
                                 metric="lora_training_loss", seeds="[1]",
                                 training="{rank: 4, alpha: 8, steps: 4, batch_size: 8, learning_rate: 0.02}"),
    }


# what is measured rather than computed: timings, memory, cache status, wall time
MEASURED = {"resources", "speed", "hardware", "peak_rss_mb", "speedups", "median_speedup", "speed_ratios",
            "tokens_per_s", "peak_memory", "from_cache", "train_seconds", "train_memory", "evidence_s"}


def computed(value):
    """The evidence without what is measured (timings, memory) or says where it ran."""
    if isinstance(value, dict):
        return {k: computed(v) for k, v in value.items() if k not in MEASURED}
    if isinstance(value, list):
        return [computed(v) for v in value]
    return value


@pytest.mark.parametrize("executor_name", [pytest.param("ray", marks=NEEDS_RAY), "processes"])
def test_every_kind_is_computed_as_units_on_the_workers_with_the_local_evidence(
        executor_name, request, tmp_path, planted_mlp, skip_hub, quant_hub, planted_steering, lora_dir,  # noqa: F811
        monkeypatch):
    import torch

    if executor_name == "ray":
        request.getfixturevalue("ray_local")
    claims = _claims(tmp_path, planted_mlp, skip_hub, quant_hub, planted_steering, lora_dir)
    threads = torch.get_num_threads()
    torch.set_num_threads(1)  # the worker processes' count (Ray workers take the driver's)
    try:
        local = {name: run_claim(lc, RunOptions(evidence_cache=EvidenceCache(tmp_path / "local"),
                                                executor=LocalExecutor(), batch_size=2)) for name, lc in claims.items()}
    finally:
        torch.set_num_threads(threads)
    here = []
    real = units.compute
    monkeypatch.setattr(units, "compute", lambda ctx, task: here.append(task.op) or real(ctx, task))
    executor = make_executor(executor_name, **EXECUTORS[executor_name])
    if executor_name == "ray":
        monkeypatch.setattr(executor, "threads", 1)
    sent: dict[str, int] = {}
    plain = executor.compute

    def counted(ctx, tasks):
        sent[ctx.lc.claim.id] = sent.get(ctx.lc.claim.id, 0) + len(tasks)
        yield from plain(ctx, tasks)

    executor.compute = counted
    try:
        remote = {name: run_claim(lc, RunOptions(evidence_cache=EvidenceCache(tmp_path / executor_name),
                                                 executor=executor, batch_size=2)) for name, lc in claims.items()}
    finally:
        executor.close()
        torch.set_num_threads(threads)
    assert here == []  # the driver planned and assembled; every unit was computed on a worker
    assert {lc.claim.id: sent.get(lc.claim.id, 0) >= 2 for lc in claims.values()} == {
        lc.claim.id: True for lc in claims.values()}  # each kind split into several units
    for name in claims:
        assert local[name]["verdict"] not in ("errored", "pending"), (name, local[name]["reasons"])
        assert remote[name]["verdict"] == local[name]["verdict"], (name, remote[name]["reasons"])
        assert computed(remote[name]["evidence"]) == computed(local[name]["evidence"]), name
        assert remote[name]["provenance"]["executor"]["executor"] == executor_name
