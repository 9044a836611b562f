"""Run one claim: load the model, sample prompts per seed, sweep, judge, and build the ledger record."""

from __future__ import annotations

import time
import traceback
import uuid
from dataclasses import replace
from datetime import datetime, timezone

from audit import provenance
from audit.confidence import claim_cap, step
from audit.errors import Pending
from audit.evidence import BUILDERS, EvidenceResult, RunContext
from audit.options import Progress, RunOptions  # noqa: F401  (the runner's API: RunOptions, Progress)
from audit.schema import LoadedClaim, check_layers
from audit.verdict import Outcome, Verdict, exit_code, matches_expect


def run_claim(lc: LoadedClaim, options: RunOptions, progress: Progress | None = None) -> dict:
    """Run a loaded claim and return its ledger record (errors become an *errored* record)."""
    progress = progress or Progress()
    if options.run_dependency is None:  # claims this one builds on are run the same way
        options = replace(options, run_dependency=run_claim)
    started = datetime.now(timezone.utc)
    t0 = time.perf_counter()
    prov = {"claim_file": str(lc.path), "claim_sha256": lc.sha256, "suite": lc.suite.name,
            "suite_version": lc.suite.version, "suite_sha256": lc.suite.sha256, "suite_split": lc.suite.split,
            "seeds": lc.claim.controls.seeds,
            "packages": provenance.package_versions(), "machine": provenance.machine(),
            "code_commit": provenance.code_commit(lc.path.parent), "dtype": options.dtype,
            "model_requested": options.model_label or options.model or lc.claim.model,
            **{f"model_{k}": v for k, v in options.model_provenance.items()}}
    try:
        result = _evidence(lc, options, progress, prov)
    except Pending as exc:
        result = EvidenceResult(Outcome(Verdict.PENDING, [f"not run: {exc}"]), {"pending": str(exc)})
    except _Errored as exc:
        result = EvidenceResult(Outcome(Verdict.ERRORED, [str(exc)]), {"error": str(exc), "traceback": exc.trace})
    prov["wall_time_s"] = round(time.perf_counter() - t0, 3)
    claim, outcome = lc.claim, result.outcome
    strong = bool(outcome.summary["strong"]) if "strong" in (outcome.summary or {}) else result.strong
    cap, cap_notes = claim_cap(result.kinds, result.controls_run, len(claim.controls.seeds), result.waived,
                               stage=claim.stage, ceiling=result.cap, ceiling_reason=result.cap_reason)
    conf = step(outcome.verdict, cap, strong)
    return {
        "run_id": uuid.uuid4().hex, "claim_id": claim.id, "statement": claim.statement, "expect": claim.expect,
        "stage": claim.stage, "selected_by": claim.selected_by,
        "verdict": outcome.verdict.value, "confidence": conf, "confidence_cap": cap,
        "confidence_notes": cap_notes + ([] if conf in ("none", cap) else
                                         [f"not strong: {conf}, one step below the cap (the decisive CI bound "
                                          f"clears its threshold by less than the CI half-width)"]),
        "matches_expect": matches_expect(outcome.verdict, claim.expect),
        "exit_code": exit_code(outcome.verdict, claim.expect), "reasons": outcome.reasons,
        "summary": outcome.summary, "evidence": result.evidence, "provenance": prov,
        "evidence_kinds": sorted(result.kinds), "controls_run": sorted(result.controls_run),
        "started_at": started.isoformat(), "finished_at": datetime.now(timezone.utc).isoformat(),
        "claim": claim.model_dump(mode="json"), "claim_text": lc.doc.text,
    }


def _load_model(name: str, options: RunOptions, prov: dict):
    """The loaded model, its architecture adapter and layer count; the provenance they give."""
    from audit.models import load_model
    from interventions.architectures import adapter_for

    loaded = load_model(name, options.dtype, options.allow_download, options.device)
    adapter = adapter_for(loaded.config)
    prov.update({"model_id": loaded.model_id, "device": loaded.device, "model_source": loaded.source, "weights_sha256": loaded.weights_sha256,
                 "weights_files": loaded.weights_files, "model_type": loaded.config.model_type,
                 **{f"model_{k}": v for k, v in loaded.provenance.items()}})
    n_layers = adapter.n_layers(loaded.config)
    if not isinstance(n_layers, int) or isinstance(n_layers, bool) or n_layers < 1:
        raise ValueError(f"config.json gives {n_layers!r} decoder layers; expected a positive integer")
    prov["n_layers"] = n_layers
    return loaded, adapter, n_layers


class _Errored(Exception):
    def __init__(self, message: str, trace: str = ""):
        super().__init__(message)
        self.trace = trace


def model_modules(lc, config) -> dict[str, str] | None:
    """The model's module tree (from its config, no weights) when the claim names module paths."""
    if not hasattr(lc.claim.intervention, "module_problems"):
        return None
    from interventions.skeleton import module_types

    return module_types(config)


def check_against_model(lc, model: str | None = None) -> str:
    """``audit check --deep``: the claim's layer, head and module names checked against its model's
    config (tokenizer and config only, never the weights). Raises ClaimFileError; returns what was
    checked, or why it could not be (the model is not on this machine)."""
    from audit.models import ModelUnavailable

    if not getattr(lc.claim.intervention, "needs_model", True):
        return "no model of its own"
    name = model or lc.claim.model
    try:
        loaded, _, n_layers = _load_model(name, RunOptions(), {})
    except ModelUnavailable as exc:
        return f"not checked against the model: {exc}"
    text_config = getattr(loaded.config, "text_config", loaded.config)
    check_layers(lc, n_layers, getattr(text_config, "num_attention_heads", None), model_modules(lc, loaded.config))
    return f"checked against {name} ({loaded.config.model_type}, {n_layers} layers)"


def _evidence(lc, options, progress, prov) -> EvidenceResult:
    from audit.models import ModelUnavailable, WeightsUnavailable
    from interventions.architectures import UnsupportedArchitecture

    if not getattr(lc.claim.intervention, "needs_model", True):
        try:
            return BUILDERS.get(lc.claim.intervention.kind)(RunContext(lc, None, None, 0, options, progress))
        except Pending:
            raise
        except Exception as exc:  # a comparison's own failure (a compared claim's is in its record)
            raise _Errored(f"{type(exc).__name__}: {exc}", traceback.format_exc()) from None
    name = options.model or lc.claim.model
    try:
        loaded, adapter, n_layers = _load_model(name, options, prov)
    except WeightsUnavailable as exc:
        raise Pending(str(exc)) from None
    except (ModelUnavailable, UnsupportedArchitecture) as exc:
        raise _Errored(str(exc)) from None
    except Exception as exc:  # a model dir transformers accepts but cannot use: errored, never a crash
        first = str(exc).strip().splitlines()[0] if str(exc).strip() else ""
        raise _Errored(f"model {name} cannot be loaded: {type(exc).__name__}: {first}",
                       traceback.format_exc()) from None
    text_config = getattr(loaded.config, "text_config", loaded.config)
    # ClaimFileError: the claim is invalid for this model (exit 4)
    check_layers(lc, n_layers, getattr(text_config, "num_attention_heads", None), model_modules(lc, loaded.config))
    try:
        result = BUILDERS.get(lc.claim.intervention.kind)(RunContext(lc, loaded, adapter, n_layers, options, progress))
        prov["weights_loaded"] = loaded._model is not None
        prov["evidence_cache"] = options.evidence_cache.stats()
        prov["executor"] = options.executor.describe()
        return result
    except Pending:
        raise
    except Exception as exc:  # an engine failure must end the claim errored, never silently
        raise _Errored(f"{type(exc).__name__}: {exc}", traceback.format_exc()) from None
