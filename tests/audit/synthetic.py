"""Synthetic ledger records consistent with claim files: gate, history and report tests need no model.

``record_for(claim_file, verdict)`` loads the claim (its hash, suite and dump, exactly as the
runner would see them) and returns a ledger record shaped like ``audit.runner.run_claim``'s, with a
layer-sweep evidence whose card draws real plots.
"""

from __future__ import annotations

import uuid
from datetime import datetime, timedelta, timezone
from pathlib import Path

from audit import ledger
from audit.provenance import sha256_file
from audit.schema import load_claim
from audit.verdict import Verdict, exit_code, matches_expect

_T0 = datetime(2026, 11, 20, 9, 0, tzinfo=timezone.utc)
_counter = iter(range(10_000))


def fake_weights(directory: Path, content: bytes = b"weights-v1") -> Path:
    """A 'model' directory whose weights hash the gate can recompute (no real model needed)."""
    directory.mkdir(parents=True, exist_ok=True)
    (directory / "model.safetensors").write_bytes(content)
    return directory


def sweep_evidence(hub: int, seeds, families, n_layers: int = 4, flat: bool = False) -> dict:
    effects = [[[(1.0 if flat else (3.0 if layer == hub else 0.4 + 0.15 * layer)) + 0.03 * si + 0.02 * fi
                 for layer in range(n_layers)] for fi, _ in enumerate(families)] for si, _ in enumerate(seeds)]
    return {"kind": "layer_sweep", "metric": "kl", "method": "skip", "layers": list(range(n_layers)),
            "families": list(families), "seeds": list(seeds), "effects": {"kl": effects},
            "samples": {str(s): {f: [f"{f}-{i}" for i in range(3)] for f in families} for s in seeds},
            "n_prompts": {"unique": 3 * len(families) * len(seeds)}, "base": {"top1_accuracy": 0.5},
            "controls": {"seeds": {"seeds": list(seeds), "winner_per_seed": {str(s): hub for s in seeds},
                                   "agreement": len(seeds), "n_seeds": len(seeds),
                                   "std_per_component": [0.01] * n_layers}}}


def record_for(claim_file: Path, verdict: str, *, confidence: str | None = None, reasons=None, hub: int | None = None,
               model_sha: str | None = None, controls_run=("seeds",), summary: dict | None = None,
               model_requested: str | None = None, errored_message: str = "weights not found") -> dict:
    lc = load_claim(claim_file)
    claim = lc.claim
    acc_layer = getattr(claim.acceptance, "layer", 0)
    hub = acc_layer if hub is None else hub
    v = Verdict(verdict)
    if confidence is None:
        confidence = "medium" if v in (Verdict.SUPPORTED, Verdict.REFUTED) else "none"
    reasons = reasons or {
        "supported": [f"layer {hub} is the top layer, separated from the runner-up; 3/3 seeds agree"],
        "refuted": [f"layer {hub} beats the claimed layer {acc_layer} beyond the margin and the seed noise"],
        "inconclusive": ["the sweep is flat: no layer stands out"],
        "errored": [errored_message]}[verdict]
    n = next(_counter)
    started = _T0 + timedelta(hours=n)
    model = model_requested or claim.model
    if model_sha is None and (Path(model) / "model.safetensors").is_file():
        model_sha = sha256_file(Path(model) / "model.safetensors")
    prov = {"claim_file": str(lc.path), "claim_sha256": lc.sha256, "suite": lc.suite.name,
            "suite_version": lc.suite.version, "suite_sha256": lc.suite.sha256, "seeds": claim.controls.seeds,
            "packages": {"mi-audit": "0.1.0", "torch": "2.13.0+cpu"}, "machine": {"python": "3.11"},
            "code_commit": "c0ffee" * 6 + "abcd", "dtype": "float32", "model_requested": model,
            "wall_time_s": 1.5}
    if v is Verdict.ERRORED:
        evidence = {"error": errored_message, "traceback": ""}
        kinds, controls = [], []
    else:
        prov.update({"model_id": model, "weights_sha256": model_sha or "ab" * 32, "model_type": "llama"})
        evidence = sweep_evidence(hub, claim.controls.seeds, lc.families(), flat=verdict == "inconclusive")
        kinds, controls = ["ablation"], sorted(controls_run)
    return {
        "run_id": uuid.uuid4().hex, "claim_id": claim.id, "statement": claim.statement, "expect": claim.expect,
        "verdict": verdict, "confidence": confidence, "matches_expect": matches_expect(v, claim.expect),
        "exit_code": exit_code(v, claim.expect), "reasons": list(reasons),
        "summary": summary if summary is not None else ({"top_layer": hub, "claimed_layer": acc_layer} if kinds else {}),
        "evidence": evidence, "provenance": prov, "evidence_kinds": kinds, "controls_run": controls,
        "started_at": started.isoformat(), "finished_at": (started + timedelta(seconds=2)).isoformat(),
        "claim": claim.model_dump(mode="json"), "claim_text": lc.doc.text,
    }


def append(out: Path, claim_file: Path, verdict: str, **kw) -> dict:
    rec = record_for(claim_file, verdict, **kw)
    ledger.append(out, rec)
    return rec


XSS = "<script>alert('x')</script>"


def demo_site(root: Path) -> Path:
    """A gated report with one claim of each outcome (and a story change); returns the report dir."""
    import json
    import re

    from typer.testing import CliRunner

    from audit.cli import app
    from tests.conftest import write_claim

    model = fake_weights(root / "model")
    (root / "claims").mkdir(parents=True, exist_ok=True)

    def claim(name, statement=None, **kw):
        p = write_claim(root / "claims" / f"{name}.yaml", model=str(model), **kw)
        if statement:
            p.write_text(re.sub(r'statement: ".*"', f"statement: {json.dumps(statement)}", p.read_text()))
        return p

    out = root / "reports"
    strong = claim("strong_hub", f"Layer 2 is the hub {XSS}", extra='caveats: ["Short synthetic prompts only."]\n')
    weak = claim("weak_hub", extra='caveats: ["Short synthetic prompts only."]\n')
    miss = claim("wrong_layer", layer=3)
    logged = claim("zero_output_hub", layer=0, expect="refuted",
                   extra=f'negative_result: true\ncaveats: ["{XSS} in a caveat"]\n')
    flat = claim("flat_sweep", layer=1)
    err = claim("missing_weights")
    append(out, strong, "supported", confidence="high")
    append(out, weak, "supported", confidence="low")
    append(out, miss, "supported")
    append(out, miss, "refuted", hub=2)  # the story changed
    append(out, logged, "refuted", hub=2)
    append(out, flat, "inconclusive")
    append(out, err, "errored", errored_message=f"weights missing {XSS}")
    result = CliRunner().invoke(app, ["gate", str(root / "claims"), "--out", str(out)])
    assert result.exit_code == 3, result.output
    return out


# --- the report as people read it (appended: tests/audit/test_report_*.py, test_browser.py) ----------


def pending_record(claim_file: Path, message: str = "weights for model 'Qwen/Qwen2.5-0.5B' are not available on "
                                                    "this machine") -> dict:
    """A record shaped like the runner's for a claim whose weights are not here: verdict pending,
    evidence ``{"pending": message}``, no evidence kinds."""
    rec = record_for(claim_file, "errored", errored_message=message)
    rec.update(verdict="pending", confidence="none", matches_expect=False,
               exit_code=exit_code(Verdict.PENDING, rec["expect"]), reasons=[f"not run: {message}"], evidence={"pending": message})
    return rec


def gate_and_render(root: Path, out: Path, *extra: str) -> dict:
    """Gate ``root/claims`` over ``out`` writing ``gate.json`` and the report (``--write``); the gate result."""
    import json

    from typer.testing import CliRunner

    from audit.cli import app

    result = CliRunner().invoke(app, ["gate", str(root / "claims"), "--out", str(out), "--write", *extra])
    assert result.exit_code in range(0, 8), result.output
    assert (out / "index.html").exists(), result.output
    return json.loads((out / "gate.json").read_text())


def demo_report(root: Path, pending: str = "allow") -> Path:
    """``demo_site`` plus two pending claims (weights not here) and a claim repeating another's
    failure word for word, gated under the given pending policy and rendered; returns the report dir."""
    import json
    import re

    from tests.conftest import write_claim

    out = demo_site(root)
    model = root / "model"
    for name, weights in (("qwen_small", "Qwen/Qwen2.5-0.5B"), ("qwen_large", "Qwen/Qwen2.5-3B")):
        p = write_claim(root / "claims" / f"{name}.yaml", model=str(model))
        p.write_text(re.sub(r'statement: ".*"', f"statement: {json.dumps(f'{weights} has a hub at layer 2.')}",
                            p.read_text()))
        ledger.append(out, pending_record(p, f"weights for model '{weights}' are not available on this machine "
                                             "(not in the local Hugging Face cache)"))
    flat2 = write_claim(root / "claims" / "flat_sweep_twin.yaml", model=str(model), layer=1)
    append(out, flat2, "inconclusive")
    gate_and_render(root, out, "--pending", pending)
    return out


def cli(*args):
    """`audit ARGS...` in-process (paths become strings); the click Result."""
    from typer.testing import CliRunner

    from audit.cli import app

    return CliRunner().invoke(app, [str(a) for a in args])
