"""Task suites: versioned prompt data under ``claims/suites/``, sampled per seed."""

from __future__ import annotations

import random
from pathlib import Path

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


class LoadedSuite:
    """A validated suite plus the hash of the file it came from."""

    def __init__(self, suite: Suite, path: Path, sha256: str):
        self.suite, self.path, self.sha256 = suite, path, sha256

    @property
    def name(self) -> str:
        return self.suite.name

    @property
    def version(self) -> int:
        return self.suite.version

    def family_names(self) -> list[str]:
        return list(self.suite.families)

    def sample(self, seed: int, family: str, k: int) -> list[SuitePrompt]:
        """``k`` prompts of ``family`` chosen by ``seed`` (same seed, same prompts; order by id)."""
        prompts = sorted(self.suite.families[family].prompts, key=lambda p: p.id)
        if k >= len(prompts):
            return prompts
        rng = random.Random(f"{seed}:{family}")
        return sorted(rng.sample(prompts, k), key=lambda p: p.id)


def suite_path(name: str, claim_file: Path) -> Path:
    """A suite named in a claim: a path ending in .yaml (relative to the claim) or claims/suites/<name>.yaml."""
    if name.endswith((".yaml", ".yml")):
        return (claim_file.parent / name).resolve()
    return (claim_file.parent / "suites" / f"{name}.yaml").resolve()


def load_suite(path: Path) -> LoadedSuite:
    doc = load_yaml(path, what="suite file")
    suite = validate(doc, Suite, "suite")
    return LoadedSuite(suite, path, sha256_text(doc.text))
