"""Run one claim: load the model, sample prompts per seed, sweep, judge, and build the ledger record."""

from __future__ import annotations

import time
import traceback
import uuid
from dataclasses import dataclass
from datetime import datetime, timezone
from typing import Callable

from audit import provenance
from audit.confidence import confidence
from audit.criteria.hub import is_strong
from audit.schema import LoadedClaim, check_layers
from audit.stats import mean
from audit.verdict import Outcome, Verdict, exit_code, matches_expect
from controls.seeds import replication_summary, sample_prompts

EVIDENCE_KINDS = {"layer_ablation": "ablation"}


@dataclass
class RunOptions:
    model: str | None = None
    dtype: str = "float32"
    allow_download: bool = False
    batch_size: int = 16


class Progress:
    """Progress sink; the CLI plugs a rich progress bar in."""

    def start(self, total: int, description: str) -> None: ...

    def advance(self, n: int = 1) -> None: ...


def run_claim(lc: LoadedClaim, options: RunOptions, progress: Progress | None = None) -> dict:
    """Run a loaded claim and return its ledger record (errors become an *errored* record)."""
    progress = progress or Progress()
    started = datetime.now(timezone.utc)
    t0 = time.perf_counter()
    prov = {"claim_file": str(lc.path), "claim_sha256": lc.sha256, "suite": lc.suite.name,
            "suite_version": lc.suite.version, "suite_sha256": lc.suite.sha256, "seeds": lc.claim.controls.seeds,
            "packages": provenance.package_versions(), "machine": provenance.machine(),
            "code_commit": provenance.code_commit(lc.path.parent), "dtype": options.dtype,
            "model_requested": options.model or lc.claim.model}
    try:
        outcome, evidence = _evidence_and_outcome(lc, options, progress, prov)
    except _Errored as exc:
        outcome, evidence = Outcome(Verdict.ERRORED, [str(exc)]), {"error": str(exc), "traceback": exc.trace}
    prov["wall_time_s"] = round(time.perf_counter() - t0, 3)
    claim = lc.claim
    kinds = {EVIDENCE_KINDS.get(claim.intervention.kind, claim.intervention.kind)}
    conf = confidence(outcome.verdict, kinds, {"seeds"}, len(claim.controls.seeds), is_strong(outcome))
    return {
        "run_id": uuid.uuid4().hex, "claim_id": claim.id, "statement": claim.statement, "expect": claim.expect,
        "verdict": outcome.verdict.value, "confidence": conf,
        "matches_expect": matches_expect(outcome.verdict, claim.expect),
        "exit_code": exit_code(outcome.verdict, claim.expect), "reasons": outcome.reasons,
        "summary": outcome.summary, "evidence": evidence, "provenance": prov,
        "started_at": started.isoformat(), "finished_at": datetime.now(timezone.utc).isoformat(),
        "claim": claim.model_dump(mode="json"),
    }


class _Errored(Exception):
    def __init__(self, message: str, trace: str = ""):
        super().__init__(message)
        self.trace = trace


def _evidence_and_outcome(lc, options, progress, prov):
    from audit.models import ModelUnavailable, load_model
    from interventions.architectures import UnsupportedArchitecture, adapter_for

    name = options.model or lc.claim.model
    try:
        loaded = load_model(name, options.dtype, options.allow_download)
        adapter = adapter_for(loaded.model)
    except (ModelUnavailable, UnsupportedArchitecture) as exc:
        raise _Errored(str(exc)) from None
    prov.update({"model_id": loaded.model_id, "model_source": loaded.source, "weights_sha256": loaded.weights_sha256,
                 "weights_files": loaded.weights_files, "model_type": loaded.model.config.model_type,
                 **{f"model_{k}": v for k, v in loaded.provenance.items()}})
    n_layers = len(adapter.layers(loaded.model))
    check_layers(lc, n_layers)  # ClaimFileError: the claim is invalid for this model (exit 4)
    try:
        return _layer_sweep_evidence(lc, loaded, adapter, n_layers, options, progress)
    except Exception as exc:  # an engine failure must end the claim errored, never silently
        raise _Errored(f"{type(exc).__name__}: {exc}", traceback.format_exc()) from None


def _layer_sweep_evidence(lc, loaded, adapter, n_layers, options, progress):
    from audit.encoding import batches, encode
    from interventions.sweep import run_layer_sweep

    claim, spec = lc.claim, lc.claim.intervention
    families, seeds = lc.families(), claim.controls.seeds
    layers = spec.layer_indices(n_layers)
    samples = sample_prompts(lc.suite, seeds, families, claim.suite.prompts_per_family)
    unique = {p.id: p for per_fam in samples.values() for prompts in per_fam.values() for p in prompts}
    encoded = [encode(loaded.tokenizer, p.id, p.prompt, p.answer, claim.suite.chat_template)
               for p in sorted(unique.values(), key=lambda p: p.id)]
    todo = batches(loaded.tokenizer, encoded, options.batch_size)
    progress.start(len(todo) * (len(layers) + 1), f"{claim.id}: {len(encoded)} prompts x {len(layers)} layers")
    result = run_layer_sweep(loaded.model, adapter, spec, todo, layers, progress.advance)
    effects = {metric: [[[mean(per_prompt[p.id][i] for p in samples[s][f]) for i in range(len(layers))]
                         for f in families] for s in seeds]
               for metric, per_prompt in result["metrics"].items()}
    outcome = claim.acceptance.evaluate(effects[claim.metric.kind], layers, families, seeds)
    per_seed = [[mean(row[i] for row in seed_rows) for i in range(len(layers))] for seed_rows in effects[claim.metric.kind]]
    base = result["base"]
    evidence = {
        "kind": "layer_sweep", "metric": claim.metric.kind, "method": spec.method, "layers": layers,
        "families": families, "seeds": seeds, "effects": effects,
        "samples": {str(s): {f: [p.id for p in ps] for f, ps in fam.items()} for s, fam in samples.items()},
        "n_prompts": {"per_family_per_seed": claim.suite.prompts_per_family, "unique": len(encoded)},
        "base": {"mean_target_nll": mean(b["target_nll"] for b in base.values()),
                 "top1_accuracy": mean(float(b["top1_is_target"]) for b in base.values()),
                 "unaligned_targets": sum(not e.target_aligned for e in encoded)},
        "controls": {"seeds": replication_summary(per_seed, layers, seeds)},
    }
    return outcome, evidence
