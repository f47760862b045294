"""The port for password hashing; the Argon2 adapter implements it."""

from __future__ import annotations

from typing import Protocol


class PasswordHasher(Protocol):
    """Turns a password into a stored hash and checks a password against one."""

    def hash(self, password: str) -> str: ...

    def verify(self, password_hash: str, password: str) -> bool: ...
