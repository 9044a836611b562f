"""Re-judge the committed ledger's evidence with today's criteria: for every shipped claim whose
record keeps what its criterion judges (layer sweeps, ablation component sweeps, and every kind
whose builder judges a view of its evidence record: steering, deployment, training, comparisons),
rebuild what the builder handed its acceptance criterion from the record alone (no model, nothing
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

from pydantic import ValidationError

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from audit.errors import ClaimFileError  # noqa: E402
from audit.criteria.base import judge  # noqa: E402
from audit.inference import PromptTable  # noqa: E402
from audit.schema import load_claim  # noqa: E402


def judged(claim, ev: dict):
    """The outcome the claim's criterion gives the recorded evidence (None: not re-judgeable here).
    The sweeps' criteria judge a PromptTable their builders build from the per-prompt values (a
    component sweep with null controls combines more than the criterion, so it is left out); every
    other kind is judged exactly as its builder judges it, on the view of the record its
    intervention declares (:func:`audit.criteria.base.judge`). A record that lacks what the view
    reads (written before the field existed) is not re-judgeable."""
    acc, kind = claim.acceptance, ev.get("kind")
    if kind == "layer_sweep":
        return acc.evaluate(PromptTable.from_samples(ev["per_prompt"][ev["metric"]], ev["samples"], ev["layers"]))
    if kind == "component_sweep" and ev["metric"] != "recovery" and not ev.get("controls", {}).keys() - {"seeds"}:
        return acc.evaluate(PromptTable.from_samples(ev["per_prompt"][ev["metric"]], ev["samples"], ev["labels"],
                                                     per_seed_values=True))
    if kind == "component_sweep" or claim.intervention.evidence_type is PromptTable:
        return None
    try:
        return judge(claim, ev)
    except (ValidationError, KeyError, TypeError):
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
