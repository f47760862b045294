"""Handlers of the autologous journey: one per mutation, each with its ledger entries."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import replace
from datetime import date, datetime
from typing import Any

from veinline.domain import coldchain, custody, eligibility, infusion
from veinline.domain.batch import BatchStatus
from veinline.domain.case import (
    WRISTBAND_FREED,
    Action,
    Case,
    CaseState,
    RescheduleReason,
    check_case_id,
    local_date,
    parse_date,
    parse_moment,
    parse_zone,
    reschedule_note,
)
from veinline.domain.case_parts import (
    Collection,
    Infusion,
    Manufacturing,
    ReleaseKind,
    ReleaseOutcome,
)
from veinline.domain.catalog import Product, Site, SiteKind
from veinline.domain.coldchain import ShipperType
from veinline.domain.errors import Conflict, InvalidInput, NotAllowed, NotFound
from veinline.domain.events import BatchDisposed, Event, ResultsOutOfSpecification
from veinline.domain.identifiers import IdentifierKind
from veinline.domain.ledger import JsonObject
from veinline.domain.ledger_actions import LedgerAction
from veinline.domain.process import in_force
from veinline.domain.release import Disposition
from veinline.domain.shipment import Leg, Shipment
from veinline.domain.signature import Meaning
from veinline.domain.user import Role, User
from veinline.services import authority, batch_record, commands, release, signatures
from veinline.services.handlers import (
    Clock,
    PasswordHasher,
    allocate_identifier,
    case_record_id,
    expect_version,
)
from veinline.services.unit_of_work import AbstractUnitOfWork, missing_from_catalogue


def case_for_update(
    uow: AbstractUnitOfWork, case_id: str, expected_version: int | None = None
) -> Case:
    # Every journey handler changes the case it loads: lock it for this transaction,
    # and refuse a change the client made from an older version of it.
    case = uow.cases.get(case_id, for_update=True)
    if case is None:
        raise NotFound(f"there is no case {case_id}")
    expect_version(case, case.version, expected_version)
    return case


def _site(uow: AbstractUnitOfWork, code: str, kind: SiteKind | None = None) -> Site:
    site = uow.sites.get(code)
    if site is None:
        raise missing_from_catalogue(uow, "site", code)
    if kind is not None and site.kind is not kind:
        raise InvalidInput(
            f"{site.name} is a {site.kind.label.lower()}, not a {kind.label.lower()}"
        )
    return site


def _product(uow: AbstractUnitOfWork, code: str) -> Product:
    product = uow.products.get(code)
    if product is None:
        raise missing_from_catalogue(uow, "product", code)
    return product


def _evaluate(
    uow: AbstractUnitOfWork,
    case_product: Product,
    jurisdiction: str,
    facts: dict[str, object],
    today: date,
) -> JsonObject:
    parsed = eligibility.parse_patient(facts, today=today)
    auths = uow.authorisations.find(product_code=case_product.code)
    return eligibility.evaluate(case_product, auths, jurisdiction, parsed).to_dict()


def _refuse_missing_facts(
    uow: AbstractUnitOfWork, answer: JsonObject, facts: dict[str, object], today: date
) -> None:
    """An enrolment gives at least one fact the authorisation's criteria read: a patient
    file with none of them enrols nobody, and the refusal names every one at once. A
    file missing some is enrolled undetermined; the physician gives the rest when
    confirming eligibility, which is refused while undetermined (the enrolment page asks
    for all of them before it sends: docs/architecture.md, "Enrolment")."""
    auth = uow.authorisations.get(str(answer.get("authorisation") or ""))
    if auth is None:
        return
    read = {c.fact for c in auth.criteria_list()}
    missing = eligibility.missing_facts(auth, eligibility.parse_patient(facts, today=today))
    if missing and len(missing) == len(read):
        raise InvalidInput(
            f"the patient's facts are incomplete for {auth.id}: give "
            + "; ".join(f"{f.label} ({f.name})" for f in missing),
            fields={f"fact.{f.name}": f"required: {'; '.join(f.why)}" for f in missing},
        )


def transition(
    uow: AbstractUnitOfWork,
    case: Case,
    action: Action,
    actor: User,
    reason: str = "",
    **changes: object,
) -> None:
    before = case.snapshot()
    case.fire(action, **changes)
    uow.record(
        case,
        actor=actor,
        action=LedgerAction.of("case", action.value),
        before=before,
        reason=reason,
    )


def enrol_patient(
    cmd: commands.EnrolPatient, uow: AbstractUnitOfWork, *, actor: User, clock: Clock
) -> Case:
    if not cmd.consent_given:
        raise InvalidInput("the patient's informed consent must be recorded before enrolment")
    consent_date = parse_date(cmd.consent_date, "consent_date")
    for name in ("patient_name", "wristband_id"):
        if not str(getattr(cmd, name)).strip():
            raise InvalidInput(f"{name.replace('_', ' ')} is required")
    now = clock()
    with uow:
        product = _product(uow, cmd.product_code)
        if not product.modality.autologous:
            raise InvalidInput(
                f"{product.display_name} is an off-the-shelf product: it is ordered, "
                "not enrolled for a collection"
            )
        site = _site(uow, cmd.treatment_site, SiteKind.TREATMENT_CENTRE)
        if site.fin is None:
            raise InvalidInput(f"{site.name} has no facility identification number")
        physician = uow.users.get(cmd.treating_physician)
        if physician is None or physician.role is not Role.PHYSICIAN:
            raise InvalidInput(f"{cmd.treating_physician} is not a physician in veinline")
        today = local_date(now, site.timezone)  # an age is counted at the treatment centre
        answer = _evaluate(uow, product, cmd.jurisdiction.upper(), cmd.patient_facts, today)
        if answer["eligible"] is False:
            failed = [c["reason"] for c in answer["criteria"] if c["met"] is False]
            raise InvalidInput("the patient is not eligible: " + "; ".join(failed))
        _refuse_missing_facts(uow, answer, cmd.patient_facts, today)
        wristband = cmd.wristband_id.strip()
        holding = [
            c.id
            for c in uow.cases_with_wristband(wristband)
            if c.treatment_site == site.code and c.state not in WRISTBAND_FREED
        ]
        if holding:
            raise Conflict(
                f"this wristband is already on case {holding[0]}, open at {site.name}: "
                "continue that case, or cancel it before enrolling the patient again",
                fields={"wristband_id": f"already on open case {holding[0]}"},
            )
        number = uow.sequences.next("case", "VL", now.year)
        case_id = check_case_id(cmd.case_id or f"C{now.year}-{number:05d}")
        if uow.cases.get(case_id) is not None:
            raise Conflict(f"case {case_id} exists already")
        coi = allocate_identifier(
            uow,
            IdentifierKind.COI,
            fin=site.fin,
            at=now,
            purpose=f"case {case_id}",
            actor=actor,
            reason=f"chain of identity for case {case_id}",
        )
        case = Case(
            id=case_id,
            product_code=product.code,
            jurisdiction=cmd.jurisdiction.upper(),
            treatment_site=site.code,
            patient_name=cmd.patient_name.strip(),
            wristband_id=cmd.wristband_id.strip(),
            treating_physician=physician.username,
            coi=coi.value,
            enrolled_at=now,
            enrolled_by=actor.username,
            consent={
                "given": True,
                "date": consent_date.isoformat(),
                "form": cmd.consent_form.strip(),
            },
            eligibility=answer,
            patient_facts=dict(cmd.patient_facts),
            weight_kg=_weight(cmd.patient_facts),
        )
        uow.cases.add(case)
        uow.record(
            case,
            actor=actor,
            action=LedgerAction.CASE_ENROLLED,
            before=None,
            reason=f"enrolled for {product.code} in {case.jurisdiction}",
        )
        uow.commit()
        return case


def _weight(facts: dict[str, object]) -> float | None:
    weight = facts.get("weight_kg")
    return float(weight) if isinstance(weight, int | float) else None


def confirm_eligibility(
    cmd: commands.ConfirmEligibility, uow: AbstractUnitOfWork, *, actor: User, clock: Clock
) -> Case:
    with uow:
        case = case_for_update(uow, cmd.case_id, cmd.expected_version)
        facts = dict(cmd.patient_facts) if cmd.patient_facts is not None else case.patient_facts
        centre = _site(uow, case.treatment_site, SiteKind.TREATMENT_CENTRE)
        today = local_date(clock(), centre.timezone)
        answer = _evaluate(uow, _product(uow, case.product_code), case.jurisdiction, facts, today)
        guard_confirm_eligibility(case, answer)
        transition(
            uow,
            case,
            Action.CONFIRM_ELIGIBILITY,
            actor,
            "eligibility confirmed",
            eligibility=answer,
            patient_facts=facts,
            weight_kg=_weight(facts) or case.weight_kg,
        )
        uow.commit()
        return case


def guard_confirm_eligibility(case: Case, answer: JsonObject) -> None:
    if not case.consent.get("given"):
        raise NotAllowed(f"case {case.id} has no recorded consent")
    if answer["eligible"] is not True:
        unknown = [c["reason"] for c in answer["criteria"] if c["met"] is not True]
        word = "not eligible" if answer["eligible"] is False else "undetermined"
        raise NotAllowed(f"eligibility is {word}: " + "; ".join(unknown))


# A booking may be entered after the fact (a collection booked by telephone, entered
# the next morning) for at most this many days; it is recorded as a back-entry.
BACK_ENTRY_DAYS = 7


def book_apheresis(
    cmd: commands.BookApheresis, uow: AbstractUnitOfWork, *, actor: User, clock: Clock
) -> Case:
    day = parse_date(cmd.apheresis_date, "apheresis_date")
    with uow:
        case = case_for_update(uow, cmd.case_id, cmd.expected_version)
        unit = _site(uow, cmd.apheresis_site, SiteKind.APHERESIS_CENTRE)
        _site(uow, cmd.manufacturing_site, SiteKind.MANUFACTURING_FACILITY)
        rescheduled = ""
        if case.state is CaseState.APHERESIS_BOOKED:
            code = RescheduleReason.parse(cmd.reschedule_reason)
            if code is RescheduleReason.OTHER and not cmd.note.strip():
                raise InvalidInput("say why the apheresis is rescheduled (note)")
            rescheduled = reschedule_note(code, cmd.note, case.apheresis_date, case.apheresis_site)
        consented = case.consent.get("date")
        if consented and day < parse_date(str(consented), "consent date"):
            raise InvalidInput(
                f"apheresis on {day} would be before the patient's consent ({consented})"
            )
        # "Today" is the apheresis unit's local day, not the server's (UTC) one.
        today = clock().astimezone(parse_zone(unit.timezone, "time zone of " + unit.name)).date()
        late = (today - day).days
        if late > BACK_ENTRY_DAYS:
            raise InvalidInput(
                f"apheresis on {day} is {late} days ago at {unit.name}: a booking may be "
                f"entered at most {BACK_ENTRY_DAYS} days after the fact"
            )
        back_entry = f" (entered {late} day(s) after the fact)" if late > 0 else ""
        # Cells go only where an approved process can make them: refused now, not after
        # they are collected and shipped (docs/architecture.md, "The case's booking").
        try:
            in_force(
                uow.process_templates.find(
                    product_code=case.product_code, site=cmd.manufacturing_site
                ),
                case.product_code,
                cmd.manufacturing_site,
            )
        except NotAllowed as refused:
            raise NotAllowed(
                f"{refused.message}: book a facility with an approved process for "
                f"{case.product_code}"
            ) from None
        transition(
            uow,
            case,
            Action.BOOK_APHERESIS,
            actor,
            f"{rescheduled}apheresis on {day}{back_entry}",
            apheresis_site=cmd.apheresis_site,
            apheresis_date=day.isoformat(),
            manufacturing_site=cmd.manufacturing_site,
        )
        uow.commit()
        return case


PLANNED_KEYS = (
    "apheresis_date",
    "manufacturing_start",
    "manufacturing_end",
    "release_date",
    "infusion_date",
    "suite",
)


def set_planned_dates(
    cmd: commands.SetPlannedDates, uow: AbstractUnitOfWork, *, actor: User
) -> Case:
    unknown = sorted(set(cmd.planned) - set(PLANNED_KEYS))
    if unknown:
        raise InvalidInput(
            f"unknown planned field(s) {', '.join(unknown)}; use {', '.join(PLANNED_KEYS)}"
        )
    for key, value in cmd.planned.items():
        if key != "suite":
            parse_date(value, key)
    with uow:
        case = case_for_update(uow, cmd.case_id, cmd.expected_version)
        if case.state in (CaseState.INFUSED, CaseState.FOLLOW_UP, CaseState.CANCELLED):
            raise NotAllowed(f"case {case.id} is {case.state.label.lower()}: nothing to plan")
        before = case.snapshot()
        case.planned = {**case.planned, **cmd.planned}
        case.version += 1
        uow.record(
            case, actor=actor, action=LedgerAction.CASE_PLANNED, before=before, reason=cmd.reason
        )
        uow.commit()
        return case


def collect(cmd: commands.Collect, uow: AbstractUnitOfWork, *, actor: User, clock: Clock) -> Case:
    collected_at = parse_moment(cmd.collected_at, "collected_at")
    if collected_at > clock():
        raise InvalidInput("the collection time is in the future")
    with uow:
        case = case_for_update(uow, cmd.case_id, cmd.expected_version)
        if case.apheresis_site is None or case.manufacturing_site is None:
            raise NotAllowed(f"case {case.id} has no apheresis booking")
        site = _site(uow, case.apheresis_site)
        # Collected at the booked unit, by its own staff (docs/security.md, "Site scope").
        custody.check_place(
            custody.CustodyPoint.COLLECTION,
            site.code,
            None,
            actor.sites_as(authority.rule_for(commands.Collect).roles),
        )
        if site.fin is None:
            raise InvalidInput(f"{site.name} has no facility identification number")
        din = allocate_identifier(
            uow,
            IdentifierKind.DIN,
            fin=site.fin,
            at=collected_at,
            purpose=f"apheresis for case {case.id}",
            actor=actor,
            reason=f"collection for case {case.id}",
        )
        collection = Collection(
            din=din.value,
            check_character=din.check_character,
            collected_at=collected_at,
            site=site.code,
            volume_ml=cmd.volume_ml,
            anticoagulant=cmd.anticoagulant.strip() if cmd.anticoagulant else None,
            by=actor.username,
        )
        transition(
            uow,
            case,
            Action.COLLECT,
            actor,
            f"collected as DIN {din.value}",
            collections=[*case.collections, collection],
        )
        _new_shipment(
            uow,
            case,
            Leg.APHERESIS,
            ShipperType.FRESH_2_8,
            site.code,
            case.manufacturing_site,
            actor,
            clock(),
        )
        uow.commit()
        return case


def _new_shipment(
    uow: AbstractUnitOfWork,
    case: Case,
    leg: Leg,
    shipper_type: ShipperType,
    from_site: str,
    to_site: str,
    actor: User,
    now: datetime,
) -> Shipment:
    product = _product(uow, case.product_code)
    limits = coldchain.limits_for(shipper_type, product.storage_max_c)
    shipment = Shipment(
        id=case_record_id(uow, case.id, "S", width=2),
        case_id=case.id,
        leg=leg,
        shipper_type=shipper_type,
        from_site=from_site,
        to_site=to_site,
        created_at=now,
        low_c=limits.low,
        high_c=limits.high,
    )
    uow.shipments.add(shipment)
    uow.record(
        shipment,
        actor=actor,
        action=LedgerAction.SHIPMENT_CREATED,
        before=None,
        reason=f"{leg.value} shipment for case {case.id}",
    )
    return shipment


def _open_shipment(uow: AbstractUnitOfWork, case: Case, leg: str) -> Shipment:
    shipments = uow.shipments.find(case_id=case.id, leg=Leg(leg))
    if not shipments:
        raise NotFound(f"case {case.id} has no {leg} shipment")
    return shipments[-1]


def scan_custody(
    cmd: commands.ScanCustody, uow: AbstractUnitOfWork, *, actor: User, clock: Clock
) -> custody.CustodyEvent:
    point = custody.CustodyPoint.parse(cmd.point)
    if point is custody.CustodyPoint.BEDSIDE:
        raise InvalidInput("the bedside check is part of recording the infusion")
    now = clock()
    try:
        with uow:
            case = case_for_update(uow, cmd.case_id, cmd.expected_version)
            rule = custody.guard_scan(case, point)
            result = custody.check_scan(case, cmd.data)
            expiry = _expiry(case)
            if point is custody.CustodyPoint.PRODUCT_PICKUP and expiry and expiry <= now:
                raise NotAllowed(
                    f"the product of case {case.id} expired at {expiry.isoformat()}: "
                    "it is not shipped"
                )
            shipment = _open_shipment(uow, case, rule.shipment_leg) if rule.shipment_leg else None
            # The place of the hand-off, never on the client's word alone: where the
            # material is expected, and a site the scanning user works at.
            place = custody.check_place(
                point,
                custody.expected_place(
                    point,
                    case,
                    shipment_from=shipment.from_site if shipment else None,
                    shipment_to=shipment.to_site if shipment else None,
                ),
                cmd.site_code,
                actor.sites_as(authority.rule_for(point).roles),
            )
            if shipment is not None:
                before = shipment.snapshot()
                if point in (
                    custody.CustodyPoint.APHERESIS_PICKUP,
                    custody.CustodyPoint.PRODUCT_PICKUP,
                ):
                    shipment.dispatch(now)
                    action = LedgerAction.SHIPMENT_DISPATCHED
                else:
                    shipment.receive(now)
                    action = LedgerAction.SHIPMENT_RECEIVED
                uow.record(
                    shipment,
                    actor=actor,
                    action=action,
                    before=before,
                    reason=f"scanned at {point.label.lower()}",
                )
            event = custody.CustodyEvent(
                id=case_record_id(uow, case.id, "E"),
                case_id=case.id,
                point=point,
                actor=actor.username,
                site_code=place,
                at=now,
                scan_data=cmd.data.strip(),
                identifiers=result.to_dict(),
                shipment_id=shipment.id if shipment else None,
            )
            uow.custody_events.add(event)
            uow.record(
                event,
                actor=actor,
                action=LedgerAction.of("custody", point.value),
                before=None,
                reason=point.label,
            )
            if rule.advances is not None:
                transition(uow, case, rule.advances, actor, point.label)
            uow.commit()
            return event
    except custody.IdentityMismatch as exc:
        _record_incident(uow, cmd.case_id, point.value, cmd.data, exc.message, actor, now)
        raise


def _record_incident(
    uow: AbstractUnitOfWork,
    case_id: str,
    point: str,
    data: str,
    message: str,
    actor: User,
    now: datetime,
) -> None:
    """Kept in its own transaction: the refused change is rolled back, the incident stays."""
    with uow:
        incident = custody.IdentityIncident(
            id=case_record_id(uow, case_id, "X"),
            case_id=case_id,
            point=point,
            actor=actor.username,
            at=now,
            scan_data=data.strip(),
            message=message,
        )
        uow.incidents.add(incident)
        # The message may quote what was scanned: the incident keeps it sealed, and the
        # ledger its digest (domain/personal.py), not the words.
        uow.record(
            incident,
            actor=actor,
            action=LedgerAction.CUSTODY_IDENTITY_INCIDENT,
            before=None,
            reason=f"scan refused at {point}: identity mismatch",
        )
        uow.commit()


def import_logger_data(
    cmd: commands.ImportLoggerData, uow: AbstractUnitOfWork, *, actor: User
) -> Shipment:
    readings = coldchain.parse_logger_csv(cmd.csv_text, default_tz=parse_zone(cmd.timezone))
    with uow:
        shipment = _shipment(uow, cmd.shipment_id)
        before = shipment.snapshot()
        shipment.record_readings(readings)
        uow.record(
            shipment,
            actor=actor,
            action=LedgerAction.SHIPMENT_LOGGER_IMPORTED,
            before=before,
            reason=f"{len(readings)} readings, {len(shipment.excursions)} excursion(s)",
        )
        uow.commit()
        return shipment


def _shipment(uow: AbstractUnitOfWork, shipment_id: str) -> Shipment:
    shipment = uow.shipments.get(shipment_id)
    if shipment is None:
        raise NotFound(f"there is no shipment {shipment_id}")
    return shipment


def dispose_excursion(
    cmd: commands.DisposeExcursion,
    uow: AbstractUnitOfWork,
    *,
    actor: User,
    clock: Clock,
    hasher: PasswordHasher,
) -> Shipment:
    """QA's disposition of excursions is an e-signature (approved or rejected, 11.50)."""
    with uow:
        shipment = _shipment(uow, cmd.shipment_id)
        before = shipment.snapshot()
        signer = signatures.signer(uow, actor, cmd.username, cmd.password, hasher)
        shipment.dispose(cmd.decision, cmd.reason, signer.username, clock())
        signatures.record_change(
            uow,
            shipment,
            signer,
            LedgerAction.of("shipment", f"excursion_{cmd.decision}ed"),
            before,
            reason=str(shipment.disposition["reason"]) if shipment.disposition else cmd.reason,
            meaning=Meaning.APPROVED if cmd.decision == "accept" else Meaning.REJECTED,
        )
        uow.commit()
        return shipment


def ship_product(uow: AbstractUnitOfWork, case: Case, actor: User, now: datetime) -> None:
    assert case.manufacturing_site is not None
    _new_shipment(
        uow,
        case,
        Leg.PRODUCT,
        ShipperType.LN2_VAPOUR,
        case.manufacturing_site,
        case.treatment_site,
        actor,
        now,
    )


def recollect(cmd: commands.Recollect, uow: AbstractUnitOfWork, *, actor: User) -> Case:
    if not cmd.reason.strip():
        raise InvalidInput("a re-collection needs a reason")
    with uow:
        case = case_for_update(uow, cmd.case_id, cmd.expected_version)
        batch_id = case.batch_id
        transition(uow, case, Action.RECOLLECT, actor, cmd.reason, manufacturing=None, release=None)
        batch = uow.batches.get(batch_id) if batch_id else None
        if batch is not None and not (
            batch.status is BatchStatus.REJECTED or batch.status is BatchStatus.ABORTED
        ):
            raise NotAllowed(
                f"batch {batch.id} is {batch.status.label.lower()}: QA rejects it before the "
                "patient is collected again"
            )

        uow.commit()
        return case


# The Infuse field each bedside check is about (a form shows the finding beside it).
_INFUSION_FIELD = {
    "post_thaw_window": "thawed_at",
    "dose": "dose_cells",
    "expiry": "bag_scan",
}


def infuse(cmd: commands.Infuse, uow: AbstractUnitOfWork, *, actor: User, clock: Clock) -> Case:
    thawed = parse_moment(cmd.thawed_at, "thawed_at")
    started = parse_moment(cmd.infusion_started_at, "infusion_started_at")
    if started > clock():
        message = "the infusion start is in the future"
        raise InvalidInput(message, fields={"infusion_started_at": message})
    try:
        return _infuse(cmd, uow, actor=actor, clock=clock, thawed=thawed, started=started)
    except custody.IdentityMismatch as exc:
        _record_incident(
            uow,
            cmd.case_id,
            custody.CustodyPoint.BEDSIDE.value,
            f"wristband {cmd.wristband_id.strip()}; bag {cmd.bag_scan.strip()}",
            exc.message,
            actor,
            clock(),
        )
        raise


def _infuse(
    cmd: commands.Infuse,
    uow: AbstractUnitOfWork,
    *,
    actor: User,
    clock: Clock,
    thawed: datetime,
    started: datetime,
) -> Case:
    with uow:
        case = case_for_update(uow, cmd.case_id, cmd.expected_version)
        custody.guard_scan(case, custody.CustodyPoint.BEDSIDE)
        # Two identifiers before thaw: the wristband and the bag (DIN and CoI).
        if cmd.wristband_id.strip() != case.wristband_id:
            # The scanned wristband is another patient's record number: not quoted.
            message = f"the scanned wristband is not the patient of case {case.id}: do not thaw"
            raise custody.IdentityMismatch(message, fields={"wristband_id": message})
        try:
            result = custody.check_scan(case, cmd.bag_scan, require_both=True)
        except custody.IdentityMismatch as exc:
            exc.fields = {"bag_scan": exc.message}
            raise
        product = _product(uow, case.product_code)
        findings = [
            f
            for f in (
                infusion.check_post_thaw_window(thawed, started, product.post_thaw_window_minutes),
                infusion.check_dose(product.dose_rule, cmd.weight_kg, cmd.dose_cells),
                infusion.check_expiry(_expiry(case), started),
            )
            if f is not None
        ]
        override = cmd.override_reason.strip()
        may_override = authority.may(actor, authority.Privilege.OVERRIDE_INFUSION_CHECKS)
        if findings and not (override and may_override):
            raise infusion.InfusionRefused(
                "; ".join(f.message for f in findings)
                + (
                    " (a physician may proceed with a documented reason)"
                    if not override
                    else " (only a physician may override)"
                ),
                fields={_INFUSION_FIELD[f.check]: f.message for f in findings},
            )
        # Infused at the patient's treatment centre, by its own staff.
        custody.check_place(
            custody.CustodyPoint.BEDSIDE,
            case.treatment_site,
            None,
            actor.sites_as(authority.rule_for(commands.Infuse).roles),
        )
        record = Infusion(
            wristband_id=cmd.wristband_id.strip(),
            bag_din=result.din,
            bag_coi=result.coi,
            thawed_at=thawed,
            infusion_started_at=started,
            minutes_after_thaw=round(infusion.minutes_since_thaw(thawed, started), 1),
            weight_kg=cmd.weight_kg,
            dose_cells=cmd.dose_cells,
            flags=tuple(findings),
            override_reason=override or None,
            by=actor.username,
        )
        event = custody.CustodyEvent(
            id=case_record_id(uow, case.id, "E"),
            case_id=case.id,
            point=custody.CustodyPoint.BEDSIDE,
            actor=actor.username,
            site_code=case.treatment_site,
            at=clock(),
            scan_data=cmd.bag_scan.strip(),
            identifiers={**result.to_dict(), "wristband_id": cmd.wristband_id.strip()},
        )
        uow.custody_events.add(event)
        uow.record(
            event,
            actor=actor,
            action=LedgerAction.CUSTODY_BEDSIDE,
            before=None,
            reason="two-identifier check before thaw",
        )
        transition(
            uow,
            case,
            Action.INFUSE,
            actor,
            "infused" + (f" with override: {override}" if findings else ""),
            infusion=record,
            weight_kg=cmd.weight_kg,
        )
        uow.commit()
        return case


def _expiry(case: Case) -> datetime | None:
    return case.manufacturing.expires_at if case.manufacturing else None


def start_follow_up(cmd: commands.StartFollowUp, uow: AbstractUnitOfWork, *, actor: User) -> Case:
    with uow:
        case = case_for_update(uow, cmd.case_id, cmd.expected_version)
        transition(uow, case, Action.START_FOLLOW_UP, actor, "follow-up starts")
        uow.commit()
        return case


def cancel_case(
    cmd: commands.CancelCase, uow: AbstractUnitOfWork, *, actor: User, clock: Clock
) -> Case:
    if not cmd.reason.strip():
        raise InvalidInput("a cancellation needs a reason")
    with uow:
        case = case_for_update(uow, cmd.case_id, cmd.expected_version)
        transition(
            uow,
            case,
            Action.CANCEL,
            actor,
            cmd.reason,
            cancellation={
                "reason": cmd.reason.strip(),
                "at": clock().isoformat(),
                "by": actor.username,
                "from_state": case.state.value,
            },
        )
        uow.commit()
        return case


def correct_patient_name(
    cmd: commands.CorrectPatientName, uow: AbstractUnitOfWork, *, actor: User
) -> Case:
    """Put a misspelt name right, with a reason; the entry holds both names' digests."""
    name = cmd.patient_name.strip()
    if not name:
        raise InvalidInput("the corrected patient name is required")
    if not cmd.reason.strip():
        raise InvalidInput("a name correction needs a reason")
    with uow:
        case = case_for_update(uow, cmd.case_id, cmd.expected_version)
        if name == case.patient_name:
            raise InvalidInput(f"case {case.id} has this name already: nothing to correct")
        before = case.snapshot()
        case.patient_name = name
        case.version += 1
        uow.record(
            case,
            actor=actor,
            action=LedgerAction.CASE_PATIENT_NAME_CORRECTED,
            before=before,
            reason=cmd.reason.strip(),
        )
        uow.commit()
        return case


# ------------------------------------------------------------------ manufacturing, from the case


def start_manufacturing(
    cmd: commands.StartManufacturing, uow: AbstractUnitOfWork, *, actor: User, clock: Clock
) -> Case:
    """The received material goes into manufacturing as a batch on the process in force."""
    with uow:
        case = case_for_update(uow, cmd.case_id, cmd.expected_version)
        batch_id = cmd.batch_id.strip()
        if not batch_id:
            # The case's first batch is B-<case>, a re-manufacture B-<case>-2 and on.
            number = uow.sequences.next_in(case.id, "B")
            batch_id = f"B-{case.id}-{number}" if number > 1 else f"B-{case.id}"
        transition(
            uow,
            case,
            Action.START_MANUFACTURING,
            actor,
            f"batch {batch_id}",
            manufacturing=Manufacturing(
                batch_id=batch_id, started_at=clock(), started_by=actor.username
            ),
        )
        batch_record.open_case_batch(uow, case, batch_id, actor, clock)
        uow.commit()
        return case


def complete_manufacturing(
    cmd: commands.CompleteManufacturing, uow: AbstractUnitOfWork, *, actor: User, clock: Clock
) -> Case:
    """Filled and frozen: the bags and expiry are recorded and the product goes to QC,
    once every step of its batch record is signed."""
    if not 1 <= cmd.bag_count <= 4:
        # ISBT 128 flags 01-04 mark the containers of a set.
        raise InvalidInput("a product is filled into 1 to 4 bags")
    expires = parse_moment(cmd.expires_at, "expires_at")
    now = clock()
    if expires <= now:
        raise InvalidInput("the expiry must be in the future")
    with uow:
        case = case_for_update(uow, cmd.case_id, cmd.expected_version)
        batch = batch_record.get_batch(uow, release.case_batch_id(case))
        assert case.manufacturing is not None  # case_batch_id refused a case without one
        if batch.status is not BatchStatus.COMPLETED:
            open_steps = [s for s in batch.steps if s.status.value != "completed"]
            where = (
                f"{open_steps[0].title} is {open_steps[0].status.label.lower()}"
                if open_steps
                else batch.status.label.lower()
            )
            raise NotAllowed(f"batch {batch.id} is not finished: {where}")
        recorded = batch.recorded_count("bags")
        if recorded is not None and recorded != cmd.bag_count:
            # The bags completed (and the labels printed for them) are the bags filled.
            raise InvalidInput(
                f"the batch record of {batch.id} says {recorded} bags were filled: "
                f"complete with {recorded}, or correct the record first"
            )
        done = replace(
            case.manufacturing,
            completed_at=now,
            completed_by=actor.username,
            bag_count=cmd.bag_count,
            expires_at=expires,
            total_cells=cmd.total_cells,
        )
        transition(
            uow, case, Action.COMPLETE_MANUFACTURING, actor, "filled and frozen", manufacturing=done
        )
        uow.commit()
        return case


# ------------------------------------------------------------------ following other records


def on_results_out_of_specification(
    event: ResultsOutOfSpecification, uow: AbstractUnitOfWork, *, actor: User
) -> None:
    """Results out of specification take the batch's case out of specification at once."""
    if event.case_id is None:
        return
    case = case_for_update(uow, event.case_id)
    if case.state is not CaseState.IN_QC:
        return
    transition(
        uow,
        case,
        Action.FAIL_SPECIFICATION,
        actor,
        event.failed,
        release=ReleaseOutcome(
            ReleaseKind.OUT_OF_SPECIFICATION, event.batch_id, reason=event.failed
        ),
    )


def on_batch_disposed(event: BatchDisposed, uow: AbstractUnitOfWork, *, actor: User) -> None:
    """The case follows QA's decision on its batch: released (and its product shipment
    opened), or out of specification when the batch is rejected while in QC."""
    if event.case_id is None:
        return
    case = case_for_update(uow, event.case_id)
    if event.disposition is Disposition.REJECTED:
        if case.state is CaseState.IN_QC:
            transition(
                uow,
                case,
                Action.FAIL_SPECIFICATION,
                actor,
                f"batch {event.batch_id} rejected: {event.reason}",
                release=ReleaseOutcome(ReleaseKind.REJECTED, event.batch_id, reason=event.reason),
            )
        return
    conditional = event.disposition is Disposition.CONDITIONALLY_RELEASED
    release = ReleaseOutcome(
        ReleaseKind.CONDITIONAL if conditional else ReleaseKind.FULL,
        event.batch_id,
        at=event.at,
        by=actor.username,
        justification=event.reason if conditional else None,
        acknowledged_by=event.acknowledged_by if conditional else None,
    )
    transition(
        uow,
        case,
        Action.CONDITIONAL_RELEASE if conditional else Action.RELEASE,
        actor,
        f"batch {event.batch_id} {event.disposition.label.lower()}",
        release=release,
    )
    ship_product(uow, case, actor, event.at)


HANDLERS: dict[type[commands.Command], Callable[..., Any]] = {
    commands.EnrolPatient: enrol_patient,
    commands.ConfirmEligibility: confirm_eligibility,
    commands.BookApheresis: book_apheresis,
    commands.SetPlannedDates: set_planned_dates,
    commands.Collect: collect,
    commands.ScanCustody: scan_custody,
    commands.ImportLoggerData: import_logger_data,
    commands.DisposeExcursion: dispose_excursion,
    commands.Recollect: recollect,
    commands.Infuse: infuse,
    commands.StartFollowUp: start_follow_up,
    commands.CancelCase: cancel_case,
    commands.CorrectPatientName: correct_patient_name,
    commands.StartManufacturing: start_manufacturing,
    commands.CompleteManufacturing: complete_manufacturing,
}

EVENT_HANDLERS: dict[type[Event], list[Callable[..., None]]] = {
    ResultsOutOfSpecification: [on_results_out_of_specification],
    BatchDisposed: [on_batch_disposed],
}
