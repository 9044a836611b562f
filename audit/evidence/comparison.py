"""Evidence for ``kind: comparison``: run the referenced claims, compare their tops.

A comparison is derived evidence: it is never surer than what it compares. Its confidence cap is
the lowest cap of the compared claims (an exploratory input caps it at low), its evidence kinds
are the union of theirs and its controls those every input ran.
"""

from __future__ import annotations

import re
from dataclasses import replace

from audit.confidence import lowest, record_cap
from audit.criteria.base import judge
from audit.evidence.base import EvidenceResult, RunContext, evidence_for
from audit.verdict import Outcome, Verdict


def _sweep_of(rec: dict) -> dict:
    s, ev = rec.get("summary", {}), rec.get("evidence", {})
    labels = ev.get("layers") or ev.get("labels") or []
    table = (ev.get("effects") or {}).get(ev.get("metric"), [])
    top = s.get("top_layer")
    if isinstance(top, str) and re.fullmatch(r"L\d+", top):  # a residual component is its layer
        top = int(top[1:])
    return {"claim_id": rec["claim_id"], "verdict": rec["verdict"], "top": top,
            "top_separated": bool(s.get("top_separated", False)), "flat": s.get("flat", False),
            "strong": bool(s.get("strong", False)), "stage": (rec.get("claim") or {}).get("stage", "exploratory"),
            "confidence_cap": record_cap(rec), "closest_interval": s.get("closest_interval"),
            "n_layers": rec.get("provenance", {}).get("n_layers") or len(labels), "labels": labels,
            "pooled": s.get("pooled"), "metric": ev.get("metric"), "method": ev.get("method"),
            "model_id": rec.get("provenance", {}).get("model_id"), "n_seeds": len(table),
            "weights_sha256": rec.get("provenance", {}).get("weights_sha256"),
            "claim_sha256": rec.get("provenance", {}).get("claim_sha256"), "reasons": rec.get("reasons", [])}


@evidence_for("comparison")
def compare(ctx: RunContext) -> EvidenceResult:
    from audit.errors import Pending
    from audit.schema import load_claim

    claim = ctx.lc.claim
    sub_options = replace(ctx.options, model=None)  # each compared claim runs on its own model
    records = []
    for ref in claim.intervention.claims:
        path = (ctx.lc.path.parent / ref).resolve()
        records.append(ctx.options.run_dependency(load_claim(path), sub_options, ctx.progress))
    pending = [r["claim_id"] for r in records if r["verdict"] == "pending"]
    if pending:
        raise Pending(f"it compares claims that are pending here ({', '.join(pending)}): "
                      f"{next(r for r in records if r['verdict'] == 'pending')['reasons'][0].removeprefix('not run: ')}")
    sweeps = [_sweep_of(r) for r in records]
    errored = [f"{r['claim_id']}: {'; '.join(r['reasons'])}" for r in records if r["verdict"] == "errored"]
    kinds = {k for r in records for k in r.get("evidence_kinds", [])}
    controls = set.intersection(*(set(r.get("controls_run", [])) for r in records)) if records else set()
    caps = {s["claim_id"]: s["confidence_cap"] for s in sweeps}
    evidence = {"kind": "comparison", "sweeps": sweeps, "input_caps": caps}
    outcome = Outcome(Verdict.ERRORED, errored) if errored else judge(claim, evidence)
    return EvidenceResult(outcome, evidence, kinds=kinds or {"ablation"}, controls_run=controls,
                          strong=False, cap=lowest(*caps.values()) if caps else "low")
