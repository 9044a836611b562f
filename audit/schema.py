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
from audit.criteria.base import applies, criteria_for
from controls import NULL_CONTROLS, OPTIONAL_CONTROLS
from controls.prompting_baseline import PromptingBaseline
from audit.metric_kinds import METRIC_KINDS
from audit.errors import ClaimFileError, did_you_mean, problem_at
from audit.provenance import sha256_text
from audit.spec import Distinct, Names, StrictModel
from audit.suite import LoadedSuite, builtin_suites, load_suite, suite_path
from audit.validation import validate, work_problems
from audit.yamlsafe import YamlDocument, load_yaml


def _union(registry):
    members = [cls for _, cls in registry.items()]
    if len(members) == 1:
        return members[0]
    return Annotated[Union[tuple(members)], Field(discriminator="kind")]


InterventionSpec = _union(interventions.INTERVENTIONS)
AcceptanceSpec = _union(CRITERIA)



class SuiteRef(StrictModel):
    name: str = Field("main", description="a suite name (suites/<name>.yaml next to the claim, else the built-in suite: main, steering), or a .yaml path relative to the claim")
    families: Literal["all"] | Names = "all"
    prompts_per_family: int = Field(8, ge=1, le=10_000, description="prompts sampled per family per seed")
    chat_template: bool = Field(True, description="render prompts with the model's chat template when it has one")
    split: Literal["all", "explore", "confirm"] = Field(
        "all", description="which half of each family's prompts (and pairs) to draw from: ordered by sha256 of the "
                           "id, the first half is explore, the second confirm; an exploratory claim and its "
                           "confirmatory twin use explore and confirm so their prompts are disjoint")


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

    n: int = Field(199, ge=1, le=4096, description="null draws per seed (p >= 1/(n+1)); 199 lets p reach 0.005")


class MethodAgreement(StrictModel):
    """The claim re-judged under other ablation methods: it holds only if every method agrees."""

    methods: Annotated[list[Literal["zero", "mean", "resample"]], Distinct] = Field(
        min_length=1, description="the other methods the effect is recomputed under (the claim's own method is "
                                  "always included); a verdict that differs between methods is inconclusive "
                                  "(method-dependent)")


class ShuffledAnswers(StrictModel):
    """Training on answers that do not belong to their prompts (one adapter per seed)."""

    min_margin: float = Field(0.1, ge=0.0, le=1.0, description="lora: held-out exact match the real candidate must "
                                                                "beat the shuffled-answers one by (simultaneous 95% CI)")
    point: Optional[str] = Field(None, description="lora_sweep: the grid point trained again on shuffled answers "
                                                   "(default: the first point); reported beside it, not judged")

    def claim_problems(self, lc) -> list[tuple[tuple, str, str]]:
        from controls.shuffled_answers import claim_problems

        return claim_problems(lc, self)


class RandomSubspace(NullControl):
    """Patches of the claimed component restricted to random subspaces of one dimension."""

    dim: Optional[int] = Field(
        None, ge=1, description="dimension k of each random subspace (below the patched site's width); default: "
                                "the claimed subspace's dimension when the claim names one, else an eighth of the "
                                "site's width (controls/random_subspace.py DEFAULT_FRACTION)")


class NegativePosition(StrictModel):
    """The claimed patch repeated at a position the claim says carries nothing."""

    position: Literal["first", "last", "answer", "middle"] | int = Field(
        "first", description="the position the claim says carries nothing (named, or an index: from the prompt's "
                             "first token, negative from its last); the claimed component's patch must recover "
                             "more than the same patch there")

    def claim_problems(self, lc) -> list[tuple[tuple, str, str]]:
        from controls.negative_position import claim_problems

        return claim_problems(lc, self.position)


class Controls(StrictModel):
    seeds: list[int] = Field(min_length=1, max_length=64,
                             description="each seed resamples the prompts: a real replication")
    random_vector: Optional[NullControl] = Field(
        None, description="steering: N random unit directions applied like the real one (controls/random_vector.py); "
                          "a layer sweep with a claimed layer: the layer's ablation against N perturbations of the same "
                          "site by the same per-token norm along random unit directions drawn by the seed "
                          "(controls/layer_random_vector.py); quantization: each mode's KL against N float32 models "
                          "whose decoder weights carry random noise of the mode's error norms, row by row (reported, "
                          "not judged; controls/weight_noise.py); quantization_drift: each mode's Spearman against "
                          "the sweeps of N such noised float32 models (reported; controls/drift_noise.py)")
    shuffled_label: Optional[NullControl] = Field(
        None, description="steering: the direction recomputed with labels shuffled across the pooled sets "
                          "(controls/shuffled_label.py); quantization_drift: each mode's Spearman with the "
                          "reference's sweep against N shuffles of the layer labels (controls/shuffled_layers.py); "
                          "quantization: each mode's exact match against its greedy answers scored on another "
                          "prompt's answer of the family, N re-pairings (both reported, not judged); "
                          "patching (one claimed component): each pair patched from "
                          "another pair's source run, N re-pairings per seed (controls/shuffled_pairs.py); ablation "
                          "(one claimed component) and layer_ablation (a hub layer), metric nll_increase: its effect "
                          "on each prompt's own answer against its effect on other prompts' answers of the family "
                          "(controls/repaired_answers.py); layer_skip: each config's skipped output against the "
                          "unmodified model's on another prompt of the family, the re-paired floor of top-5 overlap "
                          "and greedy agreement (reported, not judged; audit/evidence/layer_skip_repaired.py)")
    random_component: Optional[NullControl] = Field(
        None, description="ablation or patching (one claimed component): the same intervention on N random "
                          "components of the same kind (other layers' MLPs, other heads, ...) drawn by the seed "
                          "(controls/random_component.py)")
    shuffled_answers: Optional[ShuffledAnswers] = Field(
        None, description="lora: the candidate placement trained again with answers permuted among its training "
                          "prompts; the real adapter must beat it on held-out exact match; lora_sweep: one point "
                          "trained so, its final loss, KL drift and held-out exact match reported beside the real "
                          "point's (controls/shuffled_answers.py)")
    random_subspace: Optional[RandomSubspace] = Field(
        None, description="patching (one claimed component): N patches of the claimed component restricted to "
                          "random k-dimensional subspaces drawn by the seed (the projection of clean - corrupt); "
                          "the claimed recovery must beat them, and a subspace patch that moves the output when the "
                          "whole component's does not is flagged as a dormant pathway (controls/random_subspace.py)")
    negative_position: Optional[NegativePosition] = Field(
        None, description="patching (one claimed component at one position): the same patch at a position the claim "
                          "says carries nothing; the claimed position must recover more (paired interval over "
                          "prompts; controls/negative_position.py)")
    prompting_baseline: Optional[PromptingBaseline] = Field(
        None, description="steering: the behaviour asked for in words (no steering vector), scored by the claim's "
                          "metric on the same prompts and reported beside the steering effect; when prompting is "
                          "shown to beat steering, confidence is capped at low (controls/prompting_baseline.py)")
    method_agreement: Optional[MethodAgreement] = Field(
        None, description="ablation: the verdict recomputed under other ablation methods (zero / mean / resample); "
                          "disagreement makes the claim inconclusive")
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
    expect: Literal["supported", "refuted", "inconclusive"] = Field(
        "supported", description="the verdict the author publishes; after a run contradicts it, changing it is how "
                                 "the result is acknowledged (the gate and the report list the change with the run "
                                 "that forced it). inconclusive: the published position is that this evidence "
                                 "cannot decide the claim")
    stage: Literal["exploratory", "confirmatory"] = Field(
        "exploratory", description="exploratory: what the claim names (a layer, a component, a threshold) was chosen "
                                   "by looking at data like this; capped at low confidence. confirmatory: fixed "
                                   "before the data it runs on was seen (undeclared counts as exploratory)")
    selected_by: str = Field("", pattern=r"^([a-z0-9][a-z0-9_.-]*)?$",
                             description="confirmatory only: id of the claim (same directory) whose run selected what "
                                         "this claim names; the two must run on disjoint prompts")
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

    @field_validator("schema_version", mode="before")
    @classmethod
    def _version_is_an_int(cls, v):
        if type(v) is not int:  # a Literal takes true and 1.0 for 1, even when strict
            raise ValueError(f"schema_version must be the integer 1, got {v!r}")
        return v


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
                                         hint="a suite name is suites/<name>.yaml next to the claim or a built-in "
                                              f"suite ({', '.join(builtin_suites())}); a .yaml path is relative to the "
                                              "claim")])
    loaded = LoadedClaim(claim, doc, load_suite(spath, claim.suite.split))
    _cross_check(loaded)
    return loaded


def _load_unchecked(path: Path) -> LoadedClaim:
    """A claim validated field by field but without the cross checks (no recursion into
    the claims it names)."""
    doc = load_yaml(path)
    claim = validate(doc, Claim, "claim")
    spath = suite_path(claim.suite.name, doc.path)
    if not spath.is_file():
        raise ClaimFileError([problem_at(doc.path, None, f"suite file {spath} not found", where="suite.name")])
    return LoadedClaim(claim, doc, load_suite(spath, claim.suite.split))


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
    if not applies(type(acc), iv.evidence_type):
        problems.append(lc.problem(("acceptance", "kind"), f"acceptance '{acc.kind}' does not apply to intervention "
                                   f"'{iv.kind}'", hint=f"'{iv.kind}' takes: {', '.join(criteria_for(iv.evidence_type))}"))
    if hasattr(acc, "layer") and getattr(iv, "layers", "all") != "all" and acc.layer not in iv.layers:
        problems.append(lc.problem(("acceptance", "layer"), f"claimed layer {acc.layer} is not in intervention.layers {iv.layers}",
                                   hint="a hub can only be found among the swept layers"))
    problems += _control_problems(lc) + spec_problems(lc)
    from audit.models import unknown_alias

    if problem := unknown_alias(lc.claim.model):
        problems.append(lc.problem(("model",), problem))
    problems += [lc.problem(loc, message, hint=hint) for loc, message, hint in work_problems(lc)]
    if not problems:  # sampling needs valid families
        problems += _seed_problems(lc) + _stage_problems(lc)
    if problems:
        raise ClaimFileError(problems)


# --------------------------------------------------------------------------- what seeds draw

def seed_inputs(lc: LoadedClaim) -> dict[int, dict[str, list]]:
    """``inputs[seed][role]``: what each seed of the claim draws. Roles: each eval family (its
    prompts, or its counterfactual pairs for patching), and any further set the intervention
    samples (``seed_samples(lc, seed)`` on its spec; otherwise a contrastive direction's positive
    and negative examples and the collateral prompts of a steering claim). Empty for claims that
    sample nothing themselves (comparisons)."""
    from audit.suite import sample_pairs
    from controls.seeds import sample_prompts

    claim, iv = lc.claim, lc.claim.intervention
    if not getattr(iv, "needs_model", True):
        return {}
    seeds, k, families = claim.controls.seeds, claim.suite.prompts_per_family, lc.families()
    if iv.kind == "patching":
        inputs = sample_pairs(lc.suite, seeds, [f for f in families if lc.suite.pairs(f)], k)
    else:
        inputs = sample_prompts(lc.suite, seeds, families, k)
    extra = getattr(iv, "seed_samples", None) or _drawn_sets(lc)
    for seed in seeds:
        inputs[seed].update(extra(lc, seed))
    return inputs


def _drawn_sets(lc: LoadedClaim):
    """Sets a steering spec samples per seed besides the eval prompts (as its builder draws them)."""
    iv = lc.claim.intervention
    direction, collateral = getattr(iv, "direction", None), getattr(iv, "collateral", None)
    other = None
    if collateral is not None:
        other = load_suite(suite_path(collateral.suite, lc.path))

    def draw(lc, seed):
        out = {}
        if getattr(direction, "source", None) == "contrastive":
            k = direction.per_set or 10**9
            out["positive"] = lc.suite.sample(seed, direction.positive, k)
            out["negative"] = lc.suite.sample(seed, direction.negative, k)
        if other is not None:
            for fam in collateral.families:
                if fam in other.family_names():
                    out[f"collateral:{fam}"] = other.sample(seed, fam, collateral.prompts_per_family)
        return out
    return draw


def judged_ids(lc: LoadedClaim) -> set[str]:
    """Ids of the prompts (pairs) the claim is judged on or builds its intervention from, over
    every seed (collateral prompts, a side check, are left out)."""
    from controls.seeds import unit_ids

    inputs = seed_inputs(lc)
    return unit_ids({s: {r: xs for r, xs in by_role.items() if not r.startswith("collateral:")}
                     for s, by_role in inputs.items()})


def _seed_problems(lc: LoadedClaim) -> list:
    """Seeds that draw exactly the same inputs are reruns, not replications: invalid."""
    from controls.seeds import identical_seeds

    inputs = seed_inputs(lc)
    if not any(xs for by_role in inputs.values() for xs in by_role.values()):
        return []
    same = identical_seeds(inputs)
    if not same:
        return []
    a, b = same[0]
    claim = lc.claim
    sizes = {f: len(lc.suite.pairs(f) if claim.intervention.kind == "patching" else lc.suite.prompts(f))
             for f in lc.families()}
    smallest = min(sizes.values()) if sizes else 0
    split = f" in split '{claim.suite.split}'" if claim.suite.split != "all" else ""
    hint = (f"prompts_per_family {claim.suite.prompts_per_family} >= every family's size{split} (smallest "
            f"{smallest}), so every seed draws all of them: lower prompts_per_family below {smallest}, or declare "
            f"one seed" if claim.suite.prompts_per_family >= smallest else
            "choose other seeds, or more prompts per family")
    more = f" (and {len(same) - 1} more pair(s))" if len(same) > 1 else ""
    return [lc.problem(("controls", "seeds"), f"seeds {a} and {b} draw exactly the same inputs{more}: "
                       f"seeds must change the inputs", hint=hint)]


def _stage_problems(lc: LoadedClaim) -> list:
    """``selected_by`` needs a confirmatory claim and a selecting claim (same directory, by id)
    whose prompts are disjoint from this claim's."""
    from controls.seeds import overlap

    claim = lc.claim
    if not claim.selected_by:
        return []
    loc = ("selected_by",)
    if claim.stage != "confirmatory":
        return [lc.problem(loc, "selected_by applies only to a confirmatory claim",
                           hint="add `stage: confirmatory`, or drop selected_by")]
    if claim.selected_by == claim.id:
        return [lc.problem(loc, "a claim cannot be selected by itself", hint="name the exploratory claim")]
    path = find_claim(lc.path.parent, claim.selected_by, exclude=lc.path)
    if path is None:
        return [lc.problem(loc, f"no claim with id '{claim.selected_by}' in {lc.path.parent}",
                           hint="selected_by names the id of a claim file in the same directory")]
    try:
        other = _load_unchecked(path)
    except ClaimFileError as exc:
        return [lc.problem(loc, f"the selecting claim {path.name} is invalid: {exc.problems[0]}",
                           hint=f"fix {path.name} first (audit check {path})")]
    shared = overlap(judged_ids(lc), judged_ids(other))
    if not shared:
        return []
    show = ", ".join(shared[:5]) + (", …" if len(shared) > 5 else "")
    return [lc.problem(loc, f"shares {len(shared)} prompt(s) with {claim.selected_by} ({path.name}), the claim "
                       f"that selected what it confirms: {show}",
                       hint=f"a confirmatory claim must run on disjoint prompts: `suite.split: confirm` here and "
                            f"`suite.split: explore` in {path.name} (or other families)")]


def find_claim(directory: Path, claim_id: str, exclude: Path | None = None) -> Path | None:
    """The claim file in ``directory`` whose ``id`` is ``claim_id`` (None if there is none)."""
    for path in sorted(directory.glob("*.yaml")):
        if exclude is not None and path.resolve() == Path(exclude).resolve():
            continue
        try:
            data = load_yaml(path).data
        except ClaimFileError:
            continue
        if isinstance(data, dict) and data.get("id") == claim_id:
            return path
    return None


STEERING_CONTROLS = NULL_CONTROLS  # the null controls (the name the editor-schema test uses)


def _control_problems(lc: LoadedClaim) -> list:
    """Each null control the claim's kind requires is run or waived with a reason; one it does
    not accept is neither (the kind's declaration: :mod:`controls`)."""
    import controls as registry

    problems, controls, iv = [], lc.claim.controls, lc.claim.intervention
    accepted, required = registry.accepted(iv), registry.required(iv)
    for name in NULL_CONTROLS:
        ran, waived = getattr(controls, name) is not None, name in controls.waive
        if name in required and not ran and not waived:
            problems.append(lc.problem(("controls",), f"a {iv.kind} claim needs the {name} control",
                                       hint=f"add `{name}: {{n: 199}}` under controls, or `waive: {{{name}: <reason>}}`"))
        elif ran and waived:
            problems.append(lc.problem(("controls", "waive", name), f"{name} is both configured and waived",
                                       hint="keep one"))
        elif name not in accepted and (ran or waived):
            problems.append(_not_taken(lc, ("controls", name) if ran else ("controls", "waive", name), name))
    taken = [n for n in OPTIONAL_CONTROLS if getattr(controls, n) is not None]
    problems += [_not_taken(lc, ("controls", n), n) for n in taken if n not in accepted]
    for name in getattr(iv, "component_controls", ()):  # controls that judge one claimed component
        if name in accepted and getattr(controls, name) is not None:
            own = _one_component_problems(lc, name)
            # then the control's own checks of the claim (its spec's claim_problems: (loc, message, hint) triples)
            found = [] if own else getattr(getattr(controls, name), "claim_problems", lambda _: [])(lc)
            problems += own + [lc.problem(loc, message, hint=hint) for loc, message, hint in found]
    problems += [_one_layer_problem(lc, name) for name in getattr(iv, "layer_controls", ())  # judge one claimed layer
                 if name in accepted and getattr(controls, name) is not None
                 and not isinstance(getattr(lc.claim.acceptance, "layer", None), int)]
    for name in taken:  # the other controls' own checks of the claim
        if name in accepted and name not in getattr(iv, "component_controls", ()):
            found = getattr(getattr(controls, name), "claim_problems", lambda _: [])(lc)
            problems += [lc.problem(loc, message, hint=hint) for loc, message, hint in found]
    if controls.method_agreement is not None and getattr(iv, "method", None) in controls.method_agreement.methods:
        problems.append(lc.problem(("controls", "method_agreement", "methods"), f"'{iv.method}' is the claim's own "
                                   "method (always included)", hint="list only the other methods"))
    return problems


def _not_taken(lc: LoadedClaim, loc: tuple, name: str):
    """A control the claim's kind does not take, with the kinds that do."""
    import controls as registry

    kinds = interventions.INTERVENTIONS
    takers = ", ".join(k for k in kinds.names() if name in registry.accepted(kinds.get(k))) or "none"
    why = getattr(lc.claim.intervention, "controls_note", "")  # a kind's reason for taking no null control
    return lc.problem(loc, f"intervention '{lc.claim.intervention.kind}' takes no {name} control",
                      hint=f"kinds that take it: {takers}" + (f"; {why}" if why else ""))


def _one_component_problems(lc: LoadedClaim, name: str) -> list:
    problems = []
    if not hasattr(lc.claim.acceptance, "component"):
        problems.append(lc.problem(("controls", name), f"{name} judges one claimed component against its null; "
                                   f"acceptance '{lc.claim.acceptance.kind}' names none",
                                   hint="use it with effect_at_least or rank_top_k (a sweep's top is already "
                                        "judged against every other component)"))
    if name == "random_component" and getattr(lc.claim.intervention, "target", "") == "module":
        problems.append(lc.problem(("controls", name), "random_component needs a residual, attn, "
                                   "mlp or head target", hint="a module path has no same-kind alternatives"))
    return problems


def _one_layer_problem(lc: LoadedClaim, name: str):
    """A control that judges the claimed layer against its null, on an acceptance that names none."""
    from audit.criteria.base import CRITERIA, criteria_for

    naming = [k for k in criteria_for(lc.claim.intervention.evidence_type) if "layer" in CRITERIA.get(k).model_fields]
    return lc.problem(("controls", name), f"{name} judges one claimed layer against its null; acceptance "
                      f"'{lc.claim.acceptance.kind}' names none",
                      hint=f"use it with an acceptance that names a layer: {', '.join(naming) or 'none'}")


def spec_problems(lc: LoadedClaim) -> list:
    """The cross-field checks the intervention and acceptance specs declare (``claim_problems(lc)``
    returning ``(loc, message, hint)`` triples), positioned in the claim file."""
    found = [p for spec in (lc.claim.intervention, lc.claim.acceptance)
             for p in getattr(spec, "claim_problems", lambda _: [])(lc)]
    return [lc.problem(loc, message, hint=hint) for loc, message, hint in found]


def check_layers(lc: LoadedClaim, n_layers: int, n_heads: int | None = None,
                 modules: dict[str, str] | None = None) -> None:
    """Layer and head indices, and dotted module paths, must exist in the model (known from its
    config; ``modules``: path -> kind, see :func:`interventions.skeleton.module_types`)."""
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
    for loc, message, hint in (getattr(iv, "module_problems", lambda _: [])(modules) if modules else []):
        problems.append(lc.problem(loc, message, hint=hint))
    if isinstance(getattr(acc, "layer", None), int) and acc.layer >= n_layers:
        problems.append(lc.problem(("acceptance", "layer"), f"layer {acc.layer} is out of range",
                                   hint=f"the model has {n_layers} layers: 0..{n_layers - 1}"))
    if problems:
        raise ClaimFileError(problems)


SCHEMA_DIALECT = "https://json-schema.org/draft/2020-12/schema"
SCHEMA_ID = "https://mi-audit.dev/schema/claim-1.json"

# Descriptions of the fields of the classes above that declare none (a field's own description wins).
_FIELD_NOTES = {
    "Claim": {
        "schema_version": "version of the claim file format; 1 is the only one",
        "id": "the claim's id, unique in its directory (lowercase letters, digits, '_', '.', '-'); by convention "
              "the file name without .yaml",
        "statement": "the claim, in the words the report publishes",
        "suite": "the prompt suite the claim is judged on, and how its prompts are drawn",
        "intervention": "what is done to the model; `kind` selects the intervention",
        "metric": "what is measured at each prompt; must suit the intervention",
        "controls": "the seeds (each a replication on resampled prompts) and the null controls",
        "acceptance": "the criterion that turns the evidence into a verdict; `kind` selects it and must suit the "
                      "intervention",
        "rationale": "why the claim is worth testing (free text, shown in the report)",
        "falsifier": "the result that would refute the claim (free text, shown in the report)",
        "caveats": "known limits of the evidence, one per entry (listed in the report)",
        "tags": "free labels for grouping claims",
    },
    "SuiteRef": {"families": "'all' (every family of the suite) or the families prompts are drawn from"},
    "MetricSpec": {"position": "where the metric is read: the answer position (the only one)"},
}
_WHY = "free text: why this intervention and its settings make the claim meaningful (not part of the evidence)"


def json_schema() -> dict:
    """The JSON Schema (draft 2020-12) of claim files, for editors and other validators: every
    property described, the registry-backed fields (kinds, metric.kind, control names) enums."""
    schema = Claim.model_json_schema()
    _describe_fields(schema)
    _describe_kinds(schema, "intervention", interventions.INTERVENTIONS)
    _describe_kinds(schema, "acceptance", CRITERIA)
    _metric_kinds(schema["$defs"]["MetricSpec"]["properties"]["kind"])
    _walk(schema, _discriminator_enum)
    _walk(schema, _tuple_items)
    head = {"$schema": SCHEMA_DIALECT, "$id": SCHEMA_ID, "title": "Claim",
            "description": "An mi-audit claim file: a falsifiable claim about a model, checked by `audit check` "
                           "and run by `audit run` (written by `audit schema`). The $id identifies this version of "
                           f"the schema ({SCHEMA_ID.rsplit('/', 1)[1]}); it is an identifier, never fetched."}
    return head | {k: v for k, v in schema.items() if k not in head}


def _walk(node, visit) -> None:
    """Call ``visit`` on every object (dict) of the schema, depth first."""
    if isinstance(node, dict):
        visit(node)
        node = list(node.values())
    if isinstance(node, list):
        for child in node:
            _walk(child, visit)


def _describe_fields(schema: dict) -> None:
    """Fill in the descriptions listed in ``_FIELD_NOTES`` and the one every ``why`` shares."""
    objects = {"Claim": schema, **schema["$defs"]}
    for name, notes in _FIELD_NOTES.items():
        for field, note in notes.items():
            objects[name]["properties"][field].setdefault("description", note)
    for obj in objects.values():
        why = obj.get("properties", {}).get("why")
        if why is not None:
            why.setdefault("description", _WHY)


def _describe_kinds(schema: dict, field: str, registry) -> None:
    """Each registered spec's ``kind`` says what it selects and where the spec is defined."""
    mapping = schema["properties"][field]["discriminator"]["mapping"]
    for name, cls in registry.items():
        kind = schema["$defs"][mapping[name].rsplit("/", 1)[1]]["properties"]["kind"]
        kind.setdefault("description", f"{field} kind `{name}` ({cls.__module__.replace('.', '/')}.py)")


def _metric_kinds(kind: dict) -> None:
    """``metric.kind`` is validated by a function (for its message); the schema lists the names."""
    kind["enum"] = list(METRIC_KINDS)
    kind["description"] = "what is measured; one of:\n" + "\n".join(f"- {k}: {v}" for k, v in METRIC_KINDS.items())


def _discriminator_enum(node: dict) -> None:
    """A discriminated union (intervention, acceptance, direction, placement) also states its key as
    an enum of the variants, so an editor can complete it and an unknown one gets one clear error."""
    disc = node.get("discriminator")
    if not (isinstance(disc, dict) and "oneOf" in node and "properties" not in node):
        return
    key, names = disc["propertyName"], list(disc["mapping"])
    node["type"] = "object"
    node["required"] = [key]
    node["properties"] = {key: {"enum": names, "description": f"selects the spec: one of {', '.join(names)}"}}


def _tuple_items(node: dict) -> None:
    """Older-draft readers (editors that implement draft 7) ignore ``prefixItems``: a tuple whose
    items share one schema also states it as ``items``."""
    prefix = node.get("prefixItems")
    if isinstance(prefix, list) and prefix and "items" not in node and all(p == prefix[0] for p in prefix):
        node["items"] = prefix[0]
