"""Typed, versioned views of the ``evidence`` dicts the builders in ``audit/evidence/`` write.

One pydantic model per evidence ``kind``, discriminated on ``kind``; :class:`OtherEvidence` for a
kind these models do not know, so a new kind never breaks an old reader. Values are taken as
written (strict: ``"0.5"`` is not a number, ``true`` is not 1), unknown keys pass through, and
``model_dump(mode="json")`` gives back exactly the dict that was read (fields the record did not
have are not added). Fields that older ledger records lack are Optional with a None default.

    ev = parse_evidence(record["evidence"])   # None for an errored/pending record
    if isinstance(ev, LayerSweepEvidence):
        ev.effects[ev.metric]                 # [seed][family][layer]

Layout: ``base`` (the base record and the shared shapes), one module per family (``sweeps``,
``deployment``, ``steering``, ``training``) and ``union`` (the union and :func:`parse_evidence`);
submodules import ``.base`` and each other, never this package. Every name is re-exported here.
``judged``: what a criterion judges (the typed join of interventions and criteria: each
intervention spec's ``evidence_type``, each criterion's ``evaluate(evidence)`` annotation).

Pure: pydantic and the standard library only (no torch).
"""

from .base import (EVIDENCE_VERSION, NO_EVIDENCE_KEYS, Dependency, EvidenceRecord, FamilyValues, Hardware, Label,
                   PeakMemory, Replication, Resources, Samples, SeedRow, SpeedProtocol, SweepControls, Table)
from .deployment import (DriftRow, LayerSkipEvidence, QuantizationDriftEvidence, QuantizationEvidence, QuantMode,
                         SkipBase, SkipConfig, UnitCounts)
from .steering import (CellPerPrompt, DirectionFile, DirectionStats, Example, Examples, Noise, NullControl, NullDraws,
                       PromptSet, SeedControl, SteeringControls, SteeringCounts, SteeringEvidence, SteeringPrompts,
                       SteeringResources)
from .sweeps import (BY_PAIR, BY_SEED, ComparedSweep, ComparisonEvidence, ComponentSweepEvidence, ComponentValues,
                     DtypeCheck, LayerSweepEvidence, SweepBase, SweepCounts, SweepResources)
from .training import (AdapterAblationRun, Baseline, GivenAdapter, LoraAdapterAblationEvidence, LoraEvidence,
                       LoraSweepEvidence, LoraTask, LoraTraining, Placement, SweepPoint, TrainedRun)
from .judged import (AdapterAblationRuns, ComparedSweeps, DriftSweeps, Judged, PlacementRuns, PointRuns,
                     PrecisionModes, SkipRuns, SteeringSweep)
from .union import KINDS, MODELS, OTHER, UNION_MEMBERS, Evidence, OtherEvidence, parse_evidence

__all__ = [
    # the API
    "EVIDENCE_VERSION", "Evidence", "KINDS", "OtherEvidence", "parse_evidence",
    # base and shared shapes
    "NO_EVIDENCE_KEYS", "Dependency", "EvidenceRecord", "FamilyValues", "Hardware", "Label", "PeakMemory",
    "Replication", "Resources", "Samples", "SeedRow", "SpeedProtocol", "SweepControls", "Table",
    # sweeps
    "BY_PAIR", "BY_SEED", "ComparedSweep", "ComparisonEvidence", "ComponentSweepEvidence", "ComponentValues",
    "DtypeCheck", "LayerSweepEvidence", "SweepBase", "SweepCounts", "SweepResources",
    # deployment
    "DriftRow", "LayerSkipEvidence", "QuantizationDriftEvidence", "QuantizationEvidence", "QuantMode", "SkipBase",
    "SkipConfig", "UnitCounts",
    # steering
    "CellPerPrompt", "DirectionFile", "DirectionStats", "Example", "Examples", "Noise", "NullControl", "NullDraws",
    "PromptSet", "SeedControl", "SteeringControls", "SteeringCounts", "SteeringEvidence", "SteeringPrompts",
    "SteeringResources",
    # training
    "AdapterAblationRun", "Baseline", "GivenAdapter", "LoraAdapterAblationEvidence", "LoraEvidence",
    "LoraSweepEvidence", "LoraTask", "LoraTraining", "Placement", "SweepPoint", "TrainedRun",
    # the union
    "MODELS", "OTHER", "UNION_MEMBERS",
    # what criteria judge
    "AdapterAblationRuns", "ComparedSweeps", "DriftSweeps", "Judged", "PlacementRuns", "PointRuns", "PrecisionModes",
    "SkipRuns", "SteeringSweep",
]
