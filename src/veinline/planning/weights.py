"""Triage weights: the value object a coordinator tunes to rank patients for a slot."""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field, model_validator


class TriageWeights(BaseModel):
    """How much each documented triage input counts towards a patient's priority score.

    Each input is first normalised to the range 0..1 (see `veinline.planning.triage`),
    then multiplied by its weight; the score is the sum, so with the default weights it
    runs from 0 to 100. Weights are plain numbers so a change can be written to the
    ledger as JSON (`model_dump(mode="json")`) and replayed exactly.
    """

    model_config = ConfigDict(frozen=True, extra="forbid")

    urgency: float = Field(default=50.0, ge=0, le=1000, description="clinical urgency 1–5")
    waitlisted: float = Field(
        default=20.0, ge=0, le=1000, description="days on the waiting list at the plan start"
    )
    deadline: float = Field(
        default=30.0,
        ge=0,
        le=1000,
        description="how little slack is left before the latest infusion date",
    )
    waitlisted_cap_days: int = Field(
        default=180, ge=1, le=3650, description="days on the list that earn the full part"
    )
    deadline_horizon_days: int = Field(
        default=60,
        ge=1,
        le=3650,
        description="slack (days) at or beyond which the deadline part is zero",
    )

    @model_validator(mode="after")
    def _some_weight_counts(self) -> TriageWeights:
        if self.urgency + self.waitlisted + self.deadline <= 0:
            raise ValueError("at least one of urgency, waitlisted, deadline must be above 0")
        return self

    @property
    def maximum_score(self) -> float:
        """The score of a patient who earns every part in full."""
        return self.urgency + self.waitlisted + self.deadline
