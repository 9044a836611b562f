"""Shared pieces of the deployment evidence (layer skipping, quantization): prompt pairs per seed,
per-seed tables, claim dependencies, the hardware and the side-by-side speed protocol."""

from __future__ import annotations

from audit.evidence.base import RunContext
from audit.stats import mean
from controls.seeds import sample_prompts


def sample_pairs(ctx: RunContext) -> tuple[dict, dict]:
    """The prompts every seed samples, and {prompt id: (prompt ids, reference answer ids)} for
    their union (each prompt tokenized once)."""
    from interventions.steering import continuation_ids

    claim = ctx.lc.claim
    samples = sample_prompts(ctx.lc.suite, claim.controls.seeds, ctx.lc.families(), claim.suite.prompts_per_family)
    unique = {p.id: p for fam in samples.values() for ps in fam.values() for p in ps}
    pairs = {pid: continuation_ids(ctx.loaded.tokenizer, p.prompt, p.answer, claim.suite.chat_template)
             for pid, p in sorted(unique.items())}
    return samples, pairs


def seed_table(per_prompt: dict[str, dict], samples: dict, seeds: list[int], families: list[str]) -> list[dict]:
    """Per seed, every metric averaged over families (each family the mean of its sampled prompts)."""
    names = next(iter(per_prompt.values())).keys()
    return [{"seed": s, **{m: mean(mean(per_prompt[p.id][m] for p in samples[s][f]) for f in families)
                           for m in names}} for s in seeds]


def dependency(ctx: RunContext, rel_path: str, expected_kind: str) -> tuple[dict, dict]:
    """Run (or read from the evidence cache) a claim this one builds on; its record and a note of
    the dependency for the evidence. An errored or mismatched dependency is an error here too."""
    from dataclasses import replace

    from audit.errors import Pending
    from audit.schema import load_claim

    path = (ctx.lc.path.parent / rel_path).resolve()
    rec = ctx.options.run_dependency(load_claim(path), replace(ctx.options, model=None), ctx.progress)
    if rec["verdict"] == "pending":
        raise Pending(f"it builds on {rec['claim_id']} ({path.name}), which is pending: "
                      f"{'; '.join(rec['reasons']).removeprefix('not run: ')}")
    if rec["verdict"] == "errored":
        raise RuntimeError(f"dependency {rec['claim_id']} ({path.name}) errored: {'; '.join(rec['reasons'])}")
    kind = rec["evidence"].get("kind")
    if kind != expected_kind:
        raise ValueError(f"dependency {rec['claim_id']} has {kind} evidence; {expected_kind} is needed")
    return rec, {"claim_id": rec["claim_id"], "file": rel_path, "verdict": rec["verdict"],
                 "claim_sha256": rec["provenance"]["claim_sha256"],
                 "weights_sha256": rec["provenance"].get("weights_sha256")}


def hardware() -> dict:
    """What the timings were measured on: :func:`audit.provenance.machine` (CPU model, cores, RAM,
    torch threads), the CUDA device when there is one, and the bitsandbytes version."""
    import torch

    from audit.provenance import machine, package_versions

    facts = {**machine(), "bitsandbytes": package_versions().get("bitsandbytes")}
    if torch.cuda.is_available():
        facts["cuda_device"] = torch.cuda.get_device_name(torch.cuda.current_device())
    return facts


def speedups(times: dict[str, list[float]], reference: str, name: str) -> list[float]:
    """tokens/s ratio name / reference of every repeat (same repeat, same machine load)."""
    return [r / t for r, t in zip(times[reference], times[name])]
