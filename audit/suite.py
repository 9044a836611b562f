"""Task suites: versioned prompt data under ``claims/suites/``, sampled per seed.

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

from pydantic import Field

from audit.provenance import sha256_text
from audit.spec import StrictModel
from audit.validation import validate
from audit.yamlsafe import load_yaml


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


def suite_path(name: str, claim_file: Path) -> Path:
    """A suite named in a claim: a path ending in .yaml (relative to the claim) or claims/suites/<name>.yaml."""
    if name.endswith((".yaml", ".yml")):
        return (claim_file.parent / name).resolve()
    return (claim_file.parent / "suites" / f"{name}.yaml").resolve()


def load_suite(path: Path, split: str = "all") -> LoadedSuite:
    doc = load_yaml(path, what="suite file")
    suite = validate(doc, Suite, "suite")
    return LoadedSuite(suite, path, sha256_text(doc.text), split)
