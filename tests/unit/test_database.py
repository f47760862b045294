"""The schema check at start compares the database with `SCHEMA_HEAD`, not with the
migration scripts (reading them needs Alembic); the constant must be Alembic's head."""

from __future__ import annotations

from sqlalchemy import create_engine

from veinline.adapters import database


def test_schema_head_is_the_newest_migration() -> None:
    engine = create_engine("sqlite://")
    assert database.head_revision(engine) == database.SCHEMA_HEAD
