"""`veinline ledger` (verify the chain, a record's history) and `veinline sign`."""

from __future__ import annotations

import json
from typing import Annotated

import typer

from veinline.entrypoints.cli.context import cli_context
from veinline.services import commands

ledger_app = typer.Typer(
    help="The hash-chained ledger: verify it, read a record's history.", no_args_is_help=True
)


@ledger_app.command("verify")
def ledger_verify(
    full: Annotated[
        bool,
        typer.Option(
            "--full",
            help="Walk the whole chain from the first entry, not only what is new since "
            "the last good checkpoint (finds an entry edited before that checkpoint).",
        ),
    ] = False,
) -> None:
    """Verify the ledger and record the result as a checkpoint.

    A routine check walks the entries added since the last good checkpoint, starting
    from that checkpoint's hash, then compares every regulated record with its last
    snapshot and checks QA's release signatures. --full walks the whole chain again.
    The first verification of a database is always a full one. The result, good or
    broken, is recorded as the newest checkpoint, signed by the acting user (--as);
    the ledger page and GET /api/v1/ledger/checkpoint show it.

    Exits 0 when all is well, 1 naming the first broken entry or record.
    """
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TimeRemainingColumn

    from veinline.services import ledger

    cli = cli_context()
    application = cli.app()
    with cli.friendly_errors():
        actor = application.user(cli.acting_user)
    columns = (*Progress.get_default_columns()[:1], BarColumn(), MofNCompleteColumn())
    with Progress(*columns, TimeRemainingColumn(), console=cli.err, transient=True) as bar:
        task = bar.add_task("verifying the ledger", total=None)

        def advance(done: int, total: int) -> None:
            bar.update(task, completed=done, total=total)

        checkpoint, report = ledger.check(
            application.uow(), actor=actor, full=full, progress=advance
        )
    kind = "full" if checkpoint.full else "routine"
    since = "from the first entry" if checkpoint.full else "since the last good checkpoint"
    recorded = (
        f"checkpoint #{checkpoint.number} at entry #{checkpoint.last_seq} "
        f"(hash {checkpoint.tip_hash[:16]}…) recorded by {checkpoint.checked_by} "
        f"at {checkpoint.checked_at}"
    )
    if report.ok:
        cli.out.print(
            f"ledger verified ({kind}): {report.entries_checked} entries checked {since}, "
            f"{report.records_checked} records match their last snapshot",
            highlight=False,
        )
        cli.out.print(recorded, highlight=False)
        return
    first = report.breaks[0]
    cli.err.print(f"[bold red]ledger broken:[/] {first.message}", highlight=False)
    cli.err.print(
        f"{report.entries_checked} entries checked {since} before the break", highlight=False
    )
    cli.err.print(recorded, highlight=False)
    raise typer.Exit(1)


@ledger_app.command("history")
def ledger_history(
    entity_id: Annotated[str, typer.Argument(help="A record's id, or TYPE/ID (product/eque-cel).")],
    as_json: Annotated[bool, typer.Option("--json", help="Print JSON.")] = False,
) -> None:
    """Print every change to one record, oldest first, with old and new values."""
    from veinline.services import ledger

    cli = cli_context()
    entries = ledger.history(cli.app().uow(), entity_id)
    if not entries:
        cli.fail(f"the ledger has no entries for {entity_id}", code=1)
    if as_json:
        from veinline.entrypoints.views.ledger import entry_view

        cli.print_json([entry_view(e) for e in entries])
        return
    for entry in entries:
        cli.out.print(
            f"[bold]#{entry.seq}[/] {entry.recorded_at}  {entry.action}  "
            f"{entry.entity_type}/{entry.entity_id}  by {entry.actor_name} ({entry.actor})",
            highlight=False,
        )
        if entry.reason:
            cli.out.print(f"    reason: {entry.reason}", highlight=False)
        if entry.signature_meaning:
            cli.out.print(
                f"    signed: {entry.signature_meaning} (hash {entry.signed_hash})", highlight=False
            )
        for name, old, new in entry.changes():
            cli.out.print(f"    {name}: {json.dumps(old)} -> {json.dumps(new)}", highlight=False)


def sign_command(
    entity_type: Annotated[str, typer.Argument(help="product, authorisation or site.")],
    entity_id: Annotated[str, typer.Argument(help="The record's id, e.g. eque-cel.")],
    meaning: Annotated[str, typer.Option(help="approved, reviewed, verified, ...")],
    reason: Annotated[str, typer.Option(help="Why you sign (recorded).")] = "",
) -> None:
    """Sign a record electronically (21 CFR Part 11): re-enter your user name and password.

    The signature records your printed name, the time, the meaning, and a hash of the
    record as it stands, in the ledger.
    """
    from veinline.domain.signature import Meaning

    cli = cli_context()
    with cli.friendly_errors():
        parsed = Meaning.parse(meaning)
    username, password = cli.signer()
    entry = cli.handle(
        commands.SignRecord(
            entity_type=entity_type,
            entity_id=entity_id,
            meaning=parsed,
            username=username,
            password=password,
            reason=reason,
        )
    )
    cli.out.print(
        f"signed {entity_type}/{entity_id}: {entry.signature_meaning} by {entry.actor_name} "
        f"at {entry.recorded_at} (ledger entry #{entry.seq})",
        highlight=False,
    )


def register(app: typer.Typer) -> None:
    app.add_typer(ledger_app, name="ledger")
    app.command("sign")(sign_command)
