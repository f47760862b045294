"""CLI commands of manufacturing and release: process templates, specifications, batch
records, QC results, QA's decision and the certificate of analysis.

Signing commands ask for the signer's user name and password (21 CFR 11.200) at a prompt;
the user name signed with becomes the acting user.
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Any

import typer

from veinline.entrypoints.cli.context import cli_context
from veinline.services import commands

process_app = typer.Typer(
    help="Manufacturing process templates: draft, approve, transfer, retire.",
    no_args_is_help=True,
)
spec_app = typer.Typer(
    help="Release specifications per product and market: draft, approve.", no_args_is_help=True
)
batch_app = typer.Typer(
    help="Batch records: steps, signatures, deviations, QC results and QA's decision.\n\n"
    "A batch is started from its case (`veinline case start-manufacturing`); steps then "
    "follow the process order: start-step, record, sign (performed), verify (critical "
    "steps, a second person). QC enters results (`result`); QA releases, releases "
    "conditionally after an OOS investigation and the physician's acknowledgement, or "
    "rejects.",
    no_args_is_help=True,
)
deviation_app = typer.Typer(
    help="Deviations of a batch: raise, investigate, classify, close (QA signs).",
    no_args_is_help=True,
)


def _do(cmd: commands.Command) -> Any:
    return cli_context().handle(cmd)


def _signing() -> tuple[str, str]:
    return cli_context().signer()


def _say(text: str) -> None:
    cli_context().out.print(text, highlight=False)


def _batch_done(batch: Any, what: str) -> None:
    _say(f"batch {batch.id}: {what} — now {batch.status.label.lower()}")


def _record_done(record: Any, what: str) -> None:
    _say(f"batch {record.batch_id}: {what} — now {record.disposition.label.lower()}")


def _json_file(path: Path | None, what: str) -> Any:
    import json

    cli = cli_context()
    if path is None:
        return None
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except OSError as exc:
        cli.fail(f"cannot read {what} {path}: {exc.strerror}")
    except json.JSONDecodeError as exc:
        cli.fail(f"{what} {path} is not JSON: {exc}")


# ------------------------------------------------------------------ process templates


@process_app.command("list")
def process_list() -> None:
    """Every process version with its status and approval, as JSON."""
    cli = cli_context()
    application = cli.app()
    with application.uow() as uow:
        cli.print_json([t.snapshot() for t in uow.process_templates.list()])


@process_app.command("draft")
def process_draft(
    product: Annotated[str, typer.Option(help="Product code, e.g. zevor-cel.")],
    site: Annotated[str, typer.Option(help="Manufacturing facility code.")],
    steps: Annotated[
        Path | None,
        typer.Option(help="JSON list of steps; leave out for the demo default process."),
    ] = None,
    notes: Annotated[str, typer.Option()] = "",
) -> None:
    """Write a new draft version of a product's process at a site (QA approves it)."""
    template = _do(commands.DraftProcess(product, site, _json_file(steps, "steps"), notes))
    _say(f"process {template.id}: drafted — QA at {site} approves it before use")


@process_app.command("approve")
def process_approve(
    template_id: Annotated[str, typer.Argument(help="e.g. zevor-cel/carsgen-rtp/v2")],
) -> None:
    """QA approves a draft by signature; the version in force is superseded."""
    template = _do(commands.ApproveProcess(template_id, *_signing()))
    _say(f"process {template.id}: approved (signed) — in force at {template.site}")


@process_app.command("transfer")
def process_transfer(
    template_id: Annotated[str, typer.Argument()],
    to: Annotated[str, typer.Option(help="The receiving manufacturing facility.")],
) -> None:
    """Technology transfer: the version in force becomes a draft at another site."""
    copy = _do(commands.TransferProcess(template_id, to))
    _say(f"process {copy.id}: drafted by transfer from {template_id} — QA at {to} approves it")


@process_app.command("retire")
def process_retire(
    template_id: Annotated[str, typer.Argument()], reason: Annotated[str, typer.Option()]
) -> None:
    """QA takes a version out of use."""
    template = _do(commands.RetireProcess(template_id, reason))
    _say(f"process {template.id}: retired")


# ------------------------------------------------------------------ specifications


@spec_app.command("list")
def spec_list() -> None:
    """Every specification version with its tests and status, as JSON."""
    cli = cli_context()
    application = cli.app()
    with application.uow() as uow:
        cli.print_json([s.snapshot() for s in uow.specifications.list()])


@spec_app.command("draft")
def spec_draft(
    product: Annotated[str, typer.Option(help="Product code.")],
    market: Annotated[str, typer.Option(help="Market: CN, HK, US...")],
    tests: Annotated[
        Path | None, typer.Option(help="JSON list of tests; leave out for the demo panel.")
    ] = None,
    notes: Annotated[str, typer.Option()] = "",
) -> None:
    """Write a new draft specification version for a market (QA approves it)."""
    spec = _do(
        commands.DraftSpecification(product, market.upper(), _json_file(tests, "tests"), notes)
    )
    _say(f"specification {spec.id}: drafted — QA approves it before QC tests against it")


@spec_app.command("approve")
def spec_approve(spec_id: Annotated[str, typer.Argument(help="e.g. eque-cel/HK/v1")]) -> None:
    """QA approves a draft specification by signature."""
    spec = _do(commands.ApproveSpecification(spec_id, *_signing()))
    _say(f"specification {spec.id}: approved (signed)")


# ------------------------------------------------------------------ batches


@batch_app.command("list")
def batch_list() -> None:
    """Every batch with its status, as JSON."""
    from veinline.entrypoints.views.manufacturing import visible_batches

    cli = cli_context()
    application = cli.app()
    with cli.friendly_errors(), application.uow() as uow:
        viewer = application.user(cli.acting_user)
        cli.print_json(
            [
                {"id": b.id, "product": b.product_code, "case": b.case_id, "status": b.status}
                for b in visible_batches(uow, viewer)
            ]
        )


@batch_app.command("show")
def batch_show(batch_id: Annotated[str, typer.Argument()]) -> None:
    """The batch record, its QC record and every signature, as JSON."""
    from veinline.entrypoints.views.manufacturing import batch_view

    cli = cli_context()
    application = cli.app()
    with cli.friendly_errors(), application.uow() as uow:
        cli.print_json(batch_view(uow, batch_id, application.user(cli.acting_user)))


@batch_app.command("start-step")
def batch_start_step(
    batch_id: Annotated[str, typer.Argument()],
    step: Annotated[str, typer.Argument(help="Step code, e.g. selection.")],
    suite: Annotated[str, typer.Option(help="Clean-room suite.")],
    equipment: Annotated[
        list[str] | None, typer.Option(help="Equipment id; repeat for each.")
    ] = None,
) -> None:
    """Start the next step in process order, in a suite, with its equipment."""
    _batch_done(
        _do(commands.StartStep(batch_id, step, suite, list(equipment or []))), f"{step} started"
    )


@batch_app.command("record")
def batch_record(
    batch_id: Annotated[str, typer.Argument()],
    step: Annotated[str, typer.Argument()],
    parameter: Annotated[str, typer.Argument(help="Parameter name, as the template names it.")],
    value: Annotated[
        str,
        typer.Argument(
            help="A number in the parameter's unit (1.5) or with a unit of the same kind "
            "('1.5e9 cells', '50 uL'); match/mismatch, yes/no or one of a choice's values."
        ),
    ],
) -> None:
    """Record a parameter's value; outside its limit a deviation opens at once.

    A value of the wrong type (a word for a number, a volume for a cell count, a bare count
    of single cells where the unit is ×10^9 cells) is refused and nothing is recorded.
    """
    batch = _do(commands.RecordValue(batch_id, step, parameter, value))
    opened = [d for d in batch.deviations if d.is_open and d.step_code == step]
    _batch_done(batch, f"{parameter} recorded")
    for deviation in opened:
        _say(f"  deviation {deviation.summary}")


@batch_app.command("correct")
def batch_correct(
    batch_id: Annotated[str, typer.Argument()],
    seq: Annotated[int, typer.Argument(help="The entry number to correct.")],
    value: Annotated[str, typer.Argument()],
    reason: Annotated[str, typer.Option()],
    sign: Annotated[
        bool, typer.Option(help="The step is signed already: sign the correction too.")
    ] = False,
) -> None:
    """Correct an entry: a new entry pointing to it; the first value stays visible."""
    username, password = _signing() if sign else ("", "")
    batch = _do(commands.CorrectValue(batch_id, seq, value, reason, username, password))
    _batch_done(batch, f"entry #{seq} corrected")


@batch_app.command("sign")
def batch_sign(
    batch_id: Annotated[str, typer.Argument()], step: Annotated[str, typer.Argument()]
) -> None:
    """The operator signs a step "performed" (user name and password)."""
    batch = _do(commands.CompleteStep(batch_id, step, *_signing()))
    _batch_done(batch, f"{step} signed performed")


@batch_app.command("verify")
def batch_verify(
    batch_id: Annotated[str, typer.Argument()], step: Annotated[str, typer.Argument()]
) -> None:
    """A second person signs a critical step "verified" (never its performer)."""
    batch = _do(commands.VerifyStep(batch_id, step, *_signing()))
    _batch_done(batch, f"{step} signed verified")


@batch_app.command("verify-correction")
def batch_verify_correction(
    batch_id: Annotated[str, typer.Argument()], seq: Annotated[int, typer.Argument()]
) -> None:
    """A second person verifies a correction made after signature."""
    batch = _do(commands.VerifyCorrection(batch_id, seq, *_signing()))
    _batch_done(batch, f"correction #{seq} verified")


@batch_app.command("abort")
def batch_abort(
    batch_id: Annotated[str, typer.Argument()], reason: Annotated[str, typer.Option()]
) -> None:
    """QA stops a batch that cannot go on."""
    _batch_done(_do(commands.AbortBatch(batch_id, reason)), "aborted")


@deviation_app.command("raise")
def deviation_raise(
    batch_id: Annotated[str, typer.Argument()],
    description: Annotated[str, typer.Option()],
    severity: Annotated[str, typer.Option(help="minor, major or critical.")],
    step: Annotated[str | None, typer.Option(help="The step it happened in.")] = None,
) -> None:
    """Report a deviation by hand (an out-of-limit value raises its own)."""
    batch = _do(commands.RaiseDeviation(batch_id, description, severity, step))
    _batch_done(batch, f"deviation {batch.deviations[-1].id} raised")


@deviation_app.command("investigate")
def deviation_investigate(
    batch_id: Annotated[str, typer.Argument()], deviation_id: Annotated[str, typer.Argument()]
) -> None:
    """Start investigating a deviation."""
    _batch_done(
        _do(commands.InvestigateDeviation(batch_id, deviation_id)),
        f"{deviation_id} under investigation",
    )


@deviation_app.command("classify")
def deviation_classify(
    batch_id: Annotated[str, typer.Argument()],
    deviation_id: Annotated[str, typer.Argument()],
    severity: Annotated[str, typer.Option(help="minor, major or critical.")],
    reason: Annotated[str, typer.Option()],
) -> None:
    """QA changes a deviation's class; the earlier class stays on file."""
    batch = _do(commands.ClassifyDeviation(batch_id, deviation_id, severity, reason))
    _batch_done(batch, f"{deviation_id} classified {severity}")


@deviation_app.command("close")
def deviation_close(
    batch_id: Annotated[str, typer.Argument()],
    deviation_id: Annotated[str, typer.Argument()],
    root_cause: Annotated[str, typer.Option()],
    capa: Annotated[str, typer.Option(help="Corrective and preventive action.")],
) -> None:
    """QA closes an investigated deviation with its root cause and CAPA, and signs."""
    batch = _do(commands.CloseDeviation(batch_id, deviation_id, root_cause, capa, *_signing()))
    _batch_done(batch, f"{deviation_id} closed (signed)")


@batch_app.command("result")
def batch_result(
    batch_id: Annotated[str, typer.Argument()],
    test: Annotated[str, typer.Argument(help="Test code, e.g. viability.")],
    value: Annotated[
        str,
        typer.Argument(
            help="As reported: 81.2, '87%', not detected, no growth; '<0.5' or 'below LoQ' "
            "where the test's method reports them."
        ),
    ],
) -> None:
    """QC enters a release test's result; it is evaluated against the specification."""
    record = _do(commands.EnterResult(batch_id, test, value))
    result = record.result(test)
    _record_done(record, f"{test} {result.current.text}: {result.current.reason}")


@batch_app.command("correct-result")
def batch_correct_result(
    batch_id: Annotated[str, typer.Argument()],
    test: Annotated[str, typer.Argument()],
    value: Annotated[str, typer.Argument()],
    reason: Annotated[str, typer.Option()],
) -> None:
    """QC corrects a result; the first value stays visible (and is marked on the CoA)."""
    record = _do(commands.CorrectResult(batch_id, test, value, reason))
    _record_done(record, f"{test} corrected")


@batch_app.command("investigate-oos")
def batch_investigate(
    batch_id: Annotated[str, typer.Argument()],
    reference: Annotated[str, typer.Option(help="The investigation's quality-system reference.")],
    summary: Annotated[str, typer.Option()],
) -> None:
    """Open the out-of-specification investigation."""
    record = _do(commands.OpenInvestigation(batch_id, reference, summary))
    _record_done(record, f"investigation {reference} opened")


@batch_app.command("acknowledge")
def batch_acknowledge(
    batch_id: Annotated[str, typer.Argument()],
    statement: Annotated[str, typer.Option()] = "",
) -> None:
    """The treating physician acknowledges the out-of-specification results, and signs."""
    record = _do(commands.AcknowledgeResults(batch_id, *_signing(), statement))
    _record_done(record, "results acknowledged (signed)")


@batch_app.command("release")
def batch_release(batch_id: Annotated[str, typer.Argument()]) -> None:
    """QA releases a batch that meets its specification, by signature."""
    record = _do(commands.ReleaseBatch(batch_id, *_signing()))
    _record_done(record, "released (signed)")


@batch_app.command("release-conditionally")
def batch_release_conditionally(
    batch_id: Annotated[str, typer.Argument()],
    justification: Annotated[str, typer.Option(help="The documented justification.")],
) -> None:
    """QA releases an out-of-specification batch under its investigation, by signature."""
    username, password = _signing()
    record = _do(commands.ReleaseBatchConditionally(batch_id, justification, username, password))
    _record_done(record, "released conditionally (signed)")


@batch_app.command("reject")
def batch_reject(
    batch_id: Annotated[str, typer.Argument()], reason: Annotated[str, typer.Option()]
) -> None:
    """QA rejects the batch, by signature (the case may then be collected again)."""
    record = _do(commands.RejectBatch(batch_id, reason, *_signing()))
    _record_done(record, "rejected (signed)")


# ------------------------------------------------------------------ certificate


def coa_command(
    batch_id: Annotated[str, typer.Argument(help="The batch, e.g. B-DEMO-08.")],
    out: Annotated[Path, typer.Option(help="Where to write the PDF.")],
) -> None:
    """Write the certificate of analysis of a decided batch as PDF: product, CoI, DIN,
    batch, every test with its specification, result and verdict (values changed after
    first entry marked), and every signature with printed name, time and meaning."""
    from veinline.adapters.coa_pdf import render_coa
    from veinline.services import release

    cli = cli_context()
    with cli.friendly_errors():
        pdf = render_coa(
            release.certificate(
                cli.app().uow(), batch_id, cli.app().user(cli_context().acting_user)
            )
        )
    try:
        out.write_bytes(pdf)
    except OSError as exc:
        cli.fail(f"cannot write {out}: {exc.strerror}")
    _say(f"certificate of analysis of batch {batch_id}: {out} ({len(pdf):,} bytes)")


def register(app: typer.Typer) -> None:
    app.command("coa")(coa_command)
    app.add_typer(process_app, name="process")
    app.add_typer(spec_app, name="spec")
    batch_app.add_typer(deviation_app, name="deviation")
    app.add_typer(batch_app, name="batch")
