"""Alembic environment: runs migrations on the engine veinline hands it."""

from __future__ import annotations

from alembic import context

from veinline.adapters.orm import metadata

config = context.config
engine = config.attributes["engine"]

with engine.begin() as connection:
    context.configure(connection=connection, target_metadata=metadata, render_as_batch=True)
    context.run_migrations()
