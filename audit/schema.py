"""The claim file schema: pydantic v2 models with ``extra="forbid"`` everywhere.

``intervention`` and ``acceptance`` are unions over their registries, keyed by ``kind:``,
so adding an intervention is one new module in ``interventions/``.
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Literal, Optional, Union

from pydantic import Field, field_validator

import interventions
from audit.criteria import CRITERIA
from audit.metric_kinds import METRIC_KINDS
from audit.errors import ClaimFileError, did_you_mean, problem_at
from audit.provenance import sha256_text
from audit.spec import StrictModel
from audit.suite import LoadedSuite, load_suite, suite_path
from audit.validation import validate
from audit.yamlsafe import YamlDocument, load_yaml


def _union(registry):
    members = [cls for _, cls in registry.items()]
    if len(members) == 1:
        return members[0]
    return Annotated[Union[tuple(members)], Field(discriminator="kind")]


InterventionSpec = _union(interventions.INTERVENTIONS)
AcceptanceSpec = _union(CRITERIA)



class SuiteRef(StrictModel):
    name: str = Field("main", description="claims/suites/<name>.yaml, or a .yaml path relative to the claim")
    families: Literal["all"] | list[str] = "all"
    prompts_per_family: int = Field(8, ge=1, le=10_000, description="prompts sampled per family per seed")
    chat_template: bool = Field(True, description="render prompts with the model's chat template when it has one")


class MetricSpec(StrictModel):
    kind: str = Field(description="one of audit/metric_kinds.py: " + ", ".join(METRIC_KINDS))
    position: Literal["answer"] = "answer"

    @field_validator("kind")
    @classmethod
    def _known(cls, v):
        if v not in METRIC_KINDS:
            hint = did_you_mean(v, list(METRIC_KINDS))
            raise ValueError(f"unknown metric '{v}'; known: {', '.join(METRIC_KINDS)}" + (f" ({hint})" if hint else ""))
        return v


class NullControl(StrictModel):
    """A control that draws a null distribution (steering): N seeded draws per seed."""

    n: int = Field(32, ge=1, le=4096, description="null draws per seed (p >= 1/(n+1))")


class Controls(StrictModel):
    seeds: list[int] = Field(min_length=1, max_length=64,
                             description="each seed resamples the prompts: a real replication")
    random_vector: Optional[NullControl] = Field(
        None, description="steering: N random unit directions applied like the real one (controls/random_vector.py)")
    shuffled_label: Optional[NullControl] = Field(
        None, description="steering: the direction recomputed with labels shuffled across the pooled sets "
                          "(controls/shuffled_label.py)")
    waive: dict[Literal["random_vector", "shuffled_label"], Annotated[str, Field(min_length=10)]] = Field(
        default_factory=dict, description="control -> why it is waived (caps confidence at low; printed in the report)")

    @field_validator("seeds")
    @classmethod
    def _distinct(cls, v):
        if len(set(v)) != len(v):
            raise ValueError("seeds must be distinct")
        return v


class Claim(StrictModel):
    schema_version: Literal[1] = 1
    id: str = Field(pattern=r"^[a-z0-9][a-z0-9_.-]*$", max_length=100)
    statement: str = Field(min_length=10)
    model: str = Field(min_length=1, description="alias (smollm2-135m), Hugging Face id, or local directory")
    expect: Literal["supported", "refuted"] = "supported"
    suite: SuiteRef
    intervention: InterventionSpec
    metric: MetricSpec
    controls: Controls
    acceptance: AcceptanceSpec
    rationale: str = ""
    falsifier: str = ""
    caveats: list[str] = Field(default_factory=list)
    tags: list[str] = Field(default_factory=list)
    negative_result: bool = Field(False, description="the statement records something that does not work "
                                  "(listed under Negative results in the report)")
    retired: bool = Field(False, description="no longer gated or re-run from a directory; stays visible in the report")
    superseded_by: str = Field("", pattern=r"^([a-z0-9][a-z0-9_.-]*)?$",
                               description="id of the claim that replaces this one (implies retired)")


class LoadedClaim:
    """A validated claim with its source document, hash and suite."""

    def __init__(self, claim: Claim, doc: YamlDocument, suite: LoadedSuite):
        self.claim, self.doc, self.suite = claim, doc, suite
        self.path = doc.path
        self.sha256 = sha256_text(doc.text)

    def families(self) -> list[str]:
        f = self.claim.suite.families
        return self.suite.family_names() if f == "all" else list(f)

    def problem(self, loc: tuple, message: str, hint: str = ""):
        node, _ = self.doc.node_at(loc)
        return problem_at(self.path, node.start_mark, message, where=".".join(map(str, loc)), hint=hint)


def load_claim(path: str | Path) -> LoadedClaim:
    """Load and validate a claim file and its suite; ClaimFileError (with file:line) on any problem."""
    doc = load_yaml(path)
    claim = validate(doc, Claim, "claim")
    spath = suite_path(claim.suite.name, doc.path)
    if not spath.is_file():
        node, _ = doc.node_at(("suite", "name"))
        raise ClaimFileError([problem_at(doc.path, node.start_mark, f"suite file {spath} not found", where="suite.name",
                                         hint="suites live in claims/suites/<name>.yaml")])
    loaded = LoadedClaim(claim, doc, load_suite(spath))
    _cross_check(loaded)
    return loaded


def criteria_with(method: str) -> list[str]:
    """Acceptance kinds that can judge an intervention whose evidence goes to ``method``."""
    from audit.criteria import CRITERIA

    return [name for name, spec in CRITERIA.items() if hasattr(spec, method)]


def _cross_check(lc: LoadedClaim) -> None:
    """Checks that need more than one field: families exist, the claimed layer is swept."""
    problems = []
    known = lc.suite.family_names()
    if lc.claim.suite.families != "all":
        for i, fam in enumerate(lc.claim.suite.families):
            if fam not in known:
                problems.append(lc.problem(("suite", "families", i), f"unknown family '{fam}' in suite '{lc.suite.name}'",
                                           hint=did_you_mean(fam, known) or f"known: {', '.join(known)}"))
    acc, iv = lc.claim.acceptance, lc.claim.intervention
    method = getattr(iv, "acceptance_method", "evaluate")
    if not hasattr(acc, method):
        problems.append(lc.problem(("acceptance", "kind"), f"acceptance '{acc.kind}' does not apply to intervention "
                                   f"'{iv.kind}'", hint=f"'{iv.kind}' takes: {', '.join(criteria_with(method))}"))
    if hasattr(acc, "layer") and getattr(iv, "layers", "all") != "all" and acc.layer not in iv.layers:
        problems.append(lc.problem(("acceptance", "layer"), f"claimed layer {acc.layer} is not in intervention.layers {iv.layers}",
                                   hint="a hub can only be found among the swept layers"))
    problems += _steering_controls(lc)
    if problems:
        raise ClaimFileError(problems)


STEERING_CONTROLS = ("random_vector", "shuffled_label")


def _steering_controls(lc: LoadedClaim) -> list:
    """A steering claim needs both null controls, each run or waived with a reason; other claims take neither."""
    problems, controls, iv = [], lc.claim.controls, lc.claim.intervention
    steering = iv.kind == "steering"
    for name in STEERING_CONTROLS:
        ran, waived = getattr(controls, name) is not None, name in controls.waive
        if steering and not ran and not waived:
            problems.append(lc.problem(("controls",), f"a steering claim needs the {name} control",
                                       hint=f"add `{name}: {{n: 32}}` under controls, or `waive: {{{name}: <reason>}}`"))
        elif ran and waived:
            problems.append(lc.problem(("controls", "waive", name), f"{name} is both configured and waived",
                                       hint="keep one"))
        elif not steering and (ran or waived):
            loc = ("controls", name) if ran else ("controls", "waive", name)
            problems.append(lc.problem(loc, f"the {name} control applies only to steering claims",
                                       hint=f"intervention '{iv.kind}' draws no null directions"))
    for loc, message, hint in getattr(iv, "claim_problems", lambda _: [])(lc):
        problems.append(lc.problem(loc, message, hint=hint))
    return problems


def check_layers(lc: LoadedClaim, n_layers: int, n_heads: int | None = None) -> None:
    """Layer and head indices must exist in the model (known from its config)."""
    problems = []
    iv, acc = lc.claim.intervention, lc.claim.acceptance
    for field, count, noun in (("layers", n_layers, "layers"), ("heads", n_heads, "attention heads per layer")):
        listed = getattr(iv, field, "all")
        if count is None or not isinstance(listed, list):
            continue
        for i, index in enumerate(listed):
            if index >= count:
                problems.append(lc.problem(("intervention", field, i), f"{field[:-1]} {index} is out of range",
                                           hint=f"the model has {count} {noun}: 0..{count - 1}"))
    for loc, message, hint in getattr(iv, "layer_problems", lambda _: [])(n_layers):
        problems.append(lc.problem(loc, message, hint=hint))
    if isinstance(getattr(acc, "layer", None), int) and acc.layer >= n_layers:
        problems.append(lc.problem(("acceptance", "layer"), f"layer {acc.layer} is out of range",
                                   hint=f"the model has {n_layers} layers: 0..{n_layers - 1}"))
    if problems:
        raise ClaimFileError(problems)


def json_schema() -> dict:
    return Claim.model_json_schema()
