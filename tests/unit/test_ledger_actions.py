"""The ledger's vocabulary (docs/architecture.md, "The ledger"): every code a handler can
write is declared once, and the codes built from a state table or an enum all exist."""

from __future__ import annotations

import re

import pytest

from veinline.domain.assessment import AssessmentKind
from veinline.domain.case import Action
from veinline.domain.custody import CustodyPoint
from veinline.domain.identifiers import IdentifierKind
from veinline.domain.ledger_actions import LedgerAction
from veinline.domain.release import FINAL_DISPOSITIONS
from veinline.domain.signature import Meaning


def test_codes_are_unique_and_shaped_record_dot_event() -> None:
    values = [action.value for action in LedgerAction]
    assert len(values) == len(set(values))
    for value in values:
        assert re.fullmatch(r"[a-z_]+\.[a-z_]+", value), value


@pytest.mark.parametrize("action", list(Action))
def test_every_case_action_has_a_code(action: Action) -> None:
    assert LedgerAction.of("case", action.value).record == "case"


@pytest.mark.parametrize("point", list(CustodyPoint))
def test_every_custody_point_has_a_code(point: CustodyPoint) -> None:
    assert LedgerAction.of("custody", point.value).value == f"custody.{point.value}"


@pytest.mark.parametrize("meaning", list(Meaning))
def test_every_signature_meaning_has_a_code(meaning: Meaning) -> None:
    assert LedgerAction.of("signature", meaning.value).record == "signature"


@pytest.mark.parametrize("kind", list(AssessmentKind))
def test_every_assessment_kind_has_a_code(kind: AssessmentKind) -> None:
    assert LedgerAction.of("followup", kind.value).record == "followup"


@pytest.mark.parametrize("kind", list(IdentifierKind))
def test_every_identifier_kind_has_a_code(kind: IdentifierKind) -> None:
    assert LedgerAction.of("identifier", f"{kind.value}_issued").record == "identifier"


@pytest.mark.parametrize("disposition", sorted(FINAL_DISPOSITIONS))
def test_every_final_disposition_has_a_batch_and_a_release_record_code(disposition: str) -> None:
    assert LedgerAction.of("batch", disposition).record == "batch"
    assert LedgerAction.of("release_record", disposition).record == "release_record"


@pytest.mark.parametrize("decision", ["accept", "reject"])
def test_both_excursion_decisions_have_a_code(decision: str) -> None:
    assert LedgerAction.of("shipment", f"excursion_{decision}ed").record == "shipment"


def test_an_undeclared_code_is_refused() -> None:
    with pytest.raises(LookupError, match=r"case\.teleport"):
        LedgerAction.of("case", "teleport")
