"""``kind: layer_scaling`` (the one-folder worked example) on tiny models with planted truths:
factor 0 is exactly the skip ablation; halving a hub whose write dominates the residual changes
almost nothing (the final norm divides the scale out), so that dose's hub claim is refuted; on a
model whose layers write nothing every dose ties, and the claim is inconclusive."""

import pytest

from audit.cache import EvidenceCache
from audit.errors import ClaimFileError
from audit.runner import RunOptions, run_claim
from audit.schema import load_claim
from tests.conftest import write_claim


def scaling_claim(path, model, factor, **kw):
    write_claim(path, model=str(model), **kw)
    text = path.read_text().replace("kind: layer_ablation\n  method: skip", f"kind: layer_scaling\n  factor: {factor}")
    path.write_text(text)
    return load_claim(path)


def run(lc, tmp_path, tag):
    return run_claim(lc, RunOptions(evidence_cache=EvidenceCache(tmp_path / f"cache-{tag}"), batch_size=4))


@pytest.mark.parametrize("arch", ["llama", "qwen2", "gemma3", "lfm2"])
def test_factor_zero_is_exactly_the_skip_ablation(tmp_path, tiny_dir, arch):
    model = tiny_dir(f"scale_{arch}", arch, hub=2)
    skip = run(load_claim(write_claim(tmp_path / "skip.yaml", model=str(model))), tmp_path, "skip")
    zero = run(scaling_claim(tmp_path / "zero.yaml", model, 0.0), tmp_path, "zero")
    assert zero["evidence"]["per_prompt"] == skip["evidence"]["per_prompt"]
    assert zero["verdict"] == skip["verdict"] == "supported", zero["reasons"]
    assert zero["evidence"]["method"] == "scale x0"


def test_halving_a_hub_that_dominates_the_residual_is_invisible_through_the_norm(tmp_path, tiny_dir):
    # the planted hub's write is almost all of the residual stream, and the final RMSNorm divides
    # its scale out: half of it points the same way, so the dose-0.5 hub claim must be refuted
    # while removing it (dose 0) is the hub
    model = tiny_dir("scale_hub", "llama", hub=2)
    zero = run(scaling_claim(tmp_path / "zero.yaml", model, 0.0), tmp_path, "a")
    half = run(scaling_claim(tmp_path / "half.yaml", model, 0.5, expect="refuted"), tmp_path, "b")
    assert zero["verdict"] == "supported" and half["verdict"] == "refuted", half["reasons"]
    hub = lambda rec: [v[2] for v in rec["evidence"]["per_prompt"]["kl"].values()]  # noqa: E731
    assert all(h < 0.01 * z for h, z in zip(hub(half), hub(zero)))


def test_layers_that_write_nothing_tie_at_every_dose_so_the_claim_is_inconclusive(tmp_path, tiny_dir):
    model = tiny_dir("scale_silent", "llama", silent=True)
    rec = run(scaling_claim(tmp_path / "silent.yaml", model, 0.5, expect="inconclusive"), tmp_path, "n")
    assert rec["verdict"] == "inconclusive", rec["reasons"]


def test_factor_one_changes_nothing_and_is_refused_with_its_position(tmp_path, tiny_dir):
    with pytest.raises(ClaimFileError) as err:
        scaling_claim(tmp_path / "one.yaml", tiny_dir("scale_hub", "llama", hub=2), 1.0)
    assert "one.yaml:" in str(err.value) and "factor" in str(err.value)
