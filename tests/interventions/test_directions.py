"""Directions made elsewhere (interventions/directions.py): every accepted format gives back the planted
unit direction for layers [1, 3] (hidden 8), layer keys in every spelling resolve, every bad file fails
with one line naming what was found and expected, the provenance is right, and a steering claim with a
.npy direction runs and records it."""

import hashlib
from dataclasses import dataclass

import numpy as np
import pytest
import torch
from pydantic import ValidationError

from audit.cache import EvidenceCache
from audit.errors import ClaimFileError
from audit.runner import RunOptions, run_claim
from audit.schema import load_claim
from interventions.directions import DirectionFileError, read_direction_file
from interventions.steering import FileDirection, load_direction_file
from tests.interventions.conftest import steering_claim

HIDDEN, N_LAYERS, LAYERS = 8, 4, [1, 3]
G = torch.Generator().manual_seed(0)
PLANTED = {1: torch.randn(HIDDEN, generator=G), 3: torch.randn(HIDDEN, generator=G)}
SCALE = {1: 2.0, 3: 5.0}  # stored vectors are planted * scale: the recorded norm must be the stored one


def stored(layer: int) -> torch.Tensor:
    return PLANTED[layer] * SCALE[layer]


@dataclass
class SteeringVector:  # pickled as a class: safe loading must refuse it
    layer_activations: dict
    layer_type: str = "decoder_block"


def _save_gguf(path, tensors: dict, arch: str = "controlvector"):
    import gguf

    w = gguf.GGUFWriter(str(path), arch)
    w.add_string(f"{arch}.model_hint", "llama")
    w.add_uint32(f"{arch}.layer_count", len(tensors))
    for name, v in tensors.items():
        w.add_tensor(name, np.asarray(v, dtype=np.float32))
    w.write_header_to_file()
    w.write_kv_data_to_file()
    w.write_tensors_to_file()
    w.close()


def _stack() -> np.ndarray:
    rows = np.random.default_rng(1).normal(size=(N_LAYERS, HIDDEN)).astype(np.float32)
    for layer in LAYERS:
        rows[layer] = stored(layer).numpy()
    return rows


def _write(fmt: str, path):
    from safetensors.torch import save_file

    per = {layer: stored(layer) for layer in LAYERS}
    if fmt == "safetensors":
        save_file({f"layers.{k}": v for k, v in per.items()}, str(path))
    elif fmt == "torch-int":  # steering-vectors layer_activations
        torch.save(per, path)
    elif fmt == "torch-layer-activations":
        torch.save({"layer_activations": per, "layer_type": "decoder_block"}, path)
    elif fmt == "torch-numpy":  # repeng directions
        torch.save({k: v.numpy() for k, v in per.items()}, path)
    elif fmt == "torch-model-layers":
        torch.save({f"model.layers.{k}": v for k, v in per.items()}, path)
    elif fmt == "numpy":
        np.save(path, _stack())
    elif fmt == "npz":
        np.savez(path, **{"1": per[1].numpy(), "direction.3": per[3].numpy()})
    elif fmt == "repeng-gguf":
        _save_gguf(path, {f"direction.{k}": v.numpy() for k, v in per.items()})
    return path


CASES = [("safetensors", "d.safetensors", "safetensors", {"1": "layers.1", "3": "layers.3"}),
         ("torch-int", "d.pt", "torch", {"1": "1", "3": "3"}),
         ("torch-layer-activations", "d.pt", "torch", {"1": "1", "3": "3"}),
         ("torch-numpy", "d.pth", "torch", {"1": "1", "3": "3"}),
         ("torch-model-layers", "d.pt", "torch", {"1": "model.layers.1", "3": "model.layers.3"}),
         ("numpy", "d.npy", "numpy", {"1": "array[1]", "3": "array[3]"}),
         ("npz", "d.npz", "npz", {"1": "1", "3": "direction.3"}),
         ("repeng-gguf", "d.gguf", "repeng-gguf", {"1": "direction.1", "3": "direction.3"})]


@pytest.mark.parametrize("writer,name,fmt,keys", CASES, ids=[c[0] for c in CASES])
def test_each_format_gives_the_planted_direction_and_its_provenance(tmp_path, writer, name, fmt, keys):
    path = _write(writer, tmp_path / name)
    got = read_direction_file(path, None, LAYERS, HIDDEN, N_LAYERS)
    for layer in LAYERS:
        v = got.vectors[layer]
        assert v.norm().item() == pytest.approx(1.0, abs=1e-6)
        assert torch.nn.functional.cosine_similarity(v, PLANTED[layer], dim=0).item() > 0.9999
    src = got.source
    assert src["source"] == "file" and src["file"] == name and src["format"] == fmt
    assert src["sha256"] == hashlib.sha256(path.read_bytes()).hexdigest()
    assert src["layers"] == LAYERS and src["key_per_layer"] == keys
    for layer in LAYERS:
        assert src["norm_per_layer"][str(layer)] == pytest.approx(stored(layer).norm().item(), rel=1e-5)
    assert src["producer"] == {"torch-layer-activations": "steering-vectors", "repeng-gguf": "repeng"}.get(writer)


def test_one_vector_serves_every_layer_and_keys_name_layers_in_every_spelling(tmp_path):
    np.save(tmp_path / "one.npy", stored(1).numpy())
    dirs = load_direction_file(tmp_path / "one.npy", None, LAYERS, HIDDEN, N_LAYERS)
    assert all(torch.allclose(dirs[layer], PLANTED[1] / PLANTED[1].norm(), atol=1e-6) for layer in LAYERS)
    torch.save({-1: stored(3), 1: stored(1)}, tmp_path / "neg.pt")  # -1 is the last of 4 layers
    dirs = load_direction_file(tmp_path / "neg.pt", None, LAYERS, HIDDEN, N_LAYERS)
    assert torch.allclose(dirs[3], PLANTED[3] / PLANTED[3].norm(), atol=1e-6)
    # an explicit key in another spelling of a layer key still finds it, and is used at every layer
    torch.save({8: stored(1), 12: stored(3)}, tmp_path / "sv.pt")
    got = read_direction_file(tmp_path / "sv.pt", "layers.12", LAYERS, HIDDEN, N_LAYERS)
    assert got.source["key_per_layer"] == {"1": "12", "3": "12"}
    assert torch.allclose(got.vectors[1], PLANTED[3] / PLANTED[3].norm(), atol=1e-6)


def _error(tmp_path, name, write, layers=LAYERS, key=None, exc=DirectionFileError) -> str:
    path = tmp_path / name
    write(path)
    with pytest.raises(exc) as err:
        read_direction_file(path, key, layers, HIDDEN, N_LAYERS)
    msg = str(err.value)
    assert "\n" not in msg and str(path) in msg
    return msg


def test_every_bad_file_fails_with_one_line_saying_what_was_found_and_expected(tmp_path):
    from safetensors.torch import save_file

    msg = _error(tmp_path, "miss.pt", lambda p: torch.save({1: stored(1), 8: stored(3)}, p), exc=KeyError)
    assert "no direction for layer 3; the file has layers [1, 8]" in msg and "'layers.3'" in msg
    msg = _error(tmp_path, "other.safetensors", lambda p: save_file({"layers.8": stored(1)}, str(p)), layers=[1])
    assert "no direction for layer 1; the file has layers [8]" in msg and "direction.key" in msg
    two = {"a": stored(1), "b": stored(3)}
    msg = _error(tmp_path, "key.pt", lambda p: torch.save(two, p), key="nope", exc=KeyError)
    assert "no tensor 'nope'; keys: ['a', 'b']" in msg
    msg = _error(tmp_path, "several.pt", lambda p: torch.save(two, p))
    assert "several tensors ['a', 'b'] and none names layer 1" in msg and "set direction.key" in msg
    msg = _error(tmp_path, "wide.npy", lambda p: np.save(p, np.ones(16, dtype=np.float32)))
    assert "has shape (16,), the model's hidden size is 8" in msg and "expected [8] or [n_layers, 8]" in msg
    msg = _error(tmp_path, "zero.npz", lambda p: np.savez(p, **{"1": np.zeros(8), "3": np.ones(8)}))
    assert "direction for layer 1 ('1') is the zero vector" in msg
    msg = _error(tmp_path, "nan.pt", lambda p: torch.save({1: stored(1), 3: torch.full((8,), float("nan"))}, p))
    assert "direction for layer 3 ('3') has NaN or inf values" in msg
    msg = _error(tmp_path, "inf.gguf", lambda p: _save_gguf(p, {"direction.1": np.full(8, np.inf),
                                                                "direction.3": np.ones(8)}))
    assert "has NaN or inf values" in msg
    msg = _error(tmp_path, "rows.npy", lambda p: np.save(p, np.ones((5, 8), dtype=np.float32)))
    assert "'array' has shape (5, 8): 5 rows but the model has 4 layers" in msg and "drop it" in msg
    msg = _error(tmp_path, "rows3.npy", lambda p: np.save(p, np.ones((3, 8), dtype=np.float32)))
    assert "3 rows but the model has 4 layers" in msg and "expected [n_layers=4, hidden=8] or [hidden]" in msg


def test_unsafe_unknown_or_foreign_files_are_refused_with_a_hint(tmp_path):
    msg = _error(tmp_path, "obj.pt", lambda p: torch.save(SteeringVector({1: stored(1)}), p))
    assert "pickled" in msg and "SteeringVector" in msg and "torch.save(sv.layer_activations" in msg
    mlp = {"layer_activations": {1: stored(1)}, "layer_type": "mlp"}
    msg = _error(tmp_path, "mlp.pt", lambda p: torch.save(mlp, p))
    assert "layer_type 'mlp'" in msg and "decoder_block" in msg
    msg = _error(tmp_path, "objs.npy", lambda p: np.save(p, np.array([{"a": 1}], dtype=object), allow_pickle=True))
    assert "cannot be read as numpy" in msg
    msg = _error(tmp_path, "model.gguf", lambda p: _save_gguf(p, {"direction.1": np.ones(8)}, arch="llama"))
    assert "architecture 'llama', not a control vector" in msg
    msg = _error(tmp_path, "junk.safetensors", lambda p: p.write_bytes(b"not a safetensors file"))
    assert "cannot be read as safetensors" in msg
    msg = _error(tmp_path, "d.txt", lambda p: p.write_text("1 2 3"))
    assert "must be .safetensors, .pt, .pth, .npy, .npz, .gguf (got '.txt')" in msg
    with pytest.raises(ValidationError, match=r"must be .safetensors, .pt, .pth, .npy, .npz, .gguf \(got '.txt'\)"):
        FileDirection(source="file", path="d.txt")
    assert FileDirection(source="file", path="v.GGUF").path == "v.GGUF"


def test_an_unknown_suffix_fails_audit_check_with_its_position(tmp_path, planted_steering):
    model, suite = planted_steering("linear")
    claim = steering_claim(tmp_path / "txt.yaml", model=model, suite=suite, direction="{source: file, path: d.csv}")
    with pytest.raises(ClaimFileError) as err:
        load_claim(claim)
    assert "txt.yaml:" in str(err.value) and "got '.csv'" in str(err.value) and "numpy.save" in str(err.value)


def test_a_steering_claim_with_a_npy_direction_runs_and_records_its_source(tmp_path, planted_steering):
    from tests.interventions.conftest import _basis

    model, suite = planted_steering("linear")
    np.save(tmp_path / "u.npy", 3.0 * _basis(32, 4, seed=5)[0].numpy())
    claim = steering_claim(tmp_path / "npy.yaml", model=model, suite=suite, n=19, seeds=(1,), prompts=2,
                           direction="{source: file, path: u.npy}",
                           controls="random_vector: {n: 19}\n  waive: {shuffled_label: 'a file has no labels'}")
    rec = run_claim(load_claim(claim), RunOptions(evidence_cache=EvidenceCache(tmp_path / "cache")))
    assert rec["verdict"] != "errored", rec.get("reasons")
    src = rec["evidence"]["direction_source"]
    assert src["file"] == "u.npy" and src["format"] == "numpy" and src["layers"] == [0]
    assert src["sha256"] == hashlib.sha256((tmp_path / "u.npy").read_bytes()).hexdigest()
    assert src["key_per_layer"] == {"0": "array"} and src["norm_per_layer"]["0"] == pytest.approx(3.0, rel=1e-5)


def test_a_bad_direction_file_errors_the_claim_with_its_one_line_reason(tmp_path, planted_steering):
    model, suite = planted_steering("linear")
    np.save(tmp_path / "wide.npy", np.ones(64, dtype=np.float32))
    claim = steering_claim(tmp_path / "wide.yaml", model=model, suite=suite, n=19, seeds=(1,), prompts=2,
                           direction="{source: file, path: wide.npy}",
                           controls="random_vector: {n: 19}\n  waive: {shuffled_label: 'a file has no labels'}")
    rec = run_claim(load_claim(claim), RunOptions(evidence_cache=EvidenceCache(tmp_path / "cache")))
    assert rec["verdict"] == "errored"
    assert "the model's hidden size is 32" in str(rec.get("reasons") or rec.get("error"))
