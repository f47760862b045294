"""Argon2id password hashing (argon2-cffi), the OWASP-recommended algorithm."""

from __future__ import annotations

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError


class Argon2Hasher:
    """Hashes and checks passwords with Argon2id."""

    def __init__(self, *, fast_for_tests: bool = False) -> None:
        # Tests use the smallest legal cost so hundreds of users hash in a blink; the
        # library defaults (RFC 9106 low-memory profile) serve everyone else.
        self._hasher = (
            PasswordHasher(time_cost=1, memory_cost=8, parallelism=1)
            if fast_for_tests
            else PasswordHasher()
        )

    def hash(self, password: str) -> str:
        return self._hasher.hash(password)

    def verify(self, password_hash: str, password: str) -> bool:
        try:
            return self._hasher.verify(password_hash, password)
        except (VerificationError, InvalidHashError):
            return False
