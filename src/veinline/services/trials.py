"""Trials: protocols with cohorts, cases enrolled in them, imported outcomes, report data."""

from __future__ import annotations

import hashlib
from collections.abc import Callable
from datetime import date
from typing import Any

from veinline.domain.errors import Conflict, InvalidInput, NotFound
from veinline.domain.ledger_actions import LedgerAction
from veinline.domain.trial import Cohort, ResponseCriteria, Trial, TrialData, check_outcomes
from veinline.domain.trial_records import (
    OutcomeSource,
    TrialPatient,
    TrialRecord,
    case_outcome,
    outcome_from_data,
    outcome_to_data,
)
from veinline.domain.user import User
from veinline.services import commands
from veinline.services.unit_of_work import AbstractUnitOfWork


def _trial(uow: AbstractUnitOfWork, trial_id: str) -> TrialRecord:
    record = uow.trials.get(trial_id)
    if record is None:
        raise NotFound(f"there is no trial {trial_id}")
    return record


def create_trial(cmd: commands.CreateTrial, uow: AbstractUnitOfWork, *, actor: User) -> TrialRecord:
    try:
        criteria = ResponseCriteria(cmd.criteria)
    except ValueError:
        raise InvalidInput("criteria must be recist_1_1 or imwg") from None
    try:
        cohorts = tuple(
            Cohort(
                id=str(c["id"]),
                dose_label=str(c["dose_label"]),
                dose_cells_per_kg=float(str(c["dose_cells_per_kg"])),
            )
            for c in cmd.cohorts
        )
    except KeyError as exc:
        raise InvalidInput(f"each cohort needs {exc.args[0]}") from None
    trial = Trial(
        id=cmd.id,
        title=cmd.title,
        product_code=cmd.product_code,
        cohorts=cohorts,
        criteria=criteria,
    )
    with uow:
        if uow.products.get(trial.product_code) is None:
            raise NotFound(f"there is no product {trial.product_code}")
        if uow.trials.get(trial.id) is not None:
            raise Conflict(f"trial {trial.id} exists already")
        record = TrialRecord.from_trial(trial)
        uow.trials.add(record)
        uow.record(
            record,
            actor=actor,
            action=LedgerAction.TRIAL_CREATED,
            before=None,
            reason=f"protocol {trial.title}",
        )
        uow.commit()
        return record


def enrol_in_cohort(
    cmd: commands.EnrolInCohort, uow: AbstractUnitOfWork, *, actor: User
) -> TrialPatient:
    with uow:
        trial = _trial(uow, cmd.trial_id).to_trial()
        trial.cohort(cmd.cohort_id)
        case = uow.cases.get(cmd.case_id)
        if case is None:
            raise NotFound(f"there is no case {cmd.case_id}")
        if case.product_code != trial.product_code:
            raise InvalidInput(
                f"case {case.id} is for {case.product_code}; trial {trial.id} "
                f"studies {trial.product_code}"
            )
        patient_id = f"{trial.id}:{case.id}"
        if uow.trial_patients.get(patient_id) is not None:
            raise Conflict(f"case {case.id} is already in trial {trial.id}")
        patient = TrialPatient(
            id=patient_id,
            trial_id=trial.id,
            subject=case.id,
            cohort_id=cmd.cohort_id,
            source=OutcomeSource.CASE,
        )
        uow.trial_patients.add(patient)
        uow.record(
            patient,
            actor=actor,
            action=LedgerAction.TRIAL_ENROLLED,
            before=None,
            reason=f"cohort {cmd.cohort_id}",
        )
        uow.commit()
        return patient


def import_trial_outcomes(
    cmd: commands.ImportTrialOutcomes, uow: AbstractUnitOfWork, *, actor: User
) -> int:
    """All or nothing: one bad record refuses the whole file."""
    with uow:
        trial = _trial(uow, cmd.trial_id).to_trial()
        imported = 0
        for number, raw in enumerate(cmd.outcomes, start=1):
            subject = str(raw.get("subject") or "").strip()
            if not subject:
                raise InvalidInput(f"outcome {number}: subject is required")
            cohort_id = str(raw.get("cohort_id") or "")
            trial.cohort(cohort_id)
            data = {k: v for k, v in raw.items() if k not in ("subject", "cohort_id")}
            outcome = outcome_from_data(subject, cohort_id, data)
            patient_id = f"{trial.id}:{subject}"
            if uow.trial_patients.get(patient_id) is not None:
                raise Conflict(f"outcome {number}: {subject} is already in trial {trial.id}")
            patient = TrialPatient(
                id=patient_id,
                trial_id=trial.id,
                subject=subject,
                cohort_id=cohort_id,
                source=OutcomeSource.IMPORTED,
                data=outcome_to_data(outcome),
            )
            uow.trial_patients.add(patient)
            uow.record(
                patient,
                actor=actor,
                action=LedgerAction.TRIAL_OUTCOME_IMPORTED,
                before=None,
                reason=cmd.reason,
            )
            imported += 1
        uow.commit()
        return imported


def trial_data(uow: AbstractUnitOfWork, trial_id: str, *, as_of: date) -> TrialData:
    """The trial with every patient's outcome as of `as_of` (call inside a unit of work)."""
    trial = _trial(uow, trial_id).to_trial()
    outcomes = []
    for patient in uow.trial_patients.find(trial_id=trial_id):
        if patient.source is OutcomeSource.IMPORTED:
            outcomes.append(outcome_from_data(patient.subject, patient.cohort_id, patient.data))
            continue
        case = uow.cases.get(patient.subject)
        if case is None:
            continue
        assessments = [a.snapshot() for a in uow.assessments.find(case_id=case.id)]
        outcome = case_outcome(case.snapshot(), assessments, patient.cohort_id)
        if outcome is not None:
            outcomes.append(outcome)
    check_outcomes(trial, outcomes)
    cutoff = max([as_of, *(o.last_contact_on for o in outcomes)])
    return TrialData(trial, tuple(outcomes), cutoff)


def fingerprint(data: TrialData) -> str:
    """What a trial report is made from, as one SHA-256: the trial, every outcome and the
    cut-off (frozen dataclasses of values, whose repr is their content). A report job is
    keyed on it, so a change to any outcome makes a new report and nothing else does."""
    return hashlib.sha256(repr(data).encode("utf-8")).hexdigest()


HANDLERS: dict[type[commands.Command], Callable[..., Any]] = {
    commands.CreateTrial: create_trial,
    commands.EnrolInCohort: enrol_in_cohort,
    commands.ImportTrialOutcomes: import_trial_outcomes,
}
