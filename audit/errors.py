"""User-facing errors: every problem names a file, a line, what was expected and a hint."""

from __future__ import annotations

import difflib
from dataclasses import dataclass
from pathlib import Path


@dataclass(frozen=True)
class Problem:
    """One thing wrong with an input file, positioned for a human."""

    file: str
    line: int | None
    column: int | None
    message: str
    where: str = ""
    hint: str = ""

    def __str__(self) -> str:
        pos = self.file
        if self.line is not None:
            pos += f":{self.line}"
            if self.column is not None:
                pos += f":{self.column}"
        where = f" {self.where}:" if self.where else ""
        hint = f" ({self.hint})" if self.hint else ""
        return f"{pos}:{where} {self.message}{hint}"


MAX_PROBLEMS = 20  # problems shown per file; the rest are counted in one closing line


class ClaimFileError(Exception):
    """A claim (or suite) file is invalid; carries every problem found, not just the first (at most
    MAX_PROBLEMS, then one "... and N more problems" line; ``more`` counts problems not built)."""

    def __init__(self, problems: list[Problem], more: int = 0):
        self.problems = capped(problems, more)
        super().__init__("\n".join(str(p) for p in self.problems))


def capped(problems: list[Problem], more: int = 0) -> list[Problem]:
    """The first MAX_PROBLEMS problems, and a line counting the others (``more`` of them not in the list)."""
    hidden = max(len(problems) - MAX_PROBLEMS, 0) + more
    if not hidden:
        return list(problems)
    return list(problems[:MAX_PROBLEMS]) + [Problem(problems[0].file if problems else "", None, None,
                                                    f"... and {hidden} more problem(s)",
                                                    hint="fix the ones above and check again")]


def did_you_mean(word: object, choices: list[str] | tuple[str, ...]) -> str:
    """A 'did you mean ...?' hint, or '' when nothing is close."""
    if not isinstance(word, str):
        return ""
    close = difflib.get_close_matches(word, list(choices), n=1, cutoff=0.6)
    return f"did you mean '{close[0]}'?" if close else ""


def problem_at(file: str | Path, mark, message: str, where: str = "", hint: str = "") -> Problem:
    """A problem positioned at a PyYAML mark (0-based) or at no position when mark is None."""
    if mark is None:
        return Problem(str(file), None, None, message, where, hint)
    return Problem(str(file), mark.line + 1, mark.column + 1, message, where, hint)


class Pending(Exception):
    """The weights a claim needs (its model's, or a claim it builds on) are not on this machine:
    the claim is not run (*pending*). Evidence builders raise it for a pending dependency."""
