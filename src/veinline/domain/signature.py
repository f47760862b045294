"""Electronic signatures (21 CFR 11.50, 11.70, 11.200; EU GMP Annex 11 §14)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum
from typing import Any

from veinline.domain.errors import InvalidInput
from veinline.domain.ledger import JsonObject, aware, content_hash, snapshot_time
from veinline.domain.user import User


def documented_reason(reason: str, what: str) -> str:
    """A reason that documents a decision: words, not a placeholder ("…", "ok", "-").

    A signed decision states its reason (21 CFR 11.50 shows the meaning; EU GMP Annex 11
    §10 asks that changes and decisions record why): at least two words and eight
    characters, with letters in them. Returns the reason with its spacing tidied.
    """
    cleaned = " ".join(reason.split())
    words = [w for w in cleaned.split(" ") if any(ch.isalpha() for ch in w)]
    if len(cleaned) < 8 or len(words) < 2:
        raise InvalidInput(
            f"{what} needs a documented reason: say what was judged and why (not {cleaned[:20]!r})"
            if cleaned
            else f"{what} needs a documented reason: say what was judged and why"
        )
    return cleaned


class Meaning(StrEnum):
    """What a signer declares by signing (11.50(a)(3)); shown with every signed record."""

    AUTHORED = "authored"
    PERFORMED = "performed"
    VERIFIED = "verified"
    REVIEWED = "reviewed"
    APPROVED = "approved"
    RELEASED = "released"
    REJECTED = "rejected"
    ACKNOWLEDGED = "acknowledged"

    @classmethod
    def parse(cls, text: str) -> Meaning:
        try:
            return cls(text.strip().lower())
        except ValueError:
            choices = ", ".join(m.value for m in cls)
            raise InvalidInput(
                f"{text!r} is not a meaning of signature; use one of: {choices}"
            ) from None


@dataclass(frozen=True)
class SignatureRecord:
    """One electronic signature kept on the record it signs (21 CFR 11.50, 11.70).

    It shows the signer's printed name, the date and time and the meaning, and carries
    the SHA-256 of the content signed, so the signature cannot be moved to other
    content. The service layer checks the signer's password (11.200) before the domain
    records it; the domain never sees a password.
    """

    username: str
    printed_name: str
    role: str
    meaning: Meaning
    at: datetime
    content_hash: str

    @classmethod
    def of(cls, user: User, meaning: Meaning, at: datetime, content: object) -> SignatureRecord:
        return cls(
            username=user.username,
            printed_name=user.printed_name,
            role=user.role.value,
            meaning=meaning,
            at=aware(at),
            content_hash=content_hash(content),
        )

    def covers(self, content: object) -> bool:
        """Whether this signature was given to exactly this content."""
        return self.content_hash == content_hash(content)

    def to_dict(self) -> JsonObject:
        return {
            "username": self.username,
            "printed_name": self.printed_name,
            "role": self.role,
            "meaning": self.meaning.value,
            "at": snapshot_time(self.at),
            "content_hash": self.content_hash,
        }

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> SignatureRecord:
        return cls(
            username=data["username"],
            printed_name=data["printed_name"],
            role=data["role"],
            meaning=Meaning(data["meaning"]),
            at=datetime.fromisoformat(data["at"]),
            content_hash=data["content_hash"],
        )


def signature_from(data: dict[str, Any] | None) -> SignatureRecord | None:
    return None if data is None else SignatureRecord.from_dict(data)
