"""``kind: comparison`` — compare the sweeps of other claims (methods, suites, models).

The referenced claim files are run (their evidence comes from the cache when already computed)
and their top components compared by the acceptance criterion, optionally in relative depth
(layer / number of layers) so models of different depth can be compared.
"""

from __future__ import annotations

from typing import Annotated, ClassVar, Literal

from pydantic import Field

from audit.spec import Distinct, StrictModel
from audit.evidence_models.judged import ComparedSweeps
from interventions.registry import intervention


@intervention("comparison")
class Comparison(StrictModel):
    kind: Literal["comparison"]
    claims: Annotated[list[str], Distinct] = Field(min_length=2, description="claim files, relative to this claim file")
    why: str = ""

    needs_model: ClassVar[bool] = False
    controls_note: ClassVar[str] = ("a comparison runs no intervention of its own: its nulls are the compared "
                                    "claims' controls (put them in those claim files)")
    evidence_type: ClassVar[type] = ComparedSweeps
