"""Provenance: hashes, package versions and machine facts recorded with every result."""

from __future__ import annotations

import hashlib
import os
import platform
import subprocess
from importlib import metadata
from pathlib import Path

PACKAGES = ("mi-audit", "torch", "transformers", "peft", "bitsandbytes", "pydantic", "gguf", "numpy")


def sha256_file(path: str | Path, chunk: int = 1 << 20) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as f:
        while block := f.read(chunk):
            h.update(block)
    return h.hexdigest()


def sha256_files(paths: list[Path]) -> str:
    """One digest over several files (sorted by name): a checkpoint split into shards."""
    h = hashlib.sha256()
    for p in sorted(paths):
        h.update(p.name.encode())
        h.update(sha256_file(p).encode())
    return h.hexdigest()


def sha256_text(text: str) -> str:
    return hashlib.sha256(text.encode()).hexdigest()


def package_versions() -> dict[str, str]:
    out = {}
    for name in PACKAGES:
        try:
            out[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            out[name] = "absent"
    return out


def machine() -> dict:
    facts = {"python": platform.python_version(), "platform": platform.platform(),
             "processor": platform.machine(), "cpu_count": os.cpu_count(), **_cpu_and_ram()}
    try:
        import torch

        facts["torch_threads"] = torch.get_num_threads()
        facts["cuda"] = torch.cuda.is_available()
    except ImportError:  # provenance must never be what fails a run
        pass
    return facts


def _cpu_and_ram() -> dict:
    """CPU model name (Linux /proc/cpuinfo: psutil does not report it) and total RAM (psutil)."""
    import psutil

    facts = {"ram_gb": round(psutil.virtual_memory().total / 2**30, 1)}
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                facts["cpu_model"] = line.split(":", 1)[1].strip()
                break
    except (OSError, ValueError, IndexError):
        pass
    return facts


def code_commit(start: Path) -> str:
    """The git commit of the project checkout, or 'unknown' outside git."""
    try:
        out = subprocess.run(["git", "-C", str(start), "rev-parse", "HEAD"], capture_output=True, text=True, timeout=5)
        return out.stdout.strip() or "unknown"
    except (OSError, subprocess.SubprocessError):
        return "unknown"
