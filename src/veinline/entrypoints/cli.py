"""The `veinline` command line.

Every command that changes a record acts as a named user (`--as`, or the
VEINLINE_USER variable; the `system` service account by default) and goes through the
message bus, so its ledger entry is written in the same transaction.
Exit codes: 0 done, 1 a check failed (ledger broken, check character wrong),
2 bad input or a refused request.
"""

from __future__ import annotations

import json
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from typing import TYPE_CHECKING, Annotated, Any, NoReturn

import typer
from rich.console import Console
from rich.table import Table

from veinline.domain import isbt128
from veinline.domain.errors import DomainError
from veinline.domain.identifiers import IdentifierKind
from veinline.domain.user import SYSTEM_USERNAME, Role
from veinline.services import commands

if TYPE_CHECKING:
    from veinline.bootstrap import App
    from veinline.services.handlers import LoadSummary

app = typer.Typer(
    name="veinline",
    help=(
        "veinline carries a patient's cells from the treatment centre through collection,\n"
        "manufacturing, QC, release, shipping and infusion, keeping the chain of identity\n"
        "and custody and a ledger that stands in an inspection.\n\n"
        "Start the server with `veinline serve`; see each command's --help."
    ),
    no_args_is_help=True,
    add_completion=False,
    rich_markup_mode=None,
)
db_app = typer.Typer(help="Database schema: create and upgrade.", no_args_is_help=True)
ledger_app = typer.Typer(
    help="The hash-chained ledger: verify it, read a record's history.", no_args_is_help=True
)
isbt_app = typer.Typer(
    help="ISBT 128 identity: check characters, validation and barcode parsing (no database).",
    no_args_is_help=True,
)
catalog_app = typer.Typer(
    help="The product catalogue: load, list, show, change.", no_args_is_help=True
)
demo_app = typer.Typer(
    help="Demo data: fictional sites and users, marked as demo.", no_args_is_help=True
)
user_app = typer.Typer(help="Users, their roles and API tokens.", no_args_is_help=True)
identifier_app = typer.Typer(
    help="Issue DINs and chain-of-identity identifiers.", no_args_is_help=True
)
app.add_typer(db_app, name="db")
app.add_typer(ledger_app, name="ledger")
app.add_typer(isbt_app, name="isbt")
app.add_typer(catalog_app, name="catalog")
app.add_typer(demo_app, name="demo")
app.add_typer(user_app, name="user")
app.add_typer(identifier_app, name="identifier")

out = Console(soft_wrap=True)
err = Console(stderr=True, soft_wrap=True)

_state: dict[str, Any] = {}


@app.callback()
def _global(
    acting_user: Annotated[
        str,
        typer.Option(
            "--as",
            envvar="VEINLINE_USER",
            help="The user the command acts as; every ledger entry names them.",
        ),
    ] = SYSTEM_USERNAME,
) -> None:
    _state["acting_user"] = acting_user


def fail(message: str, code: int = 2) -> NoReturn:
    err.print(f"[bold red]error:[/] {message}", highlight=False)
    raise typer.Exit(code)


@contextmanager
def friendly_errors() -> Iterator[None]:
    """Turn refusals the user can cause into a message and exit code 2."""
    try:
        yield
    except DomainError as exc:
        fail(exc.message)


def _app(migrate: str = "auto") -> App:
    # Imported here so the commands that need no database (isbt, grade) start quickly.
    from veinline.bootstrap import bootstrap

    if "app" not in _state:
        with friendly_errors():
            _state["app"] = bootstrap(migrate=migrate)
    built: App = _state["app"]
    return built


def _handle(cmd: commands.Command) -> Any:
    application = _app()
    with friendly_errors():
        actor = application.user(_state.get("acting_user", SYSTEM_USERNAME))
        return application.bus.handle(cmd, actor=actor)


def _print_json(data: object) -> None:
    sys.stdout.write(json.dumps(data, indent=2, ensure_ascii=False) + "\n")


# ---------------------------------------------------------------- server


@app.command()
def serve(
    host: Annotated[str | None, typer.Option(help="Address to listen on.")] = None,
    port: Annotated[int | None, typer.Option(help="Port to listen on.")] = None,
    demo: Annotated[bool, typer.Option(help="Load the seed catalogue and demo data.")] = True,
) -> None:
    """Run the server: JSON API under /api/v1 and the web pages, on one port.

    The database is migrated first; with --demo (the default) the seed catalogue and
    demo data are loaded (idempotent).
    """
    import uvicorn

    from veinline.adapters.seed import demo_command
    from veinline.entrypoints.http.app import create_app

    application = _app(migrate="always")
    if demo:
        with friendly_errors():
            summary = _handle(demo_command())
            out.print(f"demo data: {summary.total_created()} records created")
            _load_demo_cases(application)
    settings = application.settings
    uvicorn.run(
        create_app(application),
        host=host or settings.host,
        port=port or settings.port,
        log_level="info",
    )


def _load_demo_cases(application: App) -> None:
    from veinline.adapters.seed.cases import Driver, load_demo_cases, load_demo_trial

    driver = Driver(application.bus, application.user, application.clock)
    created = load_demo_cases(driver)
    out.print(f"demo cases: {created} created (one in every state)")
    if load_demo_trial(driver):
        out.print("demo trial: IMC001-IIT with ten evaluable patients (shaped like seed 003)")


# ---------------------------------------------------------------- db


@db_app.command("upgrade")
def db_upgrade() -> None:
    """Create or upgrade the schema to the newest migration (Alembic)."""
    application = _app(migrate="never")
    with friendly_errors():
        application.migrate()
    out.print(f"database at revision {_revision(application)}: {_where(application)}")


@db_app.command("status")
def db_status() -> None:
    """Show where the database is and whether its schema is current."""
    from veinline.adapters import database

    application = _app(migrate="never")
    current = database.current_revision(application.engine)
    head = database.head_revision(application.engine)
    out.print(f"database: {_where(application)}")
    out.print(f"revision: {current or 'none'} (newest: {head})")
    if current != head:
        raise typer.Exit(1)


def _revision(application: App) -> str:
    from veinline.adapters import database

    return database.current_revision(application.engine) or "none"


def _where(application: App) -> str:
    return application.engine.url.render_as_string(hide_password=True)


# ---------------------------------------------------------------- ledger


@ledger_app.command("verify")
def ledger_verify() -> None:
    """Walk the whole chain, then compare every regulated row with its last snapshot.

    Exits 0 when all is well, 1 naming the first broken entry or record.
    """
    from veinline.services import ledger

    report = ledger.verify(_app().uow())
    if report.ok:
        out.print(
            f"ledger verified: {report.entries_checked} entries checked, "
            f"{report.records_checked} records match their last snapshot"
        )
        return
    first = report.breaks[0]
    err.print(f"[bold red]ledger broken:[/] {first.message}", highlight=False)
    err.print(f"{report.entries_checked} entries checked before the break", highlight=False)
    raise typer.Exit(1)


@ledger_app.command("history")
def ledger_history(
    entity_id: Annotated[str, typer.Argument(help="A record's id, or TYPE/ID (product/eque-cel).")],
    as_json: Annotated[bool, typer.Option("--json", help="Print JSON.")] = False,
) -> None:
    """Print every change to one record, oldest first, with old and new values."""
    from veinline.services import ledger

    entries = ledger.history(_app().uow(), entity_id)
    if not entries:
        fail(f"the ledger has no entries for {entity_id}", code=1)
    if as_json:
        from veinline.entrypoints.views.ledger import entry_view

        _print_json([entry_view(e) for e in entries])
        return
    for entry in entries:
        out.print(
            f"[bold]#{entry.seq}[/] {entry.recorded_at}  {entry.action}  "
            f"{entry.entity_type}/{entry.entity_id}  by {entry.actor_name} ({entry.actor})",
            highlight=False,
        )
        if entry.reason:
            out.print(f"    reason: {entry.reason}", highlight=False)
        if entry.signature_meaning:
            out.print(
                f"    signed: {entry.signature_meaning} (hash {entry.signed_hash})", highlight=False
            )
        for name, old, new in entry.changes():
            out.print(f"    {name}: {json.dumps(old)} -> {json.dumps(new)}", highlight=False)


# ---------------------------------------------------------------- isbt


@isbt_app.command("check-char")
def isbt_check_char(
    din: Annotated[str, typer.Argument(help="The 13-character DIN, e.g. A999921123456.")],
) -> None:
    """Print the ISO/IEC 7064 MOD 37-2 check character of a DIN."""
    with friendly_errors():
        print(isbt128.check_character(din))


@isbt_app.command("validate")
def isbt_validate(
    text: Annotated[str, typer.Argument(help="A DIN followed by its check character.")],
) -> None:
    """Exit 0 if the check character matches the DIN, 1 if it does not, 2 if malformed."""
    with friendly_errors():
        valid = isbt128.validate_with_check(text)
    if valid:
        print(f"{text}: valid")
        return
    expected = isbt128.check_character(text[:13])
    err.print(
        f"{text}: check character {text[13:]!r} does not match; expected {expected!r}",
        highlight=False,
    )
    raise typer.Exit(1)


@isbt_app.command("parse")
def isbt_parse(
    data: Annotated[str, typer.Argument(help="Barcode data, e.g. =A99992112345600 or =+03000...")],
) -> None:
    """Decode ISBT 128 barcode data (single, concatenated or compound) into JSON."""
    with friendly_errors():
        structures = isbt128.parse(data)
    _print_json([s.to_dict() for s in structures])


# ---------------------------------------------------------------- catalogue


def _report_load(summary: LoadSummary) -> None:
    for kind, count in summary.created.items():
        kept = summary.kept[kind]
        if count or kept:
            out.print(f"{kind}s: {count} created, {kept} already present")


@catalog_app.command("load")
def catalog_load() -> None:
    """Load the seed catalogue (products, authorisations, RTP facility). Idempotent."""
    from veinline.adapters.seed import catalogue_command

    _app()  # maps the domain classes before the seed records are built
    with friendly_errors():
        _report_load(_handle(catalogue_command()))


@demo_app.command("load")
def demo_load() -> None:
    """Load the seed catalogue plus demo sites and users (password: veinline-demo)."""
    from veinline.adapters.seed import demo_command

    application = _app()  # maps the domain classes before the seed records are built
    with friendly_errors():
        _report_load(_handle(demo_command()))
        _load_demo_cases(application)


@catalog_app.command("list")
def catalog_list(
    as_json: Annotated[bool, typer.Option("--json", help="Print JSON for machines.")] = False,
) -> None:
    """List the products with their authorisations."""
    from veinline.entrypoints.views import catalogue as views

    with _app().uow() as uow:
        rows = views.product_summaries(uow)
    if as_json:
        _print_json(rows)
        return
    table = Table(title="veinline catalogue")
    for column in ("code", "product", "sponsor", "modality", "target", "authorisations"):
        table.add_column(column)
    for row in rows:
        table.add_row(
            row["code"],
            row["display_name"],
            row["sponsor"],
            row["modality_label"],
            row["target"] or "-",
            ", ".join(f"{a['jurisdiction']}: {a['status_label']}" for a in row["authorisations"]),
        )
    out.print(table)


@catalog_app.command("show")
def catalog_show(
    code: Annotated[str, typer.Argument(help="Product code, e.g. eque-cel.")],
    as_json: Annotated[bool, typer.Option("--json", help="Print JSON.")] = False,
) -> None:
    """Show one product, its authorisations and eligibility criteria."""
    from veinline.entrypoints.views import catalogue as views

    with _app().uow() as uow, friendly_errors():
        detail = views.product_detail(uow, code)
    if as_json:
        _print_json(detail)
        return
    p = detail["product"]
    out.print(
        f"[bold]{p['display_name']}[/]  ({p['code']}, version {p['version']})", highlight=False
    )
    for label, key in (
        ("sponsor", "sponsor"),
        ("modality", "modality_label"),
        ("target", "target"),
        ("platform", "platform"),
        ("cell source", "cell_source"),
        ("storage", "storage"),
        ("post-thaw window", "post_thaw"),
        ("dose", "dose"),
    ):
        if p.get(key):
            out.print(f"  {label}: {p[key]}", highlight=False)
    if p["unconfirmed"]:
        out.print(f"  not from a seed (confirm): {', '.join(p['unconfirmed'])}", highlight=False)
    for fact in p["facts"]:
        out.print(f"  - {fact}", highlight=False)
    for a in detail["authorisations"]:
        out.print(
            f"\n  [bold]{a['jurisdiction']}[/] {a['regulator']}: {a['status_label']}"
            f"{' (' + a['date'] + ')' if a['date'] else ''}",
            highlight=False,
        )
        out.print(f"    {a['indication']}", highlight=False)
        if a["designations"]:
            out.print(f"    designations: {', '.join(a['designations'])}", highlight=False)
        for c in a["criteria"]:
            out.print(f"    criterion {c['id']}: {c['description']}", highlight=False)


@catalog_app.command("set")
def catalog_set(
    code: Annotated[str, typer.Argument(help="Product code.")],
    field: Annotated[str, typer.Argument(help="Field, e.g. storage_max_c.")],
    value: Annotated[str, typer.Argument(help="New value ('none' to clear).")],
    reason: Annotated[str, typer.Option(help="Why (recorded in the ledger).")],
) -> None:
    """Change one field of a product (an administrator's correction), with a reason."""
    product = _handle(commands.SetProductField(code=code, field=field, value=value, reason=reason))
    out.print(f"{product.code} is now at version {product.version}")


# ---------------------------------------------------------------- users


@user_app.command("create")
def user_create(
    username: Annotated[str, typer.Argument(help="Login name, lower case.")],
    name: Annotated[str, typer.Option(help="Printed name, shown with signatures.")],
    role: Annotated[str, typer.Option(help=f"One of: {', '.join(r.value for r in Role)}.")],
    site: Annotated[str | None, typer.Option(help="Site code the user works at.")] = None,
    password: Annotated[
        str | None,
        typer.Option(envvar="VEINLINE_NEW_PASSWORD", help="Password (prompted when absent)."),
    ] = None,
) -> None:
    """Create a user with a role (and a password to sign in and sign with)."""
    with friendly_errors():
        parsed_role = Role.parse(role)
    if password is None:
        password = typer.prompt("password", hide_input=True, confirmation_prompt=True)
    user = _handle(
        commands.CreateUser(
            username=username,
            printed_name=name,
            role=parsed_role,
            site_code=site,
            password=password,
        )
    )
    out.print(f"created {user.username} ({user.role.label})")


@user_app.command("list")
def user_list() -> None:
    """List users and their roles."""
    with _app().uow() as uow:
        users = uow.users.list()
    table = Table()
    for column in ("user", "printed name", "role", "site", "active"):
        table.add_column(column)
    for u in users:
        table.add_row(
            u.username,
            u.printed_name,
            u.role.label,
            u.site_code or "-",
            "yes" if u.active else "no",
        )
    out.print(table)


@user_app.command("token")
def user_token(
    username: Annotated[str, typer.Argument(help="The user the token acts as.")],
    password: Annotated[
        str | None, typer.Option(envvar="VEINLINE_PASSWORD", help="The user's password.")
    ] = None,
) -> None:
    """Sign in and print an API token (Authorization: Bearer TOKEN)."""
    from veinline.services import auth

    application = _app()
    if password is None:
        password = typer.prompt("password", hide_input=True)
    with friendly_errors():
        user = auth.authenticate(application.uow(), username, password, hasher=application.hasher)
    print(auth.issue_token(application.uow(), user, kind="api", clock=application.clock))


# ---------------------------------------------------------------- identifiers


@identifier_app.command("issue")
def identifier_issue(
    kind: Annotated[str, typer.Argument(help="din or coi.")],
    fin: Annotated[str, typer.Option(help="Facility identification number, e.g. A9995.")],
    purpose: Annotated[str, typer.Option(help="What the identifier is for.")],
) -> None:
    """Issue the next DIN (with its check character) or CoI identifier of a facility."""
    try:
        parsed = IdentifierKind(kind.lower())
    except ValueError:
        fail(f"kind must be din or coi, not {kind!r}")
    issued = _handle(commands.IssueIdentifier(kind=parsed, fin=fin.upper(), purpose=purpose))
    suffix = f" (check character {issued.check_character})" if issued.check_character else ""
    out.print(f"{issued.value}{suffix}", highlight=False)
    out.print(f"barcode data: {issued.barcode_data}", highlight=False)


@app.command("sign")
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

    with friendly_errors():
        parsed = Meaning.parse(meaning)
    username = typer.prompt("user name")
    password = typer.prompt("password", hide_input=True)
    _state["acting_user"] = username.strip().lower()
    entry = _handle(
        commands.SignRecord(
            entity_type=entity_type,
            entity_id=entity_id,
            meaning=parsed,
            username=username,
            password=password,
            reason=reason,
        )
    )
    out.print(
        f"signed {entity_type}/{entity_id}: {entry.signature_meaning} by {entry.actor_name} "
        f"at {entry.recorded_at} (ledger entry #{entry.seq})",
        highlight=False,
    )


def _register_feature_commands() -> None:
    # Each feature area keeps its commands in its own module and adds them here.
    from veinline.entrypoints import (
        cli_grading,
        cli_journey,
        cli_manufacturing,
        cli_planning,
        cli_planning_records,
        cli_simulation,
        cli_trials,
    )

    for module in (
        cli_journey,
        cli_manufacturing,
        cli_trials,
        cli_planning_records,
        cli_planning,
        cli_simulation,
        cli_grading,
    ):
        module.register(app)


_register_feature_commands()


def main() -> None:
    app()


if __name__ == "__main__":
    main()


__all__ = ["app", "main"]
