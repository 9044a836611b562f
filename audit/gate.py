"""The publication gate: latest ledger verdicts vs. the claim files and the published baseline.

``evaluate`` is pure logic over ledger records, the current claim files (their hashes and
fields) and ``published.json`` (written by ``audit publish``). It fails, one line per reason, when

- a verdict contradicts its claim's ``expect`` as the claim file says it now (exit 1), is
  inconclusive (2) or errored (3); a claim file may own up to a verdict by changing ``expect``
  (listed as an acknowledgement with the run that forced it), which does not make the evidence stale;
- a claim is pending (its weights are not on this machine) and the project's policy is
  ``pending = "fail"`` (exit 7); with ``"allow"`` it is listed as pending, never as passing evidence;
- a published claim's verdict changed (supported -> refuted / inconclusive / errored, or a
  published refutation now holds) and the claim file does not acknowledge it by a new ``expect``
  (exit 1, 2 or 3 after the new verdict);
- a claim lacks the controls its intervention kind requires: too few resampling seeds declared
  (4, the claim file is not publishable) or a required control did not run (3);
- evidence is stale or missing: what the evidence depends on in the claim file (anything but its
  expect, wording, comments and status), the suite (version or content) or the model weights
  changed since the evidence was computed, or the claim was never run (6);
- the baseline does not match the ledger: unreadable ``published.json``, the append-only ledger
  rewritten since publication, a published run missing, a published claim's file deleted (6);
- a ledger line is not a usable record (non-JSON, not an object, a bad claim id, wrong field types)
  and could be a gated claim's latest record (6); a torn write (what a crash leaves) or a corrupt
  line a newer record of its claim supersedes is a note;
- a claim file is invalid (4); nothing matched at all (5).

The most serious failure decides the exit code: 5 > 4 > 6 > 3 > 1 > 2 > 7 > 0.
"""

from __future__ import annotations

import hashlib
import json
import os
from dataclasses import asdict, dataclass, field
from datetime import datetime, timezone
from pathlib import Path
from typing import Callable

from audit import ledger
from audit.confidence import MIN_REPLICATION_SEEDS
from audit.history import claim_changes, explain, short
from audit.verdict import (EXIT_CONTRADICTS, EXIT_ERRORED, EXIT_INCONCLUSIVE, EXIT_INVALID, EXIT_MISMATCH,
                           EXIT_NOTHING, EXIT_OK, EXIT_PENDING, SEVERITY, combine_exit_codes)
BASELINE_NAME = "published.json"
GATE_NAME = "gate.json"
BASELINE_SCHEMA = 1

combine = combine_exit_codes


def required_controls(kind: str) -> frozenset[str]:
    """The controls an intervention kind must have run before its verdict can be published: what
    its spec declares (:func:`controls.required`; seed replication for every kind)."""
    import controls

    try:
        import interventions

        spec = interventions.INTERVENTIONS.get(kind)
    except (ImportError, KeyError):
        spec = None
    return controls.required(spec) | {controls.SEEDS}


@dataclass
class Failure:
    claim_id: str  # "" for failures of the baseline as a whole
    code: int
    reason: str    # contradicts | inconclusive | errored | pending | regressed | controls | stale | missing | baseline |
    #                ledger | invalid | nothing
    message: str

    def line(self) -> str:
        who = f"{self.claim_id}: " if self.claim_id else ""
        return f"[{self.code}] {who}{self.reason}: {self.message}"


@dataclass
class BaselineChange:
    claim_id: str
    kind: str      # new | verdict | confidence | rerun | retired | superseded | removed | acknowledged
    text: str
    acknowledged: bool = False


@dataclass
class CurrentClaim:
    """What the gate needs from a claim file as it is now."""

    id: str
    path: str
    sha256: str
    suite: str
    suite_version: int
    suite_sha256: str
    model: str
    expect: str
    kind: str
    seeds: list[int]
    retired: bool
    superseded_by: str
    negative_result: bool
    claim: dict

    @property
    def inactive(self) -> bool:
        return self.retired or bool(self.superseded_by)

    @classmethod
    def from_record(cls, rec: dict) -> "CurrentClaim":
        """The claim as its ledger record saw it (for views that have no claim files, e.g. the report)."""
        c, prov = rec.get("claim") or {}, rec.get("provenance") or {}
        return cls(rec.get("claim_id", ""), prov.get("claim_file", ""), prov.get("claim_sha256", ""), prov.get("suite", ""),
                   prov.get("suite_version", 0), prov.get("suite_sha256", ""),
                   prov.get("model_requested") or c.get("model", ""), rec.get("expect", c.get("expect", "supported")),
                   (c.get("intervention") or {}).get("kind", ""), list((c.get("controls") or {}).get("seeds", [])),
                   bool(c.get("retired")), c.get("superseded_by") or "", bool(c.get("negative_result")), c)

    @classmethod
    def from_loaded(cls, lc) -> "CurrentClaim":
        c = lc.claim
        return cls(c.id, str(lc.path), lc.sha256, lc.suite.name, lc.suite.version, lc.suite.sha256, c.model, c.expect,
                   c.intervention.kind, list(c.controls.seeds), bool(getattr(c, "retired", False)),
                   getattr(c, "superseded_by", "") or "", bool(getattr(c, "negative_result", False)),
                   c.model_dump(mode="json"))


@dataclass
class ClaimStatus:
    claim_id: str
    status: str  # pass | fail | pending | retired | superseded | not_gated
    verdict: str = ""
    confidence: str = ""
    expect: str = ""
    run_id: str = ""
    statement: str = ""
    superseded_by: str = ""
    failures: list[str] = field(default_factory=list)


@dataclass
class GateResult:
    exit_code: int
    failures: list[Failure]
    changes: list[BaselineChange]
    claims: list[ClaimStatus]
    notes: list[str]
    baseline: dict | None
    ledger_records: int
    evaluated_at: str
    policy: dict = field(default_factory=lambda: {"pending": "fail", "source": "default"})

    @property
    def passed(self) -> bool:
        return self.exit_code == EXIT_OK

    def to_dict(self) -> dict:
        return {"passed": self.passed, "exit_code": self.exit_code, "evaluated_at": self.evaluated_at,
                "ledger_records": self.ledger_records, "baseline": self.baseline, "policy": self.policy,
                "failures": [{**asdict(f), "line": f.line()} for f in self.failures],
                "changes": [asdict(c) for c in self.changes], "claims": [asdict(c) for c in self.claims],
                "notes": self.notes}


# ---------------------------------------------------------------------------------------------
# inputs


def load_claims(files: list[Path]) -> tuple[list[CurrentClaim], list[Failure]]:
    """Load claim files; invalid ones become exit-4 failures with their file:line problems."""
    from audit.errors import ClaimFileError
    from audit.schema import load_claim

    claims, failures, seen = [], [], {}
    for f in files:
        try:
            c = CurrentClaim.from_loaded(load_claim(f))
        except ClaimFileError as exc:
            failures.append(Failure("", EXIT_INVALID, "invalid", "; ".join(str(p) for p in exc.problems[:3])))
            continue
        if c.id in seen:
            failures.append(Failure(c.id, EXIT_INVALID, "invalid", f"claim id defined twice: {seen[c.id]} and {c.path}"))
            continue
        seen[c.id] = c.path
        claims.append(c)
    return claims, failures


def ledger_lock(out_dir: Path) -> dict:
    """The ledger's size and hash now: a later ledger must start with exactly these bytes."""
    data = ledger.data(out_dir)
    return {"bytes": len(data), "sha256": hashlib.sha256(data).hexdigest(), "records": data.count(b"\n")}


def load_baseline(path: Path) -> tuple[dict | None, list[Failure]]:
    if not path.exists():
        return None, []
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
        if not isinstance(data, dict) or not isinstance(data.get("claims"), dict):
            raise ValueError("no 'claims' mapping")
        if not all(isinstance(v, dict) and isinstance(v.get("run_id", ""), str) for v in data["claims"].values()):
            raise ValueError("a claim entry that is not a mapping with a run_id")
        if not isinstance(data.get("ledger", {}), dict):
            raise ValueError("'ledger' is not a mapping")
        if data.get("schema_version") != BASELINE_SCHEMA:
            raise ValueError(f"schema_version {data.get('schema_version')!r}, expected {BASELINE_SCHEMA}")
    except (OSError, ValueError) as exc:
        return None, [Failure("", EXIT_MISMATCH, "baseline", f"{path} is not a readable baseline ({exc}); "
                                                             "re-create it with `audit publish`")]
    return data, []


def current_model_hash(name: str) -> str | None:
    """sha256 of the weights ``name`` resolves to on this machine (as the runner hashes them), or None."""
    from audit import models

    try:
        if name in models.ALIASES:
            return models._hash_weights([models.ALIASES[name].locate()])
        path = Path(name).expanduser()
        if not path.exists() and not name.startswith((".", "/", "~")):
            from huggingface_hub import snapshot_download

            path = Path(snapshot_download(name, local_files_only=True, allow_patterns=["*.json", "*.safetensors"]))
        weights = sorted(path.glob("*.safetensors")) or sorted(path.glob("*.bin"))
        return models._hash_weights(weights) if weights else None
    except Exception:  # not available here: the hash cannot be checked (said in the notes)
        return None


# ---------------------------------------------------------------------------------------------
# evaluation


def _date(rec: dict) -> str:
    return (rec.get("finished_at") or rec.get("started_at") or "")[:16].replace("T", " ")


def _run(rec: dict) -> str:
    return f"run {rec.get('run_id', '')[:8]} ({_date(rec)})"


def _verdict_code(verdict: str) -> int:
    return {"errored": EXIT_ERRORED, "inconclusive": EXIT_INCONCLUSIVE}.get(verdict, EXIT_CONTRADICTS)


def _reason(rec: dict) -> str:
    return short((rec.get("reasons") or ["no reason recorded"])[0], 200)


def select_record(records: list[dict], claim: CurrentClaim, model: str | None = None) -> dict | None:
    """The latest record of the claim run on the claim's own model (or on ``model`` when given)."""
    want = model or claim.model
    for rec in reversed(records):
        if rec.get("claim_id") == claim.id and (rec.get("provenance") or {}).get("model_requested", want) == want:
            return rec
    return None


def evaluate(records: list[dict], claims: list[CurrentClaim], baseline: dict | None = None, *,
             invalid: list[Failure] | None = None, ledger_bytes: bytes | None = None,
             model_hash: Callable[[str], str | None] = current_model_hash, model: str | None = None,
             matched_any: bool = True, bad_lines: list[ledger.BadLine] | None = None,
             policy: dict | None = None) -> GateResult:
    """Gate the latest verdicts of ``claims`` (see the module docstring for the rules). ``bad_lines``
    (the ledger's unusable lines) default to those of ``ledger_bytes``; ``policy``: the project's
    gate policy (``{"pending": "allow" | "fail", "source": ...}``, default fail)."""
    policy = {"pending": "fail", "source": "default", **(policy or {})}
    failures: list[Failure] = list(invalid or [])
    notes: list[str] = []
    if bad_lines is None and ledger_bytes is not None:
        bad_lines = ledger.parse(ledger_bytes)[1]
    statuses: list[ClaimStatus] = []
    hashes: dict[str, str | None] = {}
    by_id = {c.id: c for c in claims}
    published = (baseline or {}).get("claims", {}) if baseline else {}
    run_ids = {r.get("run_id"): r for r in records}

    def model_sha(name: str) -> str | None:
        if name not in hashes:
            hashes[name] = model_hash(name)
        return hashes[name]

    if not matched_any:
        failures.append(Failure("", EXIT_NOTHING, "nothing", "no claim files matched; nothing to gate"))

    # --- the baseline as a whole -------------------------------------------------------------
    if baseline is not None:
        locked = baseline.get("ledger") or {}
        if ledger_bytes is not None and locked:
            head = ledger_bytes[: locked.get("bytes", 0)]
            if len(ledger_bytes) < locked.get("bytes", 0) or hashlib.sha256(head).hexdigest() != locked.get("sha256"):
                failures.append(Failure("", EXIT_MISMATCH, "baseline",
                                        f"the ledger was rewritten since publication ({baseline.get('published_at', '?')}): "
                                        f"its first {locked.get('bytes')} bytes no longer match the published lock; "
                                        "the ledger is append-only"))
        for cid, p in published.items():
            if p.get("run_id") and p["run_id"] not in run_ids:
                failures.append(Failure(cid, EXIT_MISMATCH, "baseline",
                                        f"published run {p['run_id'][:8]} is not in the ledger (baseline from another ledger?)"))
            if cid not in by_id:
                rec = run_ids.get(p.get("run_id")) or {}
                claim_file = p.get("claim_file") or (rec.get("provenance") or {}).get("claim_file")
                if claim_file and not Path(claim_file).exists():
                    failures.append(Failure(cid, EXIT_MISMATCH, "baseline",
                                            f"published claim's file {claim_file} is gone; retire it "
                                            "(`retired: true` or `superseded_by:`) instead of deleting it"))
                else:
                    notes.append(f"{cid}: published, but not among the gated claim files; not gated")

    failures.extend(_bad_lines(bad_lines or [], records, {c.id for c in claims if not c.inactive}, notes))

    # --- every claim file ----------------------------------------------------------------------
    for c in claims:
        st = ClaimStatus(c.id, "pass", expect=c.expect, statement=c.claim.get("statement", ""),
                         superseded_by=c.superseded_by)
        rec = select_record(records, c, model)
        if rec is not None:
            st.verdict, st.confidence, st.run_id = rec.get("verdict", ""), rec.get("confidence", ""), rec.get("run_id", "")
        mine: list[Failure] = []
        if c.superseded_by:
            st.status = "superseded"
            if c.superseded_by == c.id or (c.superseded_by not in by_id
                                           and not any(r.get("claim_id") == c.superseded_by for r in records)):
                mine.append(Failure(c.id, EXIT_INVALID, "invalid",
                                    f"superseded_by: '{c.superseded_by}' is not another known claim"))
        elif c.retired:
            st.status = "retired"
        else:
            mine = _check_claim(c, rec, records, published.get(c.id), model, model_sha, notes, policy)
            if rec is not None and rec.get("verdict") == "pending" and not mine:
                st.status = "pending"
        if mine:
            st.status = "fail"
            st.failures = [f.line() for f in mine]
        failures.extend(mine)
        statuses.append(st)

    changes = _acknowledgements(claims, records, model) + _changes(claims, records, published, run_ids, model)
    code = combine(f.code for f in failures)
    return GateResult(code, failures, changes, statuses, notes, _baseline_summary(baseline), len(records),
                      datetime.now(timezone.utc).isoformat(timespec="seconds"), policy)


def _bad_lines(bad: list[ledger.BadLine], records: list[dict], gated: set[str], notes: list[str]) -> list[Failure]:
    """Unusable ledger lines: a failure (6) when one could be a gated claim's latest record, else a note."""
    out = []
    for b in bad:
        newer = b.claim_id and any(r.get("claim_id") == b.claim_id for r in records[b.after:])
        if b.torn or newer or (b.claim_id and b.claim_id not in gated):
            why = ("a newer record of the claim is used" if newer else "not a gated claim" if b.claim_id
                   else "what a crash during a write leaves")
            notes.append(f"{b} ({why})")
        elif b.claim_id:
            out.append(Failure(b.claim_id, EXIT_MISMATCH, "ledger", f"its latest ledger record is unusable: {b}; "
                                                                    "run the claim again to record a new one"))
        else:
            out.append(Failure("", EXIT_MISMATCH, "ledger", f"{b}; it names no claim, so it may hide any claim's latest "
                                                            "record: repair or remove the line by hand"))
    return out


def _check_claim(c: CurrentClaim, rec: dict | None, records: list[dict], pub: dict | None, model: str | None,
                 model_sha, notes: list[str], policy: dict) -> list[Failure]:
    out: list[Failure] = []
    want = model or c.model
    if rec is None:
        others = [r for r in records if r.get("claim_id") == c.id]
        if others:
            used = (others[-1].get("provenance") or {}).get("model_requested")
            out.append(Failure(c.id, EXIT_MISMATCH, "missing", f"no evidence on {want}: the latest run used "
                                                               f"--model {used}; run `audit run {c.path}`"))
        else:
            out.append(Failure(c.id, EXIT_MISMATCH, "missing", f"never run; run `audit run {c.path}`"))
        return out
    prov = rec.get("provenance") or {}
    # --- stale evidence --------------------------------------------------------------------------
    what = evidence_changes(rec, c)
    claim_stale = bool(what)
    if claim_stale:
        detail = "; ".join(what[:3]) + (f" (+{len(what) - 3} more)" if len(what) > 3 else "")
        out.append(Failure(c.id, EXIT_MISMATCH, "stale", f"claim file changed since {_run(rec)}: {detail}"))
    if prov.get("suite_version") != c.suite_version:
        out.append(Failure(c.id, EXIT_MISMATCH, "stale", f"suite {c.suite} is v{c.suite_version} now, the evidence "
                                                         f"used v{prov.get('suite_version')} ({_run(rec)})"))
    elif prov.get("suite_sha256") != c.suite_sha256:
        out.append(Failure(c.id, EXIT_MISMATCH, "stale", f"suite {c.suite} v{c.suite_version} changed without a version "
                                                         f"bump since {_run(rec)}"))
    if prov.get("weights_sha256"):
        now = model_sha(prov.get("model_requested") or want)
        if now is None:
            notes.append(f"{c.id}: weights of {prov.get('model_requested') or want} are not on this machine; "
                         "model hash not verified")
        elif now != prov["weights_sha256"]:
            out.append(Failure(c.id, EXIT_MISMATCH, "stale", f"model {prov.get('model_requested') or want} weights changed "
                                                             f"(sha256 {prov['weights_sha256'][:12]}… → {now[:12]}…) "
                                                             f"since {_run(rec)}"))
    if claim_stale:  # the verdict judged another version of the claim: nothing more to say about it
        return out
    # --- the verdict, against expect and against the published baseline -----------------------
    verdict, expect = rec.get("verdict"), c.expect
    if verdict == "pending":
        if policy.get("pending") == "allow":
            notes.append(f"{c.id}: pending (allowed by the gate policy, {policy.get('source')}): {_reason(rec)}")
        else:
            out.append(Failure(c.id, EXIT_PENDING, "pending", _reason(rec)))
        return out
    if pub and pub.get("verdict") != verdict and not _acknowledged(pub, c, verdict):
        out.append(Failure(c.id, _verdict_code(verdict), "regressed",
                           f"published as {pub.get('verdict')} ({str(pub.get('published_at') or '')[:10]}), now "
                           f"{verdict}: {_reason(rec)}"))
    elif verdict == "errored":
        out.append(Failure(c.id, EXIT_ERRORED, "errored", _reason(rec)))
    elif verdict == "inconclusive" and expect != "inconclusive":
        out.append(Failure(c.id, EXIT_INCONCLUSIVE, "inconclusive", _reason(rec)))
    elif verdict != expect:
        out.append(Failure(c.id, EXIT_CONTRADICTS, "contradicts", f"verdict {verdict}, expect {expect}: {_reason(rec)}"))
    # --- required controls ----------------------------------------------------------------------
    if verdict != "errored":
        required = required_controls(c.kind)
        if "seeds" in required and len(c.seeds) < MIN_REPLICATION_SEEDS:
            out.append(Failure(c.id, EXIT_INVALID, "controls",
                               f"kind '{c.kind}' needs seed replication over >= {MIN_REPLICATION_SEEDS} seeds; the claim "
                               f"declares {len(c.seeds)} ({c.path}: controls.seeds)"))
        missing = sorted(required - set(rec.get("controls_run") or []))
        if missing and not ("seeds" in missing and len(c.seeds) < MIN_REPLICATION_SEEDS and len(missing) == 1):
            out.append(Failure(c.id, EXIT_ERRORED, "controls", f"required control(s) did not run: {', '.join(missing)} "
                                                              f"(kind '{c.kind}' requires {', '.join(sorted(required))})"))
    return out


EDITORIAL = ("expect", "wording", "status")  # claim-file categories the evidence does not depend on


def evidence_changes(rec: dict, c: CurrentClaim) -> list[str]:
    """What changed in the claim file since ``rec`` that the evidence depends on ([] when only its
    expect, wording, comments or status changed: the verdict stands, judged against the new expect)."""
    if (rec.get("provenance") or {}).get("claim_sha256") == c.sha256:
        return []
    return [ch.text for ch in claim_changes(rec.get("claim") or {}, c.claim) if ch.category not in EDITORIAL]


def _acknowledgements(claims: list[CurrentClaim], records: list[dict], model: str | None) -> list[BaselineChange]:
    """Claims whose file changed ``expect`` after their latest run: the edit and the run that forced it."""
    out = []
    for c in claims:
        rec = select_record(records, c, model)
        if rec is None or rec.get("expect", c.expect) == c.expect or evidence_changes(rec, c):
            continue
        owned = rec.get("verdict") == c.expect
        out.append(BaselineChange(c.id, "acknowledged",
                                  f"expect {rec.get('expect')} → {c.expect} in {c.path} after {_run(rec)}, which found "
                                  f"{rec.get('verdict')}: {_reason(rec)}"
                                  + ("" if owned else f" (the new expect still differs from the verdict)"), owned))
    return out


def _acknowledged(pub: dict, c: CurrentClaim, verdict: str) -> bool:
    """A changed verdict the claim file owns up to: its ``expect`` was changed to the new verdict."""
    return verdict in ("supported", "refuted", "inconclusive") and verdict == c.expect and pub.get("expect") != c.expect


def _changes(claims, records, published, run_ids, model) -> list[BaselineChange]:
    if not published:
        return []
    out = []
    by_id = {c.id: c for c in claims}
    for c in claims:
        p, rec = published.get(c.id), select_record(records, c, model)
        if p is None:
            if rec is not None:
                out.append(BaselineChange(c.id, "new", f"new claim: {rec.get('verdict')} ({rec.get('confidence')})"))
            else:
                out.append(BaselineChange(c.id, "new", "new claim, not run yet"))
            continue
        if c.superseded_by and not p.get("superseded_by"):
            out.append(BaselineChange(c.id, "superseded", f"superseded by {c.superseded_by}"))
        elif c.retired and not p.get("retired"):
            out.append(BaselineChange(c.id, "retired", "retired (stays visible in the report)"))
        if rec is None or rec.get("run_id") == p.get("run_id"):
            continue
        old = run_ids.get(p.get("run_id"))
        why = ""
        if old is not None:
            ch, _ = explain(old, rec)
            inputs = [x.text for x in ch if x.category not in ("verdict", "confidence")]
            why = "; ".join(inputs[:3])
        if p.get("verdict") != rec.get("verdict"):
            ack = _acknowledged(p, c, rec.get("verdict"))
            text = f"verdict {p.get('verdict')} → {rec.get('verdict')}" + (" (acknowledged: expect is now "
                                                                           f"{c.expect})" if ack else "")
            out.append(BaselineChange(c.id, "verdict", text + (f" — {why}" if why else ""), ack))
        elif p.get("confidence") != rec.get("confidence"):
            out.append(BaselineChange(c.id, "confidence", f"confidence {p.get('confidence')} → {rec.get('confidence')}"
                                      + (f" — {why}" if why else "")))
        else:
            out.append(BaselineChange(c.id, "rerun", f"re-run, still {rec.get('verdict')} ({rec.get('confidence')})"
                                      + (f" — {why}" if why else "")))
    for cid in published:
        if cid not in by_id:
            out.append(BaselineChange(cid, "removed", "published claim not among the gated claim files"))
    return out


def _baseline_summary(baseline: dict | None) -> dict | None:
    if baseline is None:
        return None
    return {"published_at": baseline.get("published_at"), "n_claims": len(baseline.get("claims", {})),
            "ledger_records": (baseline.get("ledger") or {}).get("records")}


# ---------------------------------------------------------------------------------------------
# publishing


def baseline_from(result: GateResult, records: list[dict], claims: list[CurrentClaim], lock: dict,
                  model: str | None = None) -> dict:
    """The published baseline: every claim's selected record and the ledger lock."""
    now = datetime.now(timezone.utc).isoformat(timespec="seconds")
    entries = {}
    for c in claims:
        rec = select_record(records, c, model)
        if rec is None:
            continue
        prov = rec.get("provenance") or {}
        entries[c.id] = {"run_id": rec.get("run_id"), "verdict": rec.get("verdict"), "confidence": rec.get("confidence"),
                         "expect": c.expect, "statement": rec.get("statement"), "claim_file": c.path,
                         "claim_sha256": prov.get("claim_sha256"), "suite": prov.get("suite"),
                         "suite_version": prov.get("suite_version"), "suite_sha256": prov.get("suite_sha256"),
                         "model_requested": prov.get("model_requested"), "weights_sha256": prov.get("weights_sha256"),
                         "finished_at": rec.get("finished_at"), "published_at": now, "retired": c.retired,
                         "superseded_by": c.superseded_by, "negative_result": c.negative_result}
    return {"schema_version": BASELINE_SCHEMA, "published_at": now, "ledger": lock, "claims": entries,
            "gate": {"exit_code": result.exit_code, "evaluated_at": result.evaluated_at}}


def write_json(path: Path, data: dict) -> None:
    """Atomic write (a crash never leaves half a baseline)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    tmp.write_text(json.dumps(data, indent=2, default=str) + "\n", encoding="utf-8")
    os.replace(tmp, path)


def read_gate(out_dir: Path) -> dict | None:
    """The last gate result written under ``out_dir`` (for the report's gate box), if any."""
    try:
        data = json.loads((Path(out_dir) / GATE_NAME).read_text(encoding="utf-8"))
    except (OSError, ValueError, RecursionError):
        return None
    return data if _gate_shaped(data) else None  # not a gate result: shown as "not evaluated"


def _gate_shaped(data) -> bool:
    """A gate result as ``GateResult.to_dict`` writes it (lists of mappings, each claim's failures a list)."""
    lists = ("failures", "claims", "changes")
    return (isinstance(data, dict)
            and all(isinstance(data.get(k, []), list) and all(isinstance(x, dict) for x in data.get(k, [])) for k in lists)
            and all(isinstance(c.get("failures", []), list) for c in data.get("claims", [])))
