"""The ledger is append-only; a torn last line never corrupts earlier or later records."""

import json

from audit import ledger


def test_append_and_read_in_order(tmp_path):
    for i in range(3):
        ledger.append(tmp_path, {"claim_id": f"c{i % 2}", "verdict": "supported", "n": i})
    records, warnings = ledger.read(tmp_path)
    assert [r["n"] for r in records] == [0, 1, 2] and not warnings
    assert all(r["schema_version"] == ledger.SCHEMA_VERSION for r in records)
    latest = ledger.latest_per_claim(records)
    assert latest["c0"]["n"] == 2 and latest["c1"]["n"] == 1


def test_torn_line_is_skipped_and_next_append_starts_fresh(tmp_path):
    ledger.append(tmp_path, {"claim_id": "a", "n": 0})
    before = ledger.ledger_path(tmp_path).read_bytes()
    with open(ledger.ledger_path(tmp_path), "ab") as f:
        f.write(b'{"claim_id": "b", "n": 1, "trunc')  # a crash in the middle of a write
    ledger.append(tmp_path, {"claim_id": "c", "n": 2})
    records, warnings = ledger.read(tmp_path)
    assert [r["n"] for r in records] == [0, 2]
    assert len(warnings) == 1 and "incomplete" in warnings[0]
    assert ledger.ledger_path(tmp_path).read_bytes().startswith(before)  # never rewritten


def test_records_are_single_json_lines(tmp_path):
    ledger.append(tmp_path, {"claim_id": "a", "statement": "line\nbreak <script>"})
    (line,) = ledger.ledger_path(tmp_path).read_text().splitlines()
    assert json.loads(line)["statement"] == "line\nbreak <script>"
