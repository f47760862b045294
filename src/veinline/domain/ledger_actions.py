"""The ledger's vocabulary: every action code a ledger entry may carry, declared once.

A code names what happened to a record (`<record>.<what happened>`). Codes are never
reused for another meaning and never renamed: auditors and exports read them for years
(the habit of audit logs whose event codes are a stable contract). A new kind of change
gets a new code here; `docs/architecture.md` ("The ledger") lists them.
"""

from __future__ import annotations

from enum import StrEnum, unique


@unique
class LedgerAction(StrEnum):
    """What happened to a record, as its ledger entry says it."""

    # users and the catalogue
    USER_CREATED = "user.created"
    USER_PASSWORD_SET = "user.password_set"  # noqa: S105 (an action code, not a secret)
    USER_PASSWORD_CHANGED = "user.password_changed"  # noqa: S105 (an action code)
    USER_DEACTIVATED = "user.deactivated"
    USER_SITE_GRANTED = "user.site_granted"
    USER_SITE_REVOKED = "user.site_revoked"
    # sign-in safeguards (21 CFR 11.300(d)): wrong passwords and the lockouts they earn
    SIGN_IN_FAILED = "sign_in.failed"
    SIGN_IN_SIGNATURE_FAILED = "sign_in.signature_failed"
    SIGN_IN_LOCKED = "sign_in.locked"
    SIGN_IN_CLEARED = "sign_in.cleared"
    # patient data at rest (docs/security.md): sealed by migration 0011, keys rotated
    PERSONAL_DATA_PROTECTED = "personal_data.protected"
    DATA_KEY_ROTATED = "data_key.rotated"
    SITE_CREATED = "site.created"
    PRODUCT_CREATED = "product.created"
    PRODUCT_CHANGED = "product.changed"
    AUTHORISATION_CREATED = "authorisation.created"
    IDENTIFIER_DIN_ISSUED = "identifier.din_issued"
    IDENTIFIER_COI_ISSUED = "identifier.coi_issued"
    # signatures given on a record by itself (catalogue records)
    SIGNATURE_AUTHORED = "signature.authored"
    SIGNATURE_PERFORMED = "signature.performed"
    SIGNATURE_VERIFIED = "signature.verified"
    SIGNATURE_REVIEWED = "signature.reviewed"
    SIGNATURE_APPROVED = "signature.approved"
    SIGNATURE_RELEASED = "signature.released"
    SIGNATURE_REJECTED = "signature.rejected"
    SIGNATURE_ACKNOWLEDGED = "signature.acknowledged"
    # the case (one per arrow of its state table, and the changes that move no state)
    CASE_ENROLLED = "case.enrolled"
    CASE_PLANNED = "case.planned"
    # a misspelt name put right: the old and new name's digests, with the reason
    CASE_PATIENT_NAME_CORRECTED = "case.patient_name_corrected"
    CASE_CONFIRM_ELIGIBILITY = "case.confirm_eligibility"
    CASE_BOOK_APHERESIS = "case.book_apheresis"
    CASE_COLLECT = "case.collect"
    CASE_RECEIVE_AT_MANUFACTURING = "case.receive_at_manufacturing"
    CASE_START_MANUFACTURING = "case.start_manufacturing"
    CASE_COMPLETE_MANUFACTURING = "case.complete_manufacturing"
    CASE_RELEASE = "case.release"
    CASE_FAIL_SPECIFICATION = "case.fail_specification"
    CASE_CONDITIONAL_RELEASE = "case.conditional_release"
    CASE_RECOLLECT = "case.recollect"
    CASE_SHIP = "case.ship"
    CASE_RECEIVE_AT_SITE = "case.receive_at_site"
    CASE_INFUSE = "case.infuse"
    CASE_START_FOLLOW_UP = "case.start_follow_up"
    CASE_CANCEL = "case.cancel"
    CASE_LABELS_RECONCILED = "case.labels_reconciled"
    # custody: one per point, and the refused scans
    CUSTODY_COLLECTION = "custody.collection"
    CUSTODY_APHERESIS_PICKUP = "custody.apheresis_pickup"
    CUSTODY_MANUFACTURING_RECEIPT = "custody.manufacturing_receipt"
    CUSTODY_PRODUCT_PICKUP = "custody.product_pickup"
    CUSTODY_SITE_RECEIPT = "custody.site_receipt"
    CUSTODY_BEDSIDE = "custody.bedside"
    CUSTODY_IDENTITY_INCIDENT = "custody.identity_incident"
    # shipments and the cold chain
    SHIPMENT_CREATED = "shipment.created"
    SHIPMENT_DISPATCHED = "shipment.dispatched"
    SHIPMENT_RECEIVED = "shipment.received"
    SHIPMENT_LOGGER_IMPORTED = "shipment.logger_imported"
    SHIPMENT_EXCURSION_ACCEPTED = "shipment.excursion_accepted"
    SHIPMENT_EXCURSION_REJECTED = "shipment.excursion_rejected"
    # follow-up: one per assessment kind
    FOLLOWUP_CRS = "followup.crs"
    FOLLOWUP_ICANS = "followup.icans"
    FOLLOWUP_AGVHD = "followup.agvhd"
    FOLLOWUP_RECIST = "followup.recist"
    FOLLOWUP_IMWG = "followup.imwg"
    FOLLOWUP_ADVERSE_EVENT = "followup.adverse_event"
    FOLLOWUP_SURVIVAL = "followup.survival"
    # trials and planning
    TRIAL_CREATED = "trial.created"
    TRIAL_ENROLLED = "trial.enrolled"
    TRIAL_OUTCOME_IMPORTED = "trial.outcome_imported"
    PLANNING_WEIGHTS_SET = "planning.weights_set"
    PLANNING_PLAN_MADE = "planning.plan_made"
    PLANNING_PLAN_APPLIED = "planning.plan_applied"
    # controlled documents
    PROCESS_TEMPLATE_DRAFTED = "process_template.drafted"
    PROCESS_TEMPLATE_APPROVED = "process_template.approved"
    PROCESS_TEMPLATE_SUPERSEDED = "process_template.superseded"
    PROCESS_TEMPLATE_TRANSFERRED = "process_template.transferred"
    PROCESS_TEMPLATE_RETIRED = "process_template.retired"
    SPECIFICATION_DRAFTED = "release_specification.drafted"
    SPECIFICATION_APPROVED = "release_specification.approved"
    SPECIFICATION_SUPERSEDED = "release_specification.superseded"
    SPECIFICATION_RETIRED = "release_specification.retired"
    # the batch record
    BATCH_STARTED = "batch.started"
    BATCH_STEP_STARTED = "batch.step_started"
    BATCH_VALUE_RECORDED = "batch.value_recorded"
    BATCH_VALUE_CORRECTED = "batch.value_corrected"
    BATCH_STEP_PERFORMED = "batch.step_performed"
    BATCH_STEP_VERIFIED = "batch.step_verified"
    BATCH_CORRECTION_VERIFIED = "batch.correction_verified"
    BATCH_DEVIATION_RAISED = "batch.deviation_raised"
    BATCH_DEVIATION_INVESTIGATED = "batch.deviation_investigated"
    BATCH_DEVIATION_CLASSIFIED = "batch.deviation_classified"
    BATCH_DEVIATION_CLOSED = "batch.deviation_closed"
    BATCH_ABORTED = "batch.aborted"
    BATCH_RELEASED = "batch.released"
    BATCH_CONDITIONALLY_RELEASED = "batch.conditionally_released"
    BATCH_REJECTED = "batch.rejected"
    # QC results and QA's decision
    RELEASE_RECORD_OPENED = "release_record.opened"
    RELEASE_RECORD_RESULT_ENTERED = "release_record.result_entered"
    RELEASE_RECORD_RESULT_CORRECTED = "release_record.result_corrected"
    RELEASE_RECORD_INVESTIGATION_OPENED = "release_record.investigation_opened"
    RELEASE_RECORD_ACKNOWLEDGED = "release_record.acknowledged"
    RELEASE_RECORD_RELEASED = "release_record.released"
    RELEASE_RECORD_CONDITIONALLY_RELEASED = "release_record.conditionally_released"
    RELEASE_RECORD_REJECTED = "release_record.rejected"
    # allogeneic MSC (docs/architecture.md, "Allogeneic MSC")
    MSC_DONOR_REGISTERED = "msc_donor.registered"
    MSC_DONOR_SCREENED = "msc_donor.screened"
    MSC_LOT_STARTED = "msc_lot.started"
    MSC_LOT_FILLED = "msc_lot.filled"
    MSC_LOT_RECALLED = "msc_lot.recalled"
    MSC_VIAL_FILLED = "msc_vial.filled"
    MSC_VIAL_STORED = "msc_vial.stored"
    MSC_VIAL_QUARANTINED = "msc_vial.quarantined"
    MSC_VIAL_QUARANTINE_RELEASED = "msc_vial.quarantine_released"
    MSC_VIAL_DISCARDED = "msc_vial.discarded"
    MSC_VIAL_RESERVED = "msc_vial.reserved"
    MSC_VIAL_UNRESERVED = "msc_vial.unreserved"
    MSC_VIAL_SHIPPED = "msc_vial.shipped"
    MSC_VIAL_RECEIVED = "msc_vial.received"
    MSC_VIAL_INFUSED = "msc_vial.infused"
    MSC_VIAL_RETURNED = "msc_vial.returned"
    STORAGE_UNIT_CREATED = "storage_unit.created"
    STORAGE_UNIT_ALARM = "storage_unit.alarm"
    STORAGE_UNIT_READINGS = "storage_unit.readings"
    MSC_ORDER_PLACED = "msc_order.placed"
    MSC_ORDER_REFUSED = "msc_order.refused"
    MSC_ORDER_ALLOCATED = "msc_order.allocated"
    MSC_ORDER_SHORT = "msc_order.short"
    MSC_ORDER_CANCELLED = "msc_order.cancelled"
    MSC_ORDER_SHIPPED = "msc_order.shipped"
    MSC_ORDER_RECEIVED = "msc_order.received"
    MSC_ORDER_VIAL_INFUSED = "msc_order.vial_infused"
    MSC_ORDER_VIAL_RETURNED = "msc_order.vial_returned"
    MSC_ORDER_IDENTITY_INCIDENT = "msc_order.identity_incident"

    @property
    def record(self) -> str:
        """The kind of record the code is about ('case', 'batch', ...)."""
        return self.value.partition(".")[0]

    @classmethod
    def of(cls, record: str, happened: str) -> LedgerAction:
        """The code for `<record>.<happened>` (e.g. a state table's action); a code the
        vocabulary does not declare is refused, so no entry carries an invented code."""
        try:
            return cls(f"{record}.{happened}")
        except ValueError:
            raise LookupError(f"the ledger has no action code {record}.{happened}") from None
