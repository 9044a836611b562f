"""Re-judge the committed ledger's evidence with today's criteria: for every shipped claim whose
record keeps its per-prompt evidence (layer sweeps, ablation component sweeps, steering), rebuild
what the builder handed its acceptance criterion from the record alone (no model, nothing
recomputed) and compare the verdict with the recorded one. A refactor of the evidence path must
leave these equal; a change of the statistics shows here claim by claim.

    .venv/bin/python bench/rejudge.py [--ledger reports/ledger.jsonl] [--claims claims]

Last line: ``rejudged=<n> same_verdict=<k> differ=<ids>``.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from audit.errors import ClaimFileError  # noqa: E402
from audit.evidence_models.judged import SteeringSweep  # noqa: E402
from audit.inference import PromptTable  # noqa: E402
from audit.schema import load_claim  # noqa: E402


def judged(claim, ev: dict):
    """The outcome the claim's criterion gives the recorded evidence (None: not re-judgeable here)."""
    acc, kind = claim.acceptance, ev.get("kind")
    if kind == "layer_sweep":
        return acc.evaluate(PromptTable.from_samples(ev["per_prompt"][ev["metric"]], ev["samples"], ev["layers"]))
    if kind == "component_sweep" and ev["metric"] != "recovery" and not ev.get("controls", {}).keys() - {"seeds"}:
        return acc.evaluate(PromptTable.from_samples(ev["per_prompt"][ev["metric"]], ev["samples"], ev["labels"],
                                                     per_seed_values=True))
    if kind == "steering":
        return acc.evaluate(SteeringSweep.model_validate(ev))
    return None


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--ledger", type=Path, default=ROOT / "reports" / "ledger.jsonl")
    ap.add_argument("--claims", type=Path, default=ROOT / "claims")
    args = ap.parse_args()
    latest = {}
    for line in args.ledger.read_text().splitlines():
        rec = json.loads(line)
        latest[rec["claim_id"]] = rec
    claims = {}
    for path in sorted(args.claims.glob("*.yaml")):
        try:
            lc = load_claim(path)
        except ClaimFileError:
            continue
        claims[lc.claim.id] = lc.claim
    same, differ, skipped = [], [], []
    for cid, rec in sorted(latest.items()):
        ev = rec.get("evidence") or {}
        outcome = judged(claims[cid], ev) if cid in claims and ev else None
        if outcome is None:
            skipped.append(cid)
            continue
        (same if outcome.verdict.value == rec["verdict"] else differ).append(cid)
        print(f"{cid:36s} recorded {rec['verdict']:13s} re-judged {outcome.verdict.value}")
    print(f"not re-judgeable from the record here ({len(skipped)}): {', '.join(skipped)}")
    print(f"rejudged={len(same) + len(differ)} same_verdict={len(same)} differ={','.join(differ) or 'none'}")


if __name__ == "__main__":
    main()
