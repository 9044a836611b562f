"""A claim's history from the ledger: how its verdict changed over time, and why.

Pure functions over ledger records (no model, no files). Between two consecutive records of a
claim the explanation names what changed in the *inputs* (the claim file: thresholds, method,
seeds, expect, wording; the model; the suite; code and package versions) and in the *outcome*
(verdict, confidence, evidence summary). When no input changed and the outcome did, that is
"new evidence" from the same inputs, and it is said so.
"""

from __future__ import annotations

import difflib
from dataclasses import asdict, dataclass, field

# Which part of a claim file a changed field belongs to (first path element -> category).
CATEGORY = {"acceptance": "threshold", "model": "model", "suite": "suite", "controls": "controls",
            "intervention": "intervention", "metric": "metric", "expect": "expect", "statement": "wording",
            "caveats": "wording", "falsifier": "wording", "rationale": "wording", "tags": "wording",
            "retired": "status", "superseded_by": "status", "negative_result": "status"}
# Categories that change what the evidence means (anything else is wording).
INPUT_CATEGORIES = ("threshold", "model", "suite", "controls", "intervention", "metric", "expect", "status",
                    "code", "packages", "claim file")


@dataclass
class Change:
    category: str  # threshold | model | suite | controls | intervention | metric | expect | wording | status |
    #               claim file | code | packages | verdict | confidence | evidence | rerun
    text: str


@dataclass
class Entry:
    """One ledger record of the claim, with what changed since the previous one."""

    n: int
    run_id: str
    at: str
    verdict: str
    confidence: str
    expect: str
    reasons: list[str]
    changes: list[Change] = field(default_factory=list)
    diff: list[str] = field(default_factory=list)  # unified diff of the claim file text, when both texts are stored

    @property
    def verdict_changed(self) -> bool:
        return any(c.category == "verdict" for c in self.changes)

    def why(self) -> str:
        """One line: what changed (inputs first), for tables and the gate."""
        inputs = [c.text for c in self.changes if c.category not in ("verdict", "confidence")]
        return "; ".join(inputs) if inputs else "first record"

    def to_dict(self) -> dict:
        return {**asdict(self), "why": self.why()}


def short(value, n: int = 60) -> str:
    text = value if isinstance(value, str) else repr(value)
    text = " ".join(text.split())
    return text if len(text) <= n else text[: n - 1] + "…"


def field_diff(old, new, prefix: str = "") -> list[tuple[str, object, object]]:
    """(dotted path, old, new) for every leaf that differs between two JSON-like values."""
    if isinstance(old, dict) and isinstance(new, dict):
        out = []
        for key in list(old) + [k for k in new if k not in old]:
            path = f"{prefix}.{key}" if prefix else str(key)
            if key not in new:
                out.append((path, old[key], None))
            elif key not in old:
                out.append((path, None, new[key]))
            else:
                out.extend(field_diff(old[key], new[key], path))
        return out
    return [] if old == new else [(prefix, old, new)]


def claim_changes(old_claim: dict, new_claim: dict) -> list[Change]:
    """Field-level changes between two claim dumps, each categorised (threshold, model, suite ...)."""
    changes = []
    for path, a, b in field_diff(old_claim or {}, new_claim or {}):
        if (a is None and not b) or (b is None and not a):
            continue  # a field added to (or dropped from) the schema with an empty default: no change
        category = CATEGORY.get(path.split(".")[0], "claim file")
        label = {"threshold": "threshold change", "model": "model change", "suite": "suite change",
                 "controls": "controls change", "intervention": "method change", "metric": "metric change",
                 "expect": "expectation change", "wording": "wording", "status": "status change"}.get(category,
                                                                                                    "claim change")
        if isinstance(a, str) and isinstance(b, str) and (len(a) > 60 or len(b) > 60):
            a, b = _around_difference(a, b)
        changes.append(Change(category, f"{label}: {path} {short(a)} → {short(b)}"))
    return changes


def _around_difference(a: str, b: str, before: int = 12, after: int = 36) -> tuple[str, str]:
    """The part of two long strings where they first differ (so a long rationale's edit is visible)."""
    p = next((i for i, (x, y) in enumerate(zip(a, b)) if x != y), min(len(a), len(b)))
    cut = lambda s: ("…" if p > before else "") + s[max(0, p - before): p + after] + ("…" if len(s) > p + after else "")  # noqa: E731
    return cut(a), cut(b)


def _sha(v) -> str:
    return f"{v[:12]}…" if isinstance(v, str) and len(v) > 12 else str(v)


def provenance_changes(old: dict, new: dict) -> list[Change]:
    """What changed in the run's inputs outside the claim's fields: model weights, suite, code, packages."""
    a, b = old.get("provenance") or {}, new.get("provenance") or {}
    out = []
    if a.get("model_requested") != b.get("model_requested"):
        out.append(Change("model", f"model change: run on {b.get('model_requested')} (was {a.get('model_requested')})"))
    if a.get("weights_sha256") and b.get("weights_sha256") and a["weights_sha256"] != b["weights_sha256"]:
        out.append(Change("model", f"model change: weights sha256 {_sha(a['weights_sha256'])} → {_sha(b['weights_sha256'])}"))
    if a.get("dtype") != b.get("dtype") and a.get("dtype") and b.get("dtype"):
        out.append(Change("model", f"model change: dtype {a['dtype']} → {b['dtype']}"))
    if a.get("suite_version") != b.get("suite_version"):
        out.append(Change("suite", f"suite change: {a.get('suite')} v{a.get('suite_version')} → "
                                   f"{b.get('suite')} v{b.get('suite_version')}"))
    elif a.get("suite_sha256") != b.get("suite_sha256"):
        out.append(Change("suite", f"suite change: {b.get('suite')} v{b.get('suite_version')} content changed "
                                   f"without a version bump (sha256 {_sha(a.get('suite_sha256'))} → "
                                   f"{_sha(b.get('suite_sha256'))})"))
    if a.get("code_commit") != b.get("code_commit") and a.get("code_commit") and b.get("code_commit"):
        out.append(Change("code", f"code change: commit {_sha(a['code_commit'])[:9]} → {_sha(b['code_commit'])[:9]}"))
    pa, pb = a.get("packages") or {}, b.get("packages") or {}
    moved = [f"{k} {pa.get(k)} → {pb.get(k)}" for k in sorted(set(pa) | set(pb)) if pa.get(k) != pb.get(k)]
    if moved and pa and pb:
        out.append(Change("packages", "package change: " + ", ".join(moved)))
    return out


def summary_changes(old: dict, new: dict, limit: int = 4) -> list[str]:
    """Scalar fields of the evidence summary that moved (e.g. top_layer 8 → 29, margin 0.47 → 0.1)."""
    a, b = old.get("summary") or {}, new.get("summary") or {}
    out = []
    scalar = (int, float, str, bool)
    for key, vb in b.items():
        va = a.get(key)
        if isinstance(vb, scalar) and isinstance(va, scalar) and va != vb:
            out.append(f"{key} {_num(va)} → {_num(vb)}")
    return out[:limit]


def _num(v) -> str:
    return f"{v:.4g}" if isinstance(v, float) else str(v)


def explain(old: dict, new: dict) -> tuple[list[Change], list[str]]:
    """Why ``new`` differs from ``old`` (two records of one claim): changes, and the claim file diff."""
    changes = claim_changes(old.get("claim") or {}, new.get("claim") or {})
    pa, pb = old.get("provenance") or {}, new.get("provenance") or {}
    diff: list[str] = []
    if pa.get("claim_sha256") != pb.get("claim_sha256"):
        if old.get("claim_text") is not None and new.get("claim_text") is not None:
            diff = list(difflib.unified_diff(old["claim_text"].splitlines(), new["claim_text"].splitlines(),
                                             fromfile=f"{pa.get('claim_file', 'claim')} (run {old.get('run_id', '')[:8]})",
                                             tofile=f"{pb.get('claim_file', 'claim')} (run {new.get('run_id', '')[:8]})",
                                             lineterm=""))
        if not changes:
            changes.append(Change("claim file", "claim file edited (comments or formatting only: no field changed)"))
    changes += provenance_changes(old, new)
    if old.get("verdict") != new.get("verdict"):
        changes.append(Change("verdict", f"verdict {old.get('verdict')} → {new.get('verdict')}"))
    if old.get("confidence") != new.get("confidence"):
        changes.append(Change("confidence", f"confidence {old.get('confidence')} → {new.get('confidence')}"))
    moved = summary_changes(old, new)
    inputs_changed = any(c.category in INPUT_CATEGORIES for c in changes)
    if not inputs_changed:
        if moved or old.get("verdict") != new.get("verdict"):
            changes.append(Change("evidence", "new evidence from the same claim, model and suite"
                                  + (": " + "; ".join(moved) if moved else "")))
        elif not any(c.category == "wording" for c in changes):
            changes.append(Change("rerun", "re-run: same inputs, same outcome"))
    elif moved:
        changes.append(Change("evidence", "evidence: " + "; ".join(moved)))
    return changes, diff


def history(records: list[dict], claim_id: str) -> list[Entry]:
    """Every ledger record of ``claim_id`` in ledger order, each explained against the previous one."""
    mine = [r for r in records if r.get("claim_id") == claim_id]
    entries: list[Entry] = []
    for i, rec in enumerate(mine):
        e = Entry(i + 1, rec.get("run_id", ""), rec.get("finished_at") or rec.get("started_at", ""),
                  rec.get("verdict", ""), rec.get("confidence", ""), rec.get("expect", ""), list(rec.get("reasons", [])))
        if i:
            e.changes, e.diff = explain(mine[i - 1], rec)
        entries.append(e)
    return entries


def story(records: list[dict]) -> list[dict]:
    """"How the story changed": every verdict change of every claim, and every change of its
    ``expect`` (an acknowledged result), newest first, with the reasons before and after."""
    out = []
    for cid in dict.fromkeys(r.get("claim_id") for r in records):
        entries = history(records, cid)
        for prev, e in zip(entries, entries[1:]):
            if e.verdict_changed or prev.expect != e.expect:
                out.append({"claim_id": cid, "at": e.at, "from": prev.verdict, "to": e.verdict,
                            "why": e.why(), "run_id": e.run_id, "from_reasons": prev.reasons,
                            "to_reasons": e.reasons, "expect_from": prev.expect, "expect_to": e.expect,
                            "kind": "verdict" if e.verdict_changed else "expect"})
    out.sort(key=lambda d: d["at"], reverse=True)
    return out


def acknowledgement(latest: dict, claim_now: dict | None) -> str:
    """'' unless the claim file now expects something other than its latest run recorded: then the
    edit and the run that forced it (the run's verdict and first reason)."""
    if not claim_now or claim_now.get("expect", "supported") == latest.get("expect", "supported"):
        return ""
    new, verdict = claim_now.get("expect", "supported"), latest.get("verdict")
    owned = "acknowledges" if verdict == new else "still differs from"
    return (f"expect {latest.get('expect')} → {new} (edited after run {latest.get('run_id', '')[:8]}; it {owned} "
            f"that run's verdict {verdict}: {short((latest.get('reasons') or [''])[0], 160)})")
