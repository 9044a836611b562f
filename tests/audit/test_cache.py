"""Evidence cache: units computed once, shared across claims and seeds, errors never cached."""

from audit.cache import EvidenceCache, clear, unit_key
from audit.runner import RunOptions, run_claim
from audit.schema import load_claim
from tests.conftest import write_claim


def test_unit_key_depends_on_every_part():
    base = dict(model="a", spec={"method": "skip"}, ids=(1, 2))
    assert unit_key(**base) == unit_key(**dict(base))
    assert unit_key(**base) != unit_key(**{**base, "ids": (1, 3)})
    assert unit_key(**base) != unit_key(**{**base, "model": "b"})


def test_second_run_is_served_from_cache_without_loading_weights(tmp_path, tiny_dir):
    model = tiny_dir("cache_llama", "llama", hub=1)
    claim = load_claim(write_claim(tmp_path / "c.yaml", model=model, layer=1))
    cache = EvidenceCache(tmp_path / "cache")
    first = run_claim(claim, RunOptions(evidence_cache=cache))
    assert cache.writes > 0 and cache.hits == 0
    writes = cache.writes
    second = run_claim(claim, RunOptions(evidence_cache=cache))
    assert cache.writes == writes  # nothing recomputed
    assert second["evidence"]["n_prompts"]["computed"] == 0
    assert first["provenance"]["weights_loaded"] and not second["provenance"]["weights_loaded"]
    assert second["evidence"]["effects"] == first["evidence"]["effects"]
    assert second["verdict"] == first["verdict"] == "supported"


def test_claims_sharing_prompts_share_units(tmp_path, tiny_dir):
    model = tiny_dir("cache_llama", "llama", hub=1)
    cache = EvidenceCache(tmp_path / "cache")
    run_claim(load_claim(write_claim(tmp_path / "a.yaml", model=model, layer=1, seeds=(1, 2))),
              RunOptions(evidence_cache=cache))
    rec = run_claim(load_claim(write_claim(tmp_path / "b.yaml", model=model, layer=2, seeds=(2, 3))),
                    RunOptions(evidence_cache=cache))
    assert rec["evidence"]["n_prompts"]["from_cache"] > 0


def test_disabled_cache_recomputes(tmp_path, tiny_dir):
    model = tiny_dir("cache_llama", "llama", hub=1)
    claim = load_claim(write_claim(tmp_path / "c.yaml", model=model, layer=1))
    cache = EvidenceCache(tmp_path / "cache", enabled=False)
    run_claim(claim, RunOptions(evidence_cache=cache))
    rec = run_claim(claim, RunOptions(evidence_cache=cache))
    assert rec["evidence"]["n_prompts"]["from_cache"] == 0 and cache.writes == 0


def test_errored_runs_write_nothing(tmp_path):
    claim = load_claim(write_claim(tmp_path / "c.yaml", model=str(tmp_path / "missing_model"), layer=1))
    cache = EvidenceCache(tmp_path / "cache")
    rec = run_claim(claim, RunOptions(evidence_cache=cache))
    assert rec["verdict"] == "errored" and cache.writes == 0


def test_clear_removes_units(tmp_path):
    cache = EvidenceCache(tmp_path / "cache")
    cache.put(unit_key(x=1), {"v": 1})
    assert clear(tmp_path / "cache") == 1 and cache.get(unit_key(x=1)) is None
