"""Electronic signatures (21 CFR 11.50, 11.70, 11.200; EU GMP Annex 11 §14)."""

from __future__ import annotations

from enum import StrEnum

from veinline.domain.errors import InvalidInput


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
