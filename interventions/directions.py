"""Steering directions made elsewhere (``direction.source: file``): read, pick each layer's vector, check, record.

Formats, by suffix (``SUFFIXES``):
    ``.safetensors``; ``.pt`` / ``.pth`` (a tensor, a dict of tensors or numpy arrays, or a dict with a
    ``layer_activations`` dict — what a steering-vectors ``SteeringVector`` holds); ``.npy`` (one array,
    [hidden] or [n_layers, hidden]); ``.npz`` (named arrays); ``.gguf`` (a repeng / llama.cpp control
    vector: tensors ``direction.<layer>``).

Layers
    A key names layer 12 when it is the int 12 or the string ``12``, ``layers.12``, ``direction.12`` or
    ``model.layers.12``; negative ints count from the end when the model's layer count is known. Layer
    L is the output of decoder layer L (the residual stream after it): what steering-vectors'
    ``decoder_block`` layers and repeng's control vectors steer. A file's only tensor that names no layer
    serves every steered layer ([hidden]) or is indexed by layer ([n_layers, hidden]); ``direction.key``
    picks one tensor explicitly.

Safety: ``torch.load(weights_only=True)`` (numpy arrays of plain numeric dtypes allowed, nothing else),
numpy with ``allow_pickle=False``; safetensors and GGUF hold no code. Torch is imported lazily.
"""

from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Optional

SUFFIXES = {".safetensors": "safetensors", ".pt": "torch", ".pth": "torch", ".npy": "numpy", ".npz": "npz",
            ".gguf": "repeng-gguf"}
LAYER_KEY = re.compile(r"^(?:model\.layers\.|layers\.|direction\.)?(-?\d+)$")
GGUF_ARCH = "controlvector"


class DirectionFileError(ValueError):
    """A direction file that cannot be used: one line naming the file, what was found and a hint."""

    def __init__(self, path, message: str, hint: str = ""):
        super().__init__(f"direction file {path}: {message}" + (f" ({hint})" if hint else ""))


class DirectionKeyError(DirectionFileError, KeyError):
    """No tensor for the requested key or layer."""

    __str__ = DirectionFileError.__str__


@dataclass(frozen=True)
class FileDirections:
    """Unit directions per layer and where they came from (``source``: the evidence's provenance)."""

    vectors: dict  # {layer: torch.Tensor [H], unit}
    source: dict


@dataclass
class _Raw:
    format: str
    tensors: dict  # {key as stored: tensor or array}
    producer: Optional[str] = None
    meta: Optional[dict] = None


def suffix_problem(path: str) -> Optional[str]:
    """Why ``path`` is not a direction file by its suffix (None when it is)."""
    suffix = Path(path).suffix.lower()
    if suffix in SUFFIXES:
        return None
    return (f"a direction file must be {', '.join(SUFFIXES)} (got '{suffix or path}'); "
            "save a vector with numpy.save('direction.npy', v) or safetensors")


def key_layer(key, n_layers: Optional[int] = None) -> Optional[int]:
    """The layer a key names (12, '12', 'layers.12', 'direction.12', 'model.layers.12'), or None."""
    if isinstance(key, bool):
        return None
    if isinstance(key, int):
        layer = key
    else:
        m = LAYER_KEY.match(str(key))
        if not m:
            return None
        layer = int(m.group(1))
    return layer + n_layers if layer < 0 and n_layers else layer


def sha256_of(path: Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()


# --------------------------------------------------------------------------- readers (one per format)

def _read_safetensors(path: Path) -> _Raw:
    from safetensors.torch import load_file

    return _Raw("safetensors", load_file(str(path)))


def _numpy_safe_globals() -> list:
    import numpy as np

    reconstruct = getattr(getattr(np, "_core", np.core), "multiarray")._reconstruct
    dtypes = [getattr(np.dtypes, n) for n in ("Float16DType", "Float32DType", "Float64DType") if hasattr(np.dtypes, n)]
    return [reconstruct, np.ndarray, np.dtype, *dtypes]


def _read_torch(path: Path) -> _Raw:
    import pickle

    import torch

    try:
        with torch.serialization.safe_globals(_numpy_safe_globals()):
            obj = torch.load(str(path), map_location="cpu", weights_only=True)
    except pickle.UnpicklingError as exc:
        found = re.search(r"GLOBAL (\S+)", str(exc))
        what = found.group(1) if found else "object"
        raise DirectionFileError(path, f"holds a pickled {what} that safe loading (weights_only) refuses",
                                 "save plain tensors instead: torch.save(sv.layer_activations, path) for a "
                                 "steering-vectors SteeringVector, cv.directions for a repeng ControlVector") from None
    if hasattr(obj, "shape"):
        return _Raw("torch", {"direction": obj})
    if not isinstance(obj, dict):
        raise DirectionFileError(path, f"holds a {type(obj).__name__}", "expected a tensor or a dict of tensors")
    if isinstance(obj.get("layer_activations"), dict):
        layer_type = obj.get("layer_type", "decoder_block")
        if layer_type != "decoder_block":
            raise DirectionFileError(path, f"steering vector of layer_type '{layer_type}'",
                                     "only decoder_block vectors (added to a layer's output) are supported")
        return _Raw("torch", obj["layer_activations"], producer="steering-vectors", meta={"layer_type": layer_type})
    return _Raw("torch", obj)


def _read_numpy(path: Path) -> _Raw:
    import numpy as np

    return _Raw("numpy", {"array": np.load(str(path), allow_pickle=False)})


def _read_npz(path: Path) -> _Raw:
    import numpy as np

    with np.load(str(path), allow_pickle=False) as z:
        return _Raw("npz", {name: z[name] for name in z.files})


def _read_gguf(path: Path) -> _Raw:
    from gguf import GGUFReader

    reader = GGUFReader(str(path))
    arch, hint = _gguf_string(reader, "general.architecture"), _gguf_string(reader, f"{GGUF_ARCH}.model_hint")
    if arch is not None and arch != GGUF_ARCH:
        raise DirectionFileError(path, f"is a GGUF file of architecture '{arch}', not a control vector",
                                 f"expected general.architecture '{GGUF_ARCH}' (repeng ControlVector.export_gguf)")
    tensors = {t.name: t.data for t in reader.tensors if t.name.startswith("direction.")}
    if not tensors:
        raise DirectionFileError(path, f"no 'direction.<layer>' tensors; tensors: {[t.name for t in reader.tensors]}",
                                 "expected a repeng control vector")
    return _Raw("repeng-gguf", tensors, producer="repeng", meta={"model_hint": hint})


def _gguf_string(reader, name: str) -> Optional[str]:
    field = reader.get_field(name)
    return bytes(field.parts[-1]).decode("utf-8", errors="replace") if field is not None and field.parts else None


READERS = {"safetensors": _read_safetensors, "torch": _read_torch, "numpy": _read_numpy, "npz": _read_npz,
           "repeng-gguf": _read_gguf}


def read_raw(path: Path) -> _Raw:
    """The file's tensors by format (errors name the file; nothing is unpickled)."""
    problem = suffix_problem(str(path))
    if problem:
        raise DirectionFileError(path, problem)
    if not path.is_file():
        raise DirectionFileError(path, "not found", "the path is relative to the claim file")
    fmt = SUFFIXES[path.suffix.lower()]
    try:
        raw = READERS[fmt](path)
    except DirectionFileError:
        raise
    except Exception as exc:  # a corrupt or mislabelled file: one line, never a traceback
        first = (str(exc).strip().splitlines() or [""])[0]
        raise DirectionFileError(path, f"cannot be read as {fmt}: {type(exc).__name__}: {first}",
                                 f"is the suffix {path.suffix} right?") from None
    raw.tensors = {k: v for k, v in raw.tensors.items() if hasattr(v, "shape")}
    if not raw.tensors:
        raise DirectionFileError(path, "holds no tensors or arrays", "expected [hidden] or [n_layers, hidden] vectors")
    return raw


# --------------------------------------------------------------------------- picking and checking

def _keys(tensors: dict) -> list:
    return sorted(tensors, key=lambda k: (key_layer(k) is None, key_layer(k) or 0, str(k)))


def _find_key(path, tensors: dict, key: str, n_layers: Optional[int]):
    """The stored key matching ``key`` literally, or naming the same layer."""
    for k in tensors:
        if str(k) == key:
            return k
    want = key_layer(key, n_layers)
    same = [k for k in tensors if want is not None and key_layer(k, n_layers) == want]
    if len(same) == 1:
        return same[0]
    raise DirectionKeyError(path, f"no tensor '{key}'; keys: {_keys(tensors)}", "set direction.key to one of them, "
                            "or leave it out to use the tensor naming each steered layer")


def _layer_key(path, tensors: dict, layer: int, n_layers: Optional[int]):
    """The stored key of ``layer``'s vector when no direction.key is set."""
    named = {k: key_layer(k, n_layers) for k in tensors if key_layer(k, n_layers) is not None}
    hits = [k for k, v in named.items() if v == layer]
    if len(hits) > 1:
        raise DirectionKeyError(path, f"several tensors {hits} name layer {layer}", "set direction.key to one of them")
    if hits:
        return hits[0]
    if len(tensors) == 1 and not named:
        return next(iter(tensors))
    expected = f"expected a key {layer}, '{layer}', 'layers.{layer}', 'direction.{layer}' or 'model.layers.{layer}'"
    if named:
        raise DirectionKeyError(path, f"no direction for layer {layer}; the file has layers "
                                f"{sorted(set(named.values()))} (keys {_keys(tensors)}); {expected}",
                                "steer a layer the file has, or set direction.key to use one tensor at every layer")
    raise DirectionKeyError(path, f"several tensors {_keys(tensors)} and none names layer {layer}; {expected}",
                            "set direction.key")


def as_float(path, value):
    import numpy as np
    import torch

    if isinstance(value, torch.Tensor):
        if not (value.is_floating_point() or value.dtype in (torch.int32, torch.int64)):
            raise DirectionFileError(path, f"tensor of dtype {value.dtype}", "expected floating-point values")
        return value.detach().to("cpu", torch.float32)
    arr = np.asarray(value)
    if arr.dtype.kind not in "fiu":
        raise DirectionFileError(path, f"array of dtype {arr.dtype}", "expected floating-point values")
    return torch.from_numpy(np.array(arr, dtype=np.float32))


def _row(path, t, stored_key, layer: int, hidden: int, n_layers: Optional[int]):
    """([hidden] vector, key label) of ``layer`` from a stored [hidden] or [n_layers, hidden] tensor."""
    label = str(stored_key)
    if t.dim() == 2 and key_layer(stored_key, n_layers) is None:
        rows = t.shape[0]
        if n_layers is not None and rows != n_layers:
            hint = ("row 0 looks like the embeddings (hidden states): drop it, row i+1 is layer i's output"
                    if rows == n_layers + 1 else f"expected [n_layers={n_layers}, hidden={hidden}] or [hidden]")
            raise DirectionFileError(path, f"'{label}' has shape {tuple(t.shape)}: {rows} rows but the model has "
                                     f"{n_layers} layers", hint)
        if not 0 <= layer < rows:
            raise DirectionFileError(path, f"'{label}' has {rows} rows, no row for layer {layer}",
                                     "expected one row per layer")
        t, label = t[layer], f"{label}[{layer}]"
    if tuple(t.shape) != (hidden,):
        raise DirectionFileError(path, f"direction for layer {layer} ('{label}') has shape {tuple(t.shape)}, the "
                                 f"model's hidden size is {hidden}", f"expected [{hidden}]"
                                 + ("" if key_layer(stored_key, n_layers) is not None else f" or [n_layers, {hidden}]"))
    return t, label


def _checked_norm(path, t, layer: int, label: str) -> float:
    import torch

    if not bool(torch.isfinite(t).all()):
        raise DirectionFileError(path, f"direction for layer {layer} ('{label}') has NaN or inf values",
                                 "re-export the vector")
    norm = float(t.double().norm())
    if norm == 0.0:
        raise DirectionFileError(path, f"direction for layer {layer} ('{label}') is the zero vector",
                                 "a zero vector has no direction")
    return norm


def read_direction_file(path: Path, key: Optional[str], layers: list[int], hidden: int,
                        n_layers: Optional[int] = None) -> FileDirections:
    """Unit directions for ``layers`` from ``path`` (see the module docstring) and their provenance."""
    path = Path(path)
    raw = read_raw(path)
    vectors, keys, norms = {}, {}, {}
    for layer in layers:
        stored = _find_key(path, raw.tensors, key, n_layers) if key is not None else \
            _layer_key(path, raw.tensors, layer, n_layers)
        t, label = _row(path, as_float(path, raw.tensors[stored]), stored, layer, hidden, n_layers)
        norm = _checked_norm(path, t, layer, label)
        vectors[layer], keys[str(layer)], norms[str(layer)] = t / norm, label, norm
    source = {"source": "file", "file": path.name, "sha256": sha256_of(path), "format": raw.format,
              "producer": raw.producer, "layers": list(layers), "key_per_layer": keys, "norm_per_layer": norms,
              "hidden": hidden, **(raw.meta or {})}
    return FileDirections(vectors, source)
