"""``quantization_drift`` + ``random_vector`` on the driver (controls/drift_noise.py): per mode, ``n``
draws of same-norm random weight noise on the float32 model, each a cached unit (op
``quantization_drift.weight_noise``: the claim's layer sweep re-run on the noised model, on the
claim's prompts), planned in chunks; each draw's sweep averaged per seed like the modes' own."""

from __future__ import annotations

from audit.inference import PromptTable

CHUNK = 4  # draws per task: a draw is a whole layer sweep


def seed_effects(per_prompt: dict, ids: dict, layers: list[int], seeds: list[int]) -> list[list[float]]:
    """``[seed][layer]``: each seed's estimate from ``per_prompt[pid] -> [effect per layer]``."""
    per_seed = PromptTable.from_samples(per_prompt, ids, layers).per_seed()
    return [[float(x) for x in per_seed[s]] for s in seeds]


def run(ctx, sweep, encoded: list, evidence: dict) -> dict:
    """``{mode: record}`` of every compared mode (the reference is float32, the noised model)."""
    from audit.evidence.layer_sweep import _budgeted_batches
    from audit.evidence.quantization_controls import plan_noise
    from audit.units import run_tasks
    from controls.drift_noise import record

    n, layers, seeds = ctx.lc.claim.controls.random_vector.n, evidence["layers"], evidence["seeds"]
    batches, reuse, _ = _budgeted_batches(ctx, encoded)
    key = dict(kind="drift_weight_noise", spec=sweep.model_dump(mode="json", exclude={"why"}), layers=layers,
               prompts={e.id: [e.ids, e.target] for e in encoded})  # a unit key, not an evidence kind
    args = {"spec": sweep, "batches": batches, "layers": layers, "reuse_prefix": reuse}
    steps = len(batches) * (len(layers) + 1)
    planned = {m: plan_noise(ctx, m, n, key, args, "quantization_drift.weight_noise", CHUNK, steps)
               for m in evidence["modes"]}
    ctx.progress.start(max(1, n * steps * len(planned)), f"{ctx.lc.claim.id}: random_vector: {n} noised sweeps "
                       f"x {len(planned)} modes")
    values, _ = run_tasks(ctx, [t for tasks, _ in planned.values() for t in tasks])
    effects, metric = evidence["per_seed_layer_effects"], evidence["metric"]
    out = {}
    for mode, (_, keys) in planned.items():
        draws = [values[k] for k in keys]
        null = [seed_effects({pid: m[metric] for pid, m in d["metrics"].items()}, evidence["samples"], layers, seeds)
                for d in draws]
        out[mode] = record(mode, effects[evidence["reference"]], effects[mode], null, seeds, draws[0]["error_norm"])
    return out
