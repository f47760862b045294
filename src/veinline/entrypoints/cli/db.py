"""`veinline db`: create and upgrade the schema."""

from __future__ import annotations

import os
from pathlib import Path
from typing import TYPE_CHECKING

import typer

from veinline.entrypoints.cli.context import cli_context

if TYPE_CHECKING:
    from veinline.bootstrap import App

db_app = typer.Typer(
    help="Database schema (create, upgrade) and the data keys (generate, rotate).",
    no_args_is_help=True,
)


@db_app.command("upgrade")
def db_upgrade() -> None:
    """Create or upgrade the schema to the newest migration (Alembic)."""
    cli = cli_context()
    application = cli.app(migrate="never")
    with cli.friendly_errors():
        application.migrate()
    cli.out.print(f"database at revision {_revision(application)}: {_where(application)}")


@db_app.command("status")
def db_status() -> None:
    """Show where the database is and whether its schema is current."""
    from veinline.adapters import database

    cli = cli_context()
    application = cli.app(migrate="never")
    current = database.current_revision(application.engine)
    head = database.head_revision(application.engine)
    cli.out.print(f"database: {_where(application)}")
    cli.out.print(f"revision: {current or 'none'} (newest: {head})")
    if current != head:
        raise typer.Exit(1)


@db_app.command("generate-key")
def db_generate_key(
    data_only: bool = typer.Option(
        False,
        "--data-only",
        help="Print only a new data key (to rotate to); the digest key is never rotated.",
    ),
    key_id: str | None = typer.Option(
        None, "--key-id", help="The new key's id (default: k<date>-<random>)."
    ),
) -> None:
    """Print new keys as environment lines, to keep in your secret store.

    VEINLINE_DATA_KEY seals patient data (AES-256-GCM); VEINLINE_DIGEST_KEY makes the
    wristband lookups and the ledger's digests (HMAC-SHA256) and must stay the same for
    the life of the database. An SQLite database without them in the environment makes
    its own key file, veinline.keys, beside it; PostgreSQL needs both in the environment.
    Nothing is stored by this command (docs/security.md, "Patient data at rest").
    """
    from veinline.adapters import crypto

    cli = cli_context()
    with cli.friendly_errors():
        key = crypto.new_data_key(key_id)
    cli.out.print(f"{crypto.DATA_KEY}={key.text()}", highlight=False)
    if not data_only:
        cli.out.print(f"{crypto.DIGEST_KEY}={crypto.new_digest_key()}", highlight=False)


@db_app.command("rotate-key")
def db_rotate_key(
    new_key: bool = typer.Option(
        False,
        "--new-key",
        help="SQLite key file only: write a new data key into veinline.keys first "
        "(the one it replaces is kept there as the old key until every value is re-sealed).",
    ),
) -> None:
    """Re-seal every sealed value under the current data key, ledgered as one entry.

    With keys in the environment: set VEINLINE_DATA_KEY to the new key (from
    `veinline db generate-key --data-only`) and VEINLINE_DATA_KEY_OLD to the one it
    replaces, run this, then drop VEINLINE_DATA_KEY_OLD. With the SQLite key file
    (veinline.keys): run it with --new-key; the file then holds only the new key.
    Safe to run again: a value under the current key is left as it is, a rotation cut
    short is finished by the next run, and with nothing left to do nothing is ledgered.
    """
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn

    from veinline.adapters import crypto, rekey
    from veinline.config import Settings

    cli = cli_context()
    settings = Settings.from_env()
    key_file = None
    if not os.environ.get(crypto.DATA_KEY):
        key_file = crypto.key_file_for(settings.database_url)
    if new_key and key_file is None:
        cli.fail(
            "--new-key writes the SQLite key file; with keys in the environment set "
            f"{crypto.DATA_KEY} to the new key and {crypto.DATA_KEY_OLD} to the old one"
        )
    if key_file is not None:
        with cli.friendly_errors():
            _begin_file_rotation(key_file, new_key=new_key)
    application = cli.app()
    with cli.friendly_errors():
        actor = application.user(cli.acting_user)
        with Progress(
            TextColumn("re-sealing"),
            BarColumn(),
            MofNCompleteColumn(),
            console=cli.err,
            transient=True,
        ) as bar:
            task = bar.add_task("re-seal", total=None)

            def progress(done: int, total: int) -> None:
                bar.update(task, completed=done, total=total)

            done = rekey.rotate(
                application.engine, actor=actor, clock=application.clock, progress=progress
            )
    if key_file is not None:
        with cli.friendly_errors():
            _end_file_rotation(key_file)
    if done.entry_seq is None:
        cli.out.print(f"every sealed value is under data key {done.key_id}: nothing to re-seal")
    else:
        cli.out.print(
            f"re-sealed {done.total} value(s) under data key {done.key_id} "
            f"(were under {', '.join(done.from_keys)}); ledger entry #{done.entry_seq}"
        )
    if key_file is None and os.environ.get(crypto.DATA_KEY_OLD):
        cli.out.print(f"now remove {crypto.DATA_KEY_OLD} from the environment")


def _begin_file_rotation(path: Path, *, new_key: bool) -> None:
    """With --new-key, a new data key into the key file, the one it replaces kept as the
    old key; a file that has an old key already is a rotation cut short, finished with
    the keys it has."""
    from veinline.adapters import crypto

    if not path.exists():
        raise crypto.KeysMissing(f"there is no key file {path}: nothing is sealed under it")
    keys = crypto.read_key_file(path)
    if keys.get(crypto.DATA_KEY_OLD) or not new_key:
        return
    current = crypto.parse_data_key(keys[crypto.DATA_KEY])
    crypto.write_key_file(path, crypto.new_data_key(), keys[crypto.DIGEST_KEY], old=current)


def _end_file_rotation(path: Path) -> None:
    from veinline.adapters import crypto

    keys = crypto.read_key_file(path)
    current = crypto.parse_data_key(keys[crypto.DATA_KEY])
    crypto.write_key_file(path, current, keys[crypto.DIGEST_KEY])


def _revision(application: App) -> str:
    from veinline.adapters import database

    return database.current_revision(application.engine) or "none"


def _where(application: App) -> str:
    return application.engine.url.render_as_string(hide_password=True)


def register(app: typer.Typer) -> None:
    app.add_typer(db_app, name="db")
