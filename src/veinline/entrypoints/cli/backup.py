"""`veinline backup` and `veinline restore`: the whole database to a file and back, the
ledger verified before the copy and after the restore (docs/operations.md).

Exit codes: 0 done, 1 the ledger does not verify (before a backup, or after a restore),
2 a refused request (the file exists, the database is not empty, not a backup).
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

from veinline.entrypoints.cli.context import CliContext, cli_context

if TYPE_CHECKING:
    from veinline.adapters.backup import Done
    from veinline.domain.ledger import VerificationReport


def backup_command(
    out: Annotated[Path, typer.Option("--out", help="The backup file to write (must not exist).")],
    force: Annotated[
        bool, typer.Option("--force", help="Back up even when the ledger does not verify.")
    ] = False,
    logical: Annotated[
        bool,
        typer.Option("--logical", help="PostgreSQL: a JSON export instead of pg_dump."),
    ] = False,
) -> None:
    """Back up the whole database to one file, after verifying the ledger.

    SQLite: SQLite's online backup. PostgreSQL: pg_dump -Fc when on PATH, else a
    compressed JSON export of every table. Exits 1 when the ledger does not verify
    (unless --force).

    The backup holds patient data sealed, never the data keys: keep the keys
    (VEINLINE_DATA_KEY, VEINLINE_DIGEST_KEY, or the SQLite database's veinline.keys file)
    backed up apart from it, or the restored patient data cannot be read.
    """
    from veinline.adapters import backup
    from veinline.services import ledger

    cli = cli_context()
    application = cli.app()
    report = ledger.verify(application.uow())
    if not report.ok:
        message = report.breaks[0].message
        if not force:
            cli.err.print(f"[bold red]ledger broken:[/] {message}", highlight=False)
            cli.fail("backup refused: the ledger does not verify (--force backs up anyway)", 1)
        cli.err.print(
            f"[bold yellow]warning:[/] the ledger does not verify ({message}); "
            "backing up anyway as --force asks",
            highlight=False,
        )
    with _progress(cli, "backing up") as progress, _refusals(cli):
        done = backup.backup(application.engine, out, logical=logical, progress=progress)
    _report(cli, "backed up", done, report)
    cli.out.print(
        "the backup does not hold the data keys: keep them backed up apart from it "
        "(docs/security.md, 'Patient data at rest')",
        highlight=False,
    )


def restore_command(
    source: Annotated[Path, typer.Argument(help="A file written by `veinline backup`.")],
    replace: Annotated[
        bool, typer.Option("--replace", help="Overwrite a database that is not empty.")
    ] = False,
) -> None:
    """Restore a backup into the configured database (empty, or --replace), then verify
    the ledger. Exits 1 when the restored ledger does not verify."""
    from veinline.adapters import backup, crypto, database
    from veinline.bootstrap import bootstrap
    from veinline.config import Settings
    from veinline.services import ledger

    cli = cli_context()
    cli.forget()
    settings = Settings.from_env()
    with cli.friendly_errors():
        # No key file is written for the database being restored: its keys are the
        # backup's, restored apart (docs/operations.md, "Restoring").
        keyring = crypto.load_keyring(settings.database_url, create=False)
    engine = database.make_engine(settings.database_url)
    crypto.attach(engine, keyring)
    try:
        with _progress(cli, "restoring") as progress, _refusals(cli):
            done = backup.restore(engine, source, replace=replace, progress=progress)
    finally:
        engine.dispose()
    # The restored database as veinline opens it: its schema as restored, then verified.
    with cli.friendly_errors():
        cli.built = bootstrap(settings, migrate="never")
    report = ledger.verify(cli.built.uow())
    _report(cli, "restored", done, report)
    if not report.ok:
        cli.err.print(f"[bold red]ledger broken:[/] {report.breaks[0].message}", highlight=False)
        raise typer.Exit(1)


def _report(cli: CliContext, what: str, done: Done, report: VerificationReport) -> None:
    tip = done.snapshot
    ledger_tip = f"#{tip.ledger_seq} {tip.ledger_hash}" if tip.ledger_seq is not None else "empty"
    cli.out.print(
        f"{what} {done.path} ({done.method}): {len(tip.counts)} tables, {tip.rows} rows, "
        f"ledger tip {ledger_tip}",
        highlight=False,
    )
    if report.ok:
        cli.out.print(
            f"ledger verified: {report.entries_checked} entries checked, "
            f"{report.records_checked} records match their last snapshot",
            highlight=False,
        )


@contextmanager
def _refusals(cli: CliContext) -> Iterator[None]:
    from veinline.adapters.backup import BackupError

    try:
        yield
    except BackupError as exc:
        cli.fail(str(exc))


@contextmanager
def _progress(cli: CliContext, label: str) -> Iterator[Callable[[int, int], None]]:
    """A Rich progress bar on stderr (shown only on a terminal, gone when done)."""
    console = Console(stderr=True)
    bar = Progress(
        TextColumn(label),
        BarColumn(),
        MofNCompleteColumn(),
        TimeElapsedColumn(),
        console=console,
        transient=True,
        disable=not console.is_terminal,
    )
    task = bar.add_task(label, total=None)

    def advance(done: int, total: int) -> None:
        bar.update(task, completed=done, total=total)

    with bar:
        yield advance


def register(app: typer.Typer) -> None:
    app.command("backup")(backup_command)
    app.command("restore")(restore_command)
