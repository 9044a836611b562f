"""The project's settings: ``[tool.mi-audit]`` in the nearest ``pyproject.toml`` (cwd upwards).

    [tool.mi-audit]
    work_dir = "audit-out"       # where `audit run` writes its ledger and report (not the published one)
    published_dir = "reports"    # what `audit publish` updates, and what `audit gate` checks
    [tool.mi-audit.gate]
    pending = "fail"             # "allow": claims whose weights are not on this machine pass the gate
                                 # as pending (shown as pending, never as supported); "fail": exit 7

Without a ``pyproject.toml`` (or without the table) the defaults above hold. Pure: no torch.
"""

from __future__ import annotations

import tomllib
from dataclasses import dataclass
from pathlib import Path

PENDING_POLICIES = ("allow", "fail")


class ProjectConfigError(ValueError):
    """A ``[tool.mi-audit]`` table that cannot be used (one line: file, key, what was expected)."""


@dataclass(frozen=True)
class Project:
    work_dir: Path = Path("audit-out")
    published_dir: Path = Path("reports")
    pending: str = "fail"
    source: str = ""  # "pyproject.toml [tool.mi-audit]" when read from a file, "" for the defaults

    def policy(self) -> dict:
        """The gate policy as the gate result states it."""
        return {"pending": self.pending, "source": self.source or "default"}


def find_pyproject(start: Path | None = None) -> Path | None:
    here = (start or Path.cwd()).resolve()
    for d in (here, *here.parents):
        if (d / "pyproject.toml").is_file():
            return d / "pyproject.toml"
    return None


def load(start: Path | None = None) -> Project:
    """The settings of the project around ``start`` (default: the working directory)."""
    path = find_pyproject(start)
    if path is None:
        return Project()
    try:
        data = tomllib.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, tomllib.TOMLDecodeError) as exc:
        raise ProjectConfigError(f"{path}: cannot be read as TOML ({exc})") from None
    table = (data.get("tool") or {}).get("mi-audit")
    if table is None:
        return Project()
    if not isinstance(table, dict):
        raise ProjectConfigError(f"{path}: [tool.mi-audit] must be a table")
    known = {"work_dir", "published_dir", "gate"}
    unknown = sorted(set(table) - known)
    if unknown:
        raise ProjectConfigError(f"{path}: [tool.mi-audit] has unknown key(s) {', '.join(unknown)}; "
                                 f"known: {', '.join(sorted(known))}")
    gate = table.get("gate") or {}
    if not isinstance(gate, dict) or set(gate) - {"pending"}:
        raise ProjectConfigError(f"{path}: [tool.mi-audit.gate] takes only pending = \"allow\" | \"fail\"")
    pending = gate.get("pending", "fail")
    if pending not in PENDING_POLICIES:
        raise ProjectConfigError(f"{path}: [tool.mi-audit.gate] pending = {pending!r}; expected \"allow\" or \"fail\"")
    dirs = {}
    for key in ("work_dir", "published_dir"):
        value = table.get(key, getattr(Project, key))
        if not isinstance(value, (str, Path)) or not str(value).strip():
            raise ProjectConfigError(f"{path}: [tool.mi-audit] {key} must be a non-empty path string")
        value = Path(value)
        dirs[key] = value if value.is_absolute() else path.parent / value
    return Project(dirs["work_dir"], dirs["published_dir"], pending, f"{path.name} [tool.mi-audit]")
