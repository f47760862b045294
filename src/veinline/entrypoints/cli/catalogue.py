"""`veinline catalog` and `veinline demo`: the seed catalogue, demo data, products."""

from __future__ import annotations

from typing import TYPE_CHECKING, Annotated

import typer

from veinline.entrypoints.cli.context import cli_context

if TYPE_CHECKING:
    from veinline.bootstrap import App
    from veinline.services.handlers import LoadSummary

catalog_app = typer.Typer(
    help="The product catalogue: load, list, show, change.", no_args_is_help=True
)
demo_app = typer.Typer(
    help="Demo data: fictional sites and users, marked as demo.", no_args_is_help=True
)


def report_load(summary: LoadSummary) -> None:
    for kind, count in summary.created.items():
        kept = summary.kept[kind]
        if count or kept:
            cli_context().out.print(f"{kind}s: {count} created, {kept} already present")


@catalog_app.command("load")
def catalog_load() -> None:
    """Load the seed catalogue (products, authorisations, RTP facility). Idempotent."""
    from veinline.adapters.seed import catalogue_command

    cli = cli_context()
    cli.app()  # maps the domain classes before the seed records are built
    with cli.friendly_errors():
        report_load(cli.handle(catalogue_command()))


@demo_app.command("load")
def demo_load(
    cases: Annotated[
        int,
        typer.Option(
            "--cases",
            min=0,
            max=100_000,
            help="Also generate this many more cases (fictional names; enrolled, eligible, "
            "booked and cancelled), each through the normal handlers and ledgered: about "
            "15 ms a case on SQLite. For trying the board's search and paging at scale.",
        ),
    ] = 0,
) -> None:
    """Load the seed catalogue plus demo sites, users (password: veinline-demo) and one
    demo case in every state. Loading again adds nothing twice."""
    from veinline.adapters.seed import demo_command

    cli = cli_context()
    application = cli.app()  # maps the domain classes before the seed records are built
    with cli.friendly_errors():
        report_load(cli.handle(demo_command()))
        load_demo_cases(application)
        if cases:
            generate_cases(application, cases)


def generate_cases(application: App, count: int) -> None:
    from veinline.adapters.seed.cases import Driver, load_many_cases

    cli = cli_context()
    driver = Driver(application.bus, application.user, application.clock)

    def tell(done: int) -> None:
        cli.err.print(f"  {done} of {count} cases generated", highlight=False)

    load_many_cases(driver, count, tell=tell)
    cli.out.print(f"generated cases: {count} created")


@catalog_app.command("list")
def catalog_list(
    as_json: Annotated[bool, typer.Option("--json", help="Print JSON for machines.")] = False,
) -> None:
    """List the products with their authorisations."""
    from veinline.entrypoints.views import catalogue as views

    cli = cli_context()
    with cli.app().uow() as uow:
        rows = views.product_summaries(uow)
    if as_json:
        cli.print_json(rows)
        return
    from rich.table import Table

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
    cli.out.print(table)


@catalog_app.command("show")
def catalog_show(
    code: Annotated[str, typer.Argument(help="Product code, e.g. eque-cel.")],
    as_json: Annotated[bool, typer.Option("--json", help="Print JSON.")] = False,
) -> None:
    """Show one product, its authorisations and eligibility criteria."""
    from veinline.entrypoints.views import catalogue as views

    cli = cli_context()
    with cli.app().uow() as uow, cli.friendly_errors():
        detail = views.product_detail(uow, code)
    if as_json:
        cli.print_json(detail)
        return
    p = detail["product"]
    cli.out.print(
        f"[bold]{p['display_name']}[/]  ({p['code']}, version {p['version']})"
        + ("" if p["name_confirmed"] else "  [yellow]name unconfirmed[/]"),
        highlight=False,
    )
    for line in p["summary"]:
        cli.out.print(f"  {line['label'].lower()}: {line['text']}", highlight=False, markup=False)
    cli.out.print("\n  [bold]Facts and their sources[/]", highlight=False)
    for row in p["fact_sources"]:
        source = row["source"] if row["confirmed"] else f"[yellow]{row['source']}[/]"
        cli.out.print(f"  {row['field']}: {row['value']}", highlight=False, markup=False)
        cli.out.print(f"      source: {source}", highlight=False)
    for a in detail["authorisations"]:
        cli.out.print(
            f"\n  [bold]{a['jurisdiction']}[/] {a['regulator']}: {a['status_label']}"
            f"{' (' + a['date'] + ')' if a['date'] else ''}",
            highlight=False,
        )
        cli.out.print(f"    {a['indication']}", highlight=False)
        if a["designations"]:
            cli.out.print(f"    designations: {', '.join(a['designations'])}", highlight=False)
        for c in a["criteria"]:
            cli.out.print(f"    criterion {c['id']}: {c['description']}", highlight=False)


@catalog_app.command("set")
def catalog_set(
    code: Annotated[str, typer.Argument(help="Product code.")],
    field: Annotated[str, typer.Argument(help="Field, e.g. storage_max_c.")],
    value: Annotated[str, typer.Argument(help="New value ('none' to clear).")],
    reason: Annotated[str, typer.Option(help="Why (recorded in the ledger).")],
) -> None:
    """Change one field of a product (an administrator's correction), with a reason."""
    from veinline.services import commands

    cli = cli_context()
    product = cli.handle(
        commands.SetProductField(code=code, field=field, value=value, reason=reason)
    )
    cli.out.print(f"{product.code} is now at version {product.version}")


def load_demo_cases(application: App) -> None:
    from veinline.adapters.seed.cases import Driver, load_demo_cases, load_demo_trial

    cli = cli_context()
    driver = Driver(application.bus, application.user, application.clock)
    created = load_demo_cases(driver)
    cli.out.print(f"demo cases: {created} created (one in every state)")
    if load_demo_trial(driver):
        cli.out.print(
            "demo trial: IMC001-IIT with ten evaluable patients "
            "(shaped like the IIT results Immunofoco reported, 21 March 2025)"
        )
    from veinline.adapters.seed.msc import load_demo_msc

    if load_demo_msc(driver):
        cli.out.print(
            "demo MSC: amimestrocel and VUM02 lots in two depots, orders in every state, one recall"
        )


def register(app: typer.Typer) -> None:
    app.add_typer(catalog_app, name="catalog")
    app.add_typer(demo_app, name="demo")
