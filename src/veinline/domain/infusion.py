"""The bedside: two identifiers before thaw, the post-thaw window, and the dose."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from veinline.domain.errors import DomainError, InvalidInput
from veinline.domain.ledger import JsonObject


class InfusionRefused(DomainError):
    """The bedside checks say: do not infuse (unless a physician overrides with a reason)."""

    code = "infusion_refused"


@dataclass(frozen=True)
class Finding:
    """One bedside check that did not pass."""

    check: str
    message: str

    def to_dict(self) -> JsonObject:
        return {"check": self.check, "message": self.message}


def minutes_since_thaw(thawed_at: datetime, infusion_started_at: datetime) -> float:
    if infusion_started_at < thawed_at:
        message = "the infusion cannot start before the product was thawed"
        raise InvalidInput(message, fields={"infusion_started_at": message})
    return (infusion_started_at - thawed_at).total_seconds() / 60


def check_post_thaw_window(
    thawed_at: datetime, infusion_started_at: datetime, window_minutes: int | None
) -> Finding | None:
    """Each product has a post-thaw window (30 minutes to 3 hours across approved ones)."""
    if window_minutes is None:
        return Finding(
            "post_thaw_window",
            "the product has no post-thaw window in the catalogue: an administrator must set it",
        )
    elapsed = minutes_since_thaw(thawed_at, infusion_started_at)
    if elapsed > window_minutes:
        return Finding(
            "post_thaw_window",
            f"{elapsed:.0f} minutes passed since thaw; the product must be infused within "
            f"{window_minutes} minutes",
        )
    return None


def check_expiry(expires_at: datetime | None, infusion_started_at: datetime) -> Finding | None:
    """A product past its expiry is not infused without a physician's documented reason."""
    if expires_at is None:
        return Finding("expiry", "the product has no recorded expiry")
    if infusion_started_at > expires_at:
        return Finding("expiry", f"the product expired at {expires_at.isoformat()}")
    return None


def expected_dose(dose_rule: JsonObject | None, weight_kg: float) -> tuple[float, float, float]:
    """(target, lowest accepted, highest accepted) cells for this weight."""
    if not dose_rule or dose_rule.get("kind") != "per_kg":
        raise InvalidInput("the product has no per-kg dose rule in the catalogue")
    if weight_kg <= 0:
        message = "the patient's weight must be above 0 kg"
        raise InvalidInput(message, fields={"weight_kg": message})
    target = float(dose_rule["cells_per_kg"]) * weight_kg
    tolerance = float(dose_rule.get("tolerance_percent", 0)) / 100
    return target, target * (1 - tolerance), target * (1 + tolerance)


def check_dose(dose_rule: JsonObject | None, weight_kg: float, dose_cells: float) -> Finding | None:
    if dose_cells <= 0:
        message = "the dose must be a positive number of cells"
        raise InvalidInput(message, fields={"dose_cells": message})
    if not dose_rule:
        return Finding("dose", "the product has no dose rule in the catalogue to check against")
    _target, low, high = expected_dose(dose_rule, weight_kg)
    if not low <= dose_cells <= high:
        return Finding(
            "dose",
            f"dose {dose_cells:.3g} cells is outside {low:.3g}–{high:.3g} "
            f"({float(dose_rule['cells_per_kg']):.3g} cells/kg × {weight_kg:g} kg, "
            f"±{dose_rule.get('tolerance_percent', 0)}%)",
        )
    return None
