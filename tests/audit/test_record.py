"""The typed ledger record: every committed record loads, schema_version comes first, and a
record readers would drop is never appended (it would be lost silently)."""

import json
from pathlib import Path

import pytest

from audit import ledger
from audit.record import SCHEMA_VERSION, LedgerRecord

REPO = Path(__file__).resolve().parents[2]


def committed() -> list[dict]:
    return [json.loads(line) for line in (REPO / "reports" / "ledger.jsonl").read_text().splitlines() if line.strip()]


def test_every_committed_record_is_a_ledger_record_and_round_trips():
    records = committed()
    assert records
    for rec in records:
        typed = LedgerRecord.model_validate(rec)
        assert typed.claim_id == rec["claim_id"] and typed.verdict == rec["verdict"]
        assert list(rec)[0] == "schema_version" == list(LedgerRecord.model_fields)[0]
        again = typed.model_dump(exclude_unset=True)  # unknown fields pass through (NaN compared as text)
        assert json.dumps(again, sort_keys=True) == json.dumps(rec, sort_keys=True)


def _record(**changes) -> dict:
    rec = {"run_id": "r1", "claim_id": "c1", "verdict": "supported", "confidence": "low", "expect": "supported",
           "reasons": ["ok"], "evidence": {}, "provenance": {"claim_sha256": "ab"}}
    return {**rec, **changes}


@pytest.mark.parametrize("bad, message", [
    (dict(verdict="maybe"), "field verdict"),
    (dict(claim_id="Not An Id"), "claim_id"),
    (dict(reasons="one string"), "field reasons"),
    (dict(confidence=3), "field confidence"),
])
def test_a_record_readers_would_drop_is_never_appended(tmp_path, bad, message):
    ledger.append(tmp_path, _record())
    before = (tmp_path / "ledger.jsonl").read_bytes()
    with pytest.raises(ledger.LedgerError, match=message) as exc:
        ledger.append(tmp_path, _record(**bad))
    assert "the record was not written" in str(exc.value)
    assert (tmp_path / "ledger.jsonl").read_bytes() == before  # what was recorded is untouched


def test_an_appended_record_reads_back_with_schema_version_first(tmp_path):
    ledger.append(tmp_path, _record())
    records, bad = ledger.read(tmp_path)
    assert bad == [] and list(records[0])[0] == "schema_version" and records[0]["schema_version"] == SCHEMA_VERSION
