"""Task suites: versioned prompt data (built in: ``audit/suites/``, linked as ``claims/suites/``), sampled per seed.

A claim may run on one half of the suite (``suite.split``): the prompts (and pairs) of each
family are ordered by the sha256 of their id; the first half is ``explore``, the second
``confirm``, ``all`` is both. The halves depend only on the ids, so an exploratory claim and its
confirmatory twin draw from disjoint prompts whatever their seeds.
"""

from __future__ import annotations

import hashlib
import random
from pathlib import Path
from typing import Literal

from pydantic import Field, ValidationInfo, field_validator

from audit.provenance import sha256_text
from audit.spec import StrictModel
from audit.validation import validate
from audit.yamlsafe import load_yaml, read_bounded


class SuitePrompt(StrictModel):
    id: str
    prompt: str = Field(min_length=1)
    answer: str = Field(min_length=1)


class SuiteFamily(StrictModel):
    description: str = ""
    prompts: list[SuitePrompt] = Field(min_length=1)


class SuitePair(StrictModel):
    """A clean/corrupt counterfactual pair for activation patching."""

    id: str
    clean: str
    clean_answer: str
    corrupt: str
    corrupt_answer: str


class Suite(StrictModel):
    name: str
    version: int = Field(ge=1)
    description: str = ""
    families: dict[str, SuiteFamily] = Field(min_length=1)
    pairs: dict[str, list[SuitePair]] = Field(default_factory=dict)

    @field_validator("pairs")
    @classmethod
    def _pairs_of_families(cls, v, info: ValidationInfo):
        """Pairs are drawn per family: pairs under a name that is no family would never be used."""
        families = info.data.get("families")
        unknown = [name for name in v if families is not None and name not in families]
        if unknown:
            raise ValueError(f"pairs for {', '.join(map(repr, unknown))}, which is not a family of this suite "
                             f"(families: {', '.join(families)})")
        return v


Split = Literal["all", "explore", "confirm"]
SPLITS = ("all", "explore", "confirm")


def split_half(items: list, split: str, key=lambda x: x.id) -> list:
    """The ``split`` half of ``items`` (sorted by id): ordered by sha256 of the id, the first
    ``ceil(n/2)`` are ``explore``, the rest ``confirm``; ``all`` keeps every item."""
    if split not in SPLITS:
        raise ValueError(f"unknown split '{split}'; one of {', '.join(SPLITS)}")
    ordered = sorted(items, key=key)
    if split == "all":
        return ordered
    by_hash = sorted(ordered, key=lambda x: hashlib.sha256(str(key(x)).encode()).hexdigest())
    half = (len(by_hash) + 1) // 2
    chosen = {id(x) for x in (by_hash[:half] if split == "explore" else by_hash[half:])}
    return [x for x in ordered if id(x) in chosen]


class LoadedSuite:
    """A validated suite plus the hash of the file it came from, seen through one split."""

    def __init__(self, suite: Suite, path: Path, sha256: str, split: str = "all"):
        if split not in SPLITS:
            raise ValueError(f"unknown split '{split}'; one of {', '.join(SPLITS)}")
        self.suite, self.path, self.sha256, self.split = suite, path, sha256, split

    def with_split(self, split: str) -> "LoadedSuite":
        """The same suite seen through another split (``sample`` then draws from that half)."""
        return self if split == self.split else LoadedSuite(self.suite, self.path, self.sha256, split)

    @property
    def name(self) -> str:
        return self.suite.name

    @property
    def version(self) -> int:
        return self.suite.version

    def family_names(self) -> list[str]:
        return list(self.suite.families)

    def prompts(self, family: str) -> list[SuitePrompt]:
        """The family's prompts in this split, sorted by id."""
        return split_half(self.suite.families[family].prompts, self.split)

    def pairs(self, family: str) -> list[SuitePair]:
        """The family's counterfactual pairs in this split, sorted by id (empty if it has none)."""
        return split_half(self.suite.pairs.get(family, []), self.split)

    def sample(self, seed: int, family: str, k: int) -> list[SuitePrompt]:
        """``k`` prompts of ``family`` (in this split) chosen by ``seed`` (same seed, same prompts;
        order by id). With split ``all`` the draw is the one every earlier version made."""
        prompts = self.prompts(family)
        if k >= len(prompts):
            return prompts
        rng = random.Random(f"{seed}:{family}")
        return sorted(rng.sample(prompts, k), key=lambda p: p.id)

    def sample_pairs(self, seed: int, family: str, k: int) -> list[SuitePair]:
        """``k`` counterfactual pairs of ``family`` (in this split) chosen by ``seed``, sorted by id."""
        pairs = self.pairs(family)
        chosen = pairs if k >= len(pairs) else random.Random(f"{seed}:{family}:pairs").sample(pairs, k)
        return sorted(chosen, key=lambda p: p.id)


def sample_pairs(suite: LoadedSuite, seeds: list[int], families: list[str], k: int,
                 split: str | None = None) -> dict[int, dict[str, list[SuitePair]]]:
    """``samples[seed][family]``: the pairs each seed draws (``k`` per family) from ``split``
    (default: the split the suite was loaded with, i.e. the claim's ``suite.split``)."""
    view = suite if split is None else suite.with_split(split)
    return {seed: {fam: view.sample_pairs(seed, fam, k) for fam in families} for seed in seeds}


BUILTIN = Path(__file__).resolve().parent / "suites"  # shipped in the wheel (claims/suites links here)


def builtin_suites() -> list[str]:
    return sorted(p.stem for p in BUILTIN.glob("*.yaml"))


def suite_path(name: str, claim_file: Path) -> Path:
    """A suite named in a claim: a path ending in .yaml (relative to the claim); else a name:
    ``suites/<name>.yaml`` next to the claim when there is one, otherwise the built-in suite of
    that name (package data), so a claim in any directory can use ``main`` or ``steering``."""
    if name.endswith((".yaml", ".yml")):
        path = claim_file.parent / name
    else:
        path = claim_file.parent / "suites" / f"{name}.yaml"
        if not path.exists() and (BUILTIN / f"{name}.yaml").is_file():
            path = BUILTIN / f"{name}.yaml"
    try:
        return path.resolve()
    except (OSError, RuntimeError):  # a symlink loop: reported as a missing suite file
        return path.absolute()


_LOADED: dict[tuple[str, str], Suite] = {}  # (resolved path, sha256 of the bytes) -> validated suite
_MAX_LOADED = 64


def load_suite(path: Path, split: str = "all") -> LoadedSuite:
    """The validated suite at ``path`` seen through ``split``. Parsed and validated once per file
    content (keyed by path and the sha256 of its bytes: a cheap read, exact even when a rewrite
    keeps the size and mtime), so many claims on one suite parse it once."""
    sha256 = hashlib.sha256(read_bounded(Path(path), "suite file")).hexdigest()
    key = (str(Path(path).absolute()), sha256)
    if key not in _LOADED:
        doc = load_yaml(path, what="suite file")
        suite, key = validate(doc, Suite, "suite"), (key[0], sha256_text(doc.text))
        if len(_LOADED) >= _MAX_LOADED:
            _LOADED.pop(next(iter(_LOADED)))
        _LOADED[key] = suite
    return LoadedSuite(_LOADED[key], path, key[1], split)
