"""Process templates: versioned per product and site, approved by QA (never the author),
one version in force, technology transfer as a new draft the receiving site approves."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta

import pytest

from veinline.domain.catalog import Modality
from veinline.domain.errors import InvalidInput, NotAllowed
from veinline.domain.ledger import content_hash
from veinline.domain.process import (
    DOCUMENT_STYLE,
    DocumentStatus,
    ParameterKind,
    ParameterSpec,
    ProcessTemplate,
    StepSpec,
    default_template,
    draft_template,
    in_force,
    transfer,
)
from veinline.domain.signature import Meaning, SignatureRecord
from veinline.domain.user import Role, User

T0 = datetime(2026, 3, 2, 9, 30, tzinfo=UTC)
CN = "carsgen-shanghai"
RTP = "carsgen-rtp"


def user(username: str, role: Role, site: str | None = None) -> User:
    return User(username, f"{username.title()} Printed", role, site, T0)


QA = user("qa.wang", Role.QA_REVIEWER)
QA2 = user("qa.smith", Role.QA_REVIEWER)
OPERATOR = user("op.li", Role.MANUFACTURING_OPERATOR)


def approved(site: str = CN, number: int = 1) -> ProcessTemplate:
    template = default_template("zevor-cel", Modality.AUTOLOGOUS_CAR_T, site, at=T0, number=number)
    template.approve(by=QA, at=T0)
    return template


def unchanged(template: ProcessTemplate) -> str:
    return json.dumps(template.snapshot(), sort_keys=True)


# ------------------------------------------------------------------ defaults


def test_car_t_default_has_the_nine_autologous_steps_in_order() -> None:
    template = default_template("zevor-cel", Modality.AUTOLOGOUS_CAR_T, RTP, at=T0)
    assert [s.code for s in template.steps] == [
        "receipt",
        "selection",
        "activation",
        "transduction",
        "expansion",
        "harvest",
        "formulation",
        "fill",
        "cryopreservation",
    ]
    assert template.status is DocumentStatus.DRAFT
    assert template.demo and "demo default" in template.notes


def test_msc_default_has_the_five_msc_steps_in_order() -> None:
    template = default_template("vum02", Modality.ALLOGENEIC_MSC, "demo-msc", at=T0)
    assert [s.code for s in template.steps] == [
        "isolation",
        "expansion",
        "harvest",
        "fill",
        "cryopreservation",
    ]


def test_car_t_default_documents_moi_viability_and_critical_steps() -> None:
    template = default_template("zevor-cel", Modality.AUTOLOGOUS_CAR_T, RTP, at=T0)
    moi = template.step("transduction").parameter("Multiplicity of infection (MOI)")
    viability = template.step("expansion").parameter("Viability")
    assert (moi.low, moi.high) == (1, 5)
    assert viability.limit_text == "≥ 70%"
    assert template.step("transduction").critical
    assert not template.step("expansion").critical
    assert all(s.expected_hours > 0 for s in template.steps)
    assert template.total_hours == sum(s.expected_hours for s in template.steps)


def test_snapshot_is_json_ready_with_utc_times() -> None:
    template = approved()
    snapshot = template.snapshot()
    assert json.loads(json.dumps(snapshot)) == snapshot
    assert snapshot["created_at"] == "2026-03-02T09:30:00.000000Z"
    assert snapshot["approval"]["meaning"] == "approved"
    assert template.ENTITY_TYPE == "process_template"
    assert template.entity_id == f"zevor-cel/{CN}/v1"


def test_document_status_has_a_label_and_colour_each() -> None:
    assert set(DOCUMENT_STYLE) == set(DocumentStatus)
    assert DocumentStatus.APPROVED.label == "Approved, in force"
    assert DocumentStatus.DRAFT.colour.startswith("#")


# ------------------------------------------------------------------ parameters


def test_numeric_parameter_limits_are_inclusive() -> None:
    viability = ParameterSpec("Viability", unit="%", low=70)
    assert viability.excursion(viability.parse(70)) is None
    assert viability.excursion(viability.parse("69.9")) == (
        "Viability 69.9% is below the in-process limit ≥ 70%"
    )


def test_range_parameter_reports_values_above_the_high_limit() -> None:
    moi = ParameterSpec("MOI", low=1, high=5)
    assert moi.excursion(moi.parse(5)) is None
    assert moi.excursion(moi.parse(5.5)) == "MOI 5.5 is above the in-process limit 1 to 5"


def test_qualitative_parameter_must_match_its_expected_value() -> None:
    label = ParameterSpec("Label match", ParameterKind.TEXT, expected="match")
    assert label.excursion(label.parse("  Match ")) is None
    assert label.excursion(label.parse("mismatch")) == "Label match is 'mismatch', expected 'match'"


def test_record_only_text_parameter_never_leaves_its_limits() -> None:
    lot = ParameterSpec("Vector lot", ParameterKind.TEXT)
    assert lot.excursion(lot.parse("LV-2026-014")) is None
    assert lot.limit_text == "recorded"


def test_numeric_parameter_refuses_text_that_is_not_a_number() -> None:
    with pytest.raises(InvalidInput, match="needs a number"):
        ParameterSpec("Viability", unit="%", low=70).parse("high")


def test_parameter_refuses_low_limit_above_high_limit() -> None:
    with pytest.raises(InvalidInput, match="above the high limit"):
        ParameterSpec("MOI", low=5, high=1)


def test_step_and_parameter_round_trip_through_dicts() -> None:
    step = default_template("zevor-cel", Modality.AUTOLOGOUS_CAR_T, RTP, at=T0).step("fill")
    assert StepSpec.from_dict(step.to_dict()) == step


# ------------------------------------------------------------------ drafting and approval


def test_draft_versions_are_numbered_per_product_and_site() -> None:
    first = approved(CN)
    other_site = approved(RTP)
    second = draft_template(
        "zevor-cel", CN, first.steps, by=QA2, at=T0, existing=[first, other_site]
    )
    assert second.number == 2
    assert second.id == f"zevor-cel/{CN}/v2"


def test_qa_approves_a_draft_with_a_signature_bound_to_its_content() -> None:
    template = default_template("zevor-cel", Modality.AUTOLOGOUS_CAR_T, CN, at=T0)
    template.approve(by=QA, at=T0 + timedelta(hours=1))
    assert template.status is DocumentStatus.APPROVED
    assert template.approval == SignatureRecord(
        username="qa.wang",
        printed_name="Qa.Wang Printed",
        role="qa_reviewer",
        meaning=Meaning.APPROVED,
        at=T0 + timedelta(hours=1),
        content_hash=content_hash(template.content()),
    )
    assert template.version == 2


def test_author_cannot_approve_their_own_template() -> None:
    template = draft_template("zevor-cel", CN, approved().steps, by=QA, at=T0)
    before = unchanged(template)
    with pytest.raises(NotAllowed, match=r"wrote process .* cannot approve it"):
        template.approve(by=QA, at=T0)
    assert unchanged(template) == before


def test_an_approved_template_cannot_be_approved_again_or_edited() -> None:
    template = approved()
    with pytest.raises(NotAllowed, match="only a draft can be approved"):
        template.approve(by=QA2, at=T0)
    with pytest.raises(NotAllowed, match="cannot be edited"):
        template.revise(template.steps[:3], by=QA2)


def test_a_draft_can_be_revised_before_approval() -> None:
    template = draft_template("zevor-cel", CN, approved().steps, by=OPERATOR, at=T0)
    template.revise(template.steps[:2], by=OPERATOR, notes="shorter")
    assert [s.code for s in template.steps] == ["receipt", "selection"]
    assert template.version == 2


def test_approving_a_new_version_supersedes_the_one_in_force() -> None:
    first = approved()
    second = draft_template("zevor-cel", CN, first.steps, by=OPERATOR, at=T0, existing=[first])
    superseded = second.approve(by=QA, at=T0 + timedelta(days=1), siblings=[first, second])
    assert superseded == [first]
    assert first.status is DocumentStatus.SUPERSEDED
    assert first.superseded_by == second.id
    assert in_force([first, second], "zevor-cel", CN) is second


def test_approval_at_one_site_leaves_another_sites_version_in_force() -> None:
    china = approved(CN)
    rtp = approved(RTP)
    china2 = draft_template("zevor-cel", CN, china.steps, by=OPERATOR, at=T0, existing=[china])
    china2.approve(by=QA, at=T0, siblings=[china, rtp])
    assert rtp.status is DocumentStatus.APPROVED
    assert in_force([china, rtp, china2], "zevor-cel", RTP) is rtp


def test_draft_refuses_duplicate_step_codes() -> None:
    step = StepSpec("fill", "Fill", 2)
    with pytest.raises(InvalidInput, match="used twice: fill"):
        draft_template("zevor-cel", CN, [step, step], by=OPERATOR, at=T0)


def test_draft_refuses_a_naive_time() -> None:
    with pytest.raises(InvalidInput, match="time zone"):
        draft_template(
            "zevor-cel", CN, [StepSpec("fill", "Fill", 2)], by=OPERATOR, at=datetime(2026, 3, 2)
        )


def test_retired_template_cannot_be_used_for_a_batch() -> None:
    template = approved()
    template.retire(by=QA2, at=T0, reason="process change")
    with pytest.raises(NotAllowed, match="retired"):
        template.guard_use()
    with pytest.raises(NotAllowed, match="no approved process"):
        in_force([template], "zevor-cel", CN)


def test_retiring_needs_a_reason() -> None:
    template = approved()
    with pytest.raises(InvalidInput, match="reason"):
        template.retire(by=QA2, at=T0, reason="  ")
    assert template.status is DocumentStatus.APPROVED


# ------------------------------------------------------------------ technology transfer


def test_transfer_copies_the_approved_version_as_a_draft_at_the_receiving_site() -> None:
    china = approved(CN)
    copy = transfer(china, RTP, OPERATOR, at=T0)
    assert copy.site == RTP
    assert copy.status is DocumentStatus.DRAFT
    assert copy.steps == china.steps
    assert copy.transferred_from == china.id
    assert copy.approval is None


def test_transferred_template_is_unusable_until_approved_at_the_receiving_site() -> None:
    copy = transfer(approved(CN), RTP, OPERATOR, at=T0)
    with pytest.raises(NotAllowed, match="draft: QA at carsgen-rtp must approve it"):
        copy.guard_use()
    with pytest.raises(NotAllowed, match="waits for QA approval"):
        in_force([copy], "zevor-cel", RTP)
    copy.approve(by=user("qa.rtp", Role.QA_REVIEWER, RTP), at=T0)
    copy.guard_use()
    assert in_force([copy], "zevor-cel", RTP) is copy


def test_transferred_template_must_be_approved_by_qa_of_the_receiving_site() -> None:
    copy = transfer(approved(CN), RTP, OPERATOR, at=T0)
    with pytest.raises(NotAllowed, match="a QA reviewer of carsgen-rtp must approve it"):
        copy.approve(by=user("qa.sh", Role.QA_REVIEWER, CN), at=T0)
    assert copy.status is DocumentStatus.DRAFT


def test_only_an_approved_version_can_be_transferred() -> None:
    draft = default_template("zevor-cel", Modality.AUTOLOGOUS_CAR_T, CN, at=T0)
    with pytest.raises(NotAllowed, match="only the approved version in force"):
        transfer(draft, RTP, OPERATOR, at=T0)


def test_transfer_to_the_same_site_is_refused() -> None:
    with pytest.raises(InvalidInput, match="already"):
        transfer(approved(CN), CN, OPERATOR, at=T0)


def test_transfer_numbers_after_the_receiving_sites_versions() -> None:
    rtp_old = approved(RTP)
    copy = transfer(approved(CN), RTP, OPERATOR, at=T0, existing=[rtp_old])
    assert copy.number == 2
