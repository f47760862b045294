"""Errors a user can cause, with messages a coordinator understands.

Entrypoints turn them into 4xx answers (API) or exit code 2 (CLI); see
docs/architecture.md, "How a request flows".
"""

from __future__ import annotations


class DomainError(Exception):
    """A request the domain refuses; the message is shown to the user as it is."""

    code = "refused"

    def __init__(self, message: str, *, fields: dict[str, str] | None = None) -> None:
        super().__init__(message)
        self.message = message
        # Which input fields the refusal is about, each with its own words, when the
        # refusal can say so: a form shows each message beside its field.
        self.fields: dict[str, str] = dict(fields or {})


class InvalidInput(DomainError):
    """Input that is malformed: wrong shape, wrong characters, missing field."""

    code = "invalid_input"


class NotFound(DomainError):
    """A record the request names does not exist."""

    code = "not_found"


class NotAllowed(DomainError):
    """The actor's role or the record's state does not allow this action."""

    code = "not_allowed"


class NotAuthenticated(NotAllowed):
    """The request names no signed-in user, or the sign-in has expired."""

    code = "not_authenticated"


class Conflict(DomainError):
    """The request clashes with a record that exists already."""

    code = "conflict"


def require_text(text: str, what: str) -> str:
    """The text with its whitespace tidied, or a refusal naming what is missing."""
    cleaned = " ".join(text.split())
    if not cleaned:
        raise InvalidInput(f"{what} is required")
    return cleaned
