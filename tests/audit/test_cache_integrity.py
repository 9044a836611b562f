"""Fault injection for the evidence cache: whatever is found in place of a unit or an adapter is
verified, a failure is a counted miss (recomputed and replaced), never a crash or a changed
verdict; `audit cache clear` deletes only what the cache wrote, and asks first."""

import json
import os

import pytest
from typer.testing import CliRunner

from audit.cache import ADAPTER_MANIFEST, EvidenceCache, encode_unit, inventory, unit_key
from audit.cli import app
from audit.runner import RunOptions, run_claim
from audit.schema import load_claim
from audit.worker_cache import WorkerCache
from tests.conftest import write_claim

KEY = unit_key(kind="test", n=1)
VALUE = {"kl": [0.25, 1.5, float("nan")], "label": "é"}


def _tamper(path):
    data = json.loads(path.read_text())
    data["value"]["kl"][0] = 99.0
    path.write_text(json.dumps(data))


def _dir_in_place(path):
    path.unlink()
    path.mkdir()
    (path / "inside").write_text("x")


def _parent_is_a_file(path):
    path.unlink()
    path.parent.rmdir()
    path.parent.write_text("not a directory")


FAULTS = {
    "tampered_value": _tamper,
    "empty_object": lambda p: p.write_text("{}"),
    "binary_garbage": lambda p: p.write_bytes(os.urandom(512) + b"\xff\xfe"),
    "truncated": lambda p: p.write_bytes(p.read_bytes()[:20]),
    "directory_in_place": _dir_in_place,
    "another_units_file": lambda p: p.write_bytes(encode_unit(unit_key(kind="other"), VALUE)),
    "symlink_to_dev_zero": lambda p: (p.unlink(), p.symlink_to("/dev/zero")),
    "symlink_loop": lambda p: (p.unlink(), p.symlink_to(p)),
    "deeply_nested": lambda p: p.write_text("[" * 100_000),
    "checksum_removed": lambda p: p.write_text(json.dumps({**json.loads(p.read_text()), "sha256": None})),
    "parent_is_a_file": _parent_is_a_file,
}


@pytest.mark.parametrize("fault", sorted(FAULTS))
def test_a_damaged_unit_is_a_counted_miss_then_replaced(tmp_path, fault):
    cache = EvidenceCache(tmp_path / "c")
    cache.put(KEY, VALUE)
    path = cache._path(KEY)
    FAULTS[fault](path)
    fresh = EvidenceCache(tmp_path / "c")
    assert fresh.get(KEY) is None
    assert fresh.stats()["corrupt"] == 1 and fresh.misses == 1
    assert "failed its checksum" in fresh.stats()["warnings"][0]
    fresh.put(KEY, VALUE)
    again = EvidenceCache(tmp_path / "c")
    assert json.dumps(again.get(KEY)) == json.dumps(VALUE) and again.hits == 1 and again.corrupt == 0


def test_a_unit_written_before_checksums_is_trusted_once_counted_and_sealed(tmp_path):
    cache = EvidenceCache(tmp_path / "c")
    path = cache._path(KEY)
    path.parent.mkdir(parents=True)
    path.write_text(json.dumps(VALUE))  # format 1: the bare value
    got = cache.get(KEY)
    assert got["label"] == VALUE["label"] and cache.stats()["unverified"] == 1 and cache.corrupt == 0
    assert json.loads(path.read_text())["format"] == 2  # sealed with a checksum on that first read
    again = EvidenceCache(tmp_path / "c")
    assert again.get(KEY) is not None and again.unverified == 0 and again.hits == 1
    path.write_text(path.read_text().replace("1.5", "2.5"))  # edited after sealing: caught now
    third = EvidenceCache(tmp_path / "c")
    assert third.get(KEY) is None and third.corrupt == 1


def test_an_unwritable_cache_costs_the_cache_not_the_claim(tmp_path):
    root = tmp_path / "c"
    root.write_text("a file where the cache directory should be")
    cache = EvidenceCache(root)
    cache.put(KEY, VALUE)  # no exception
    assert cache.stats()["write_errors"] == 1 and cache.writes == 0
    assert root.read_text().startswith("a file")


@pytest.fixture(scope="module")
def claim(tiny_dir, tmp_path_factory):
    model = tiny_dir("integrity_llama", "llama", hub=1)
    return load_claim(write_claim(tmp_path_factory.mktemp("claim") / "c.yaml", model=model, layer=1, seeds=(1, 2)))


@pytest.mark.parametrize("fault", ["tampered_value", "directory_in_place", "binary_garbage"])
def test_damaged_units_never_change_the_verdict(tmp_path, claim, fault):
    root = tmp_path / "cache"
    first = run_claim(claim, RunOptions(evidence_cache=EvidenceCache(root)))
    units = sorted(p for p in root.rglob("*.json"))
    assert units
    for path in units:
        FAULTS[fault](path) if fault != "tampered_value" else _scale_all(path)
    second = run_claim(claim, RunOptions(evidence_cache=EvidenceCache(root)))
    stats = second["provenance"]["evidence_cache"]
    assert stats["corrupt"] == len(units) and stats["hits"] == 0 and second["provenance"]["weights_loaded"]
    assert second["verdict"] == first["verdict"] and second["evidence"]["effects"] == first["evidence"]["effects"]
    third = run_claim(claim, RunOptions(evidence_cache=EvidenceCache(root)))  # replaced: served from the cache
    assert third["provenance"]["evidence_cache"]["corrupt"] == 0 and not third["provenance"]["weights_loaded"]


def _scale_all(path):
    """Edit every number of a unit (the kind of edit that would flip a verdict), keep it valid JSON."""
    def scale(v):
        if isinstance(v, dict):
            return {k: scale(x) for k, x in v.items()}
        if isinstance(v, list):
            return [scale(x) for x in v]
        return v * 100 if isinstance(v, float) else v

    data = json.loads(path.read_text())
    before = json.dumps(data["value"])
    data["value"] = scale(data["value"])
    assert json.dumps(data["value"]) != before
    path.write_text(json.dumps(data))


def test_a_worker_never_trusts_a_damaged_driver_unit_and_the_driver_replaces_it(tmp_path):
    driver = EvidenceCache(tmp_path / "c")
    driver.put(KEY, VALUE)
    _tamper(driver._path(KEY))
    worker = WorkerCache(tmp_path / "c")
    assert worker.get(KEY) is None
    worker.put(KEY, VALUE)
    returned = worker.drain()
    assert returned["stats"]["corrupt"] == 1
    driver = EvidenceCache(tmp_path / "c")
    driver.absorb(returned)
    assert driver.stats()["corrupt"] == 1 and json.dumps(EvidenceCache(tmp_path / "c").get(KEY)) == json.dumps(VALUE)


def _train(directory, metrics='{"exact_match": 0.5}'):
    """What a trainer writes into an adapter directory: weights, config, then metrics.json last."""
    directory.mkdir(parents=True, exist_ok=True)
    (directory / "adapter_model.safetensors").write_bytes(b"weights")
    (directory / "adapter_config.json").write_text("{}")
    (directory / "metrics.json").write_text(metrics)


def test_a_sealed_adapter_is_reused_and_an_edited_one_is_retrained(tmp_path):
    cache = EvidenceCache(tmp_path / "c")
    _train(cache.adapter_dir(KEY))
    cache.stats()  # the end of a claim seals what was trained
    assert (tmp_path / "c" / "adapters" / KEY / ADAPTER_MANIFEST).is_file()
    again = EvidenceCache(tmp_path / "c")
    assert (again.adapter_dir(KEY) / "metrics.json").is_file() and again.hits == 1
    (again.adapter_dir(KEY) / "metrics.json").write_text('{"exact_match": 1.0}')  # edited by hand
    third = EvidenceCache(tmp_path / "c")
    assert not third.adapter_dir(KEY).exists()  # removed: the adapter is trained again
    assert third.stats()["corrupt"] == 1


def test_an_old_adapter_is_sealed_an_interrupted_one_retrained_and_a_worker_replaces_a_damaged_one(tmp_path):
    _train(tmp_path / "c" / "adapters" / KEY)  # complete, written before manifests existed
    cache = EvidenceCache(tmp_path / "c")
    assert cache.adapter_dir(KEY).is_dir() and cache.stats()["unverified"] == 1
    assert (tmp_path / "c" / "adapters" / KEY / ".mi-audit-manifest.json").is_file()  # sealed
    (tmp_path / "c" / "adapters" / KEY / ".mi-audit-manifest.json").unlink()
    (tmp_path / "c" / "adapters" / KEY / "metrics.json").unlink()  # interrupted before metrics.json
    assert not EvidenceCache(tmp_path / "c").adapter_dir(KEY).exists()  # removed: trained again
    _train(tmp_path / "c" / "adapters" / KEY, metrics='{"exact_match": 0.9}')
    (tmp_path / "c" / "adapters" / KEY / "metrics.json").write_text("{}")  # damaged after sealing below
    (tmp_path / "c" / "adapters" / KEY / ".mi-audit-manifest.json").write_text('{"metrics.json": "0"}')
    (tmp_path / "c" / "adapters" / KEY / "stale.bin").write_text("left over")
    worker = WorkerCache(tmp_path / "c")
    scratch = worker.adapter_dir(KEY)
    assert not scratch.exists()  # not copied from the driver
    _train(scratch)
    driver = EvidenceCache(tmp_path / "c")
    driver.absorb(worker.drain())
    directory = tmp_path / "c" / "adapters" / KEY
    assert (directory / "metrics.json").read_text() == '{"exact_match": 0.5}' and not (directory / "stale.bin").exists()
    assert EvidenceCache(tmp_path / "c").adapter_dir(KEY).is_dir()  # sealed by the driver: reused next time


# ---- audit cache clear -------------------------------------------------------------------------

def _populated(root):
    cache = EvidenceCache(root)
    for i in range(3):
        cache.put(unit_key(i=i), {"v": [i] * 100})
    _train(cache.adapter_dir(KEY))
    cache.stats()
    (root / "notes.txt").write_text("mine")
    (root / KEY[:2]).mkdir(exist_ok=True)
    (root / KEY[:2] / "readme.txt").write_text("mine too")
    (root / "adapters" / "keep.txt").write_text("also mine")
    (root / "zz").mkdir()
    (root / "zz" / f"{KEY}.json").write_text("{}")  # named like a unit, in the wrong directory
    outside = root.parent / "outside"
    outside.mkdir()
    (outside / f"{KEY}.json").write_text("precious")
    (root / KEY[2:4]).symlink_to(outside)  # a link named like a unit directory
    return cache


def test_inventory_separates_what_the_cache_wrote(tmp_path):
    _populated(tmp_path / "c")
    inv = inventory(tmp_path / "c")
    assert len(inv.units) == 3 and len(inv.adapters) == 1
    assert {p.name for p in inv.foreign} == {"notes.txt", "readme.txt", "keep.txt", "zz", KEY[2:4]}


def _clear(root, *args, input=None):
    return CliRunner().invoke(app, ["cache", "clear", *args], input=input,
                              env={"MI_AUDIT_EVIDENCE_CACHE": str(root)})


def test_cache_clear_asks_and_deletes_only_its_own_files(tmp_path):
    root = tmp_path / "c"
    _populated(root)
    for answer, code in (("n\n", 0), (None, 4)):  # declined; no answer at all
        result = _clear(root, input=answer)
        assert result.exit_code == code, result.output
        assert len(inventory(root).units) == 3 and "Traceback" not in result.output
    assert "3 evidence unit(s)" in result.output and "1 trained adapter(s)" in result.output
    assert "MB" in result.output and "5 other file(s)" in result.output and "--yes" in result.output
    result = _clear(root, input="y\n")
    assert result.exit_code == 0 and "removed 3 evidence unit(s) and 1 trained adapter(s)" in result.output
    inv = inventory(root)
    assert not inv.units and not inv.adapters
    for kept in ("notes.txt", f"{KEY[:2]}/readme.txt", "adapters/keep.txt", f"zz/{KEY}.json"):
        assert (root / kept).is_file(), kept
    assert (tmp_path / "outside" / f"{KEY}.json").read_text() == "precious"


def test_cache_clear_yes_and_a_directory_the_cache_never_wrote(tmp_path):
    root = tmp_path / "c"
    _populated(root)
    assert _clear(root, "--yes").exit_code == 0 and not inventory(root).ours()
    home = tmp_path / "home"
    home.mkdir()
    (home / "thesis.tex").write_text("years of work")
    result = _clear(home, "--yes")
    assert result.exit_code == 0 and (home / "thesis.tex").read_text() == "years of work"
    assert "0 evidence unit(s)" in result.output and "1 other file(s)" in result.output
    empty = tmp_path / "empty"
    EvidenceCache(empty).put(KEY, VALUE)
    assert _clear(empty, "-y").exit_code == 0 and not empty.exists()  # only its own files: the dir goes too
