"""The `veinline` command line, end to end, on SQLite and PostgreSQL."""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator

import pytest
from sqlalchemy import text
from typer.testing import CliRunner, Result

from veinline.bootstrap import App
from veinline.entrypoints.cli.context import cli_context
from veinline.entrypoints.cli.main import app as cli_app


def _forget_app() -> None:
    cli_context().forget()


Run = Callable[..., Result]


@pytest.fixture
def run(monkeypatch: pytest.MonkeyPatch) -> Iterator[Run]:
    def invoke(*args: str, db: App | None = None, stdin: str | None = None) -> Result:
        _forget_app()
        if db is not None:
            monkeypatch.setenv("VEINLINE_DATABASE_URL", db.settings.database_url)
        return CliRunner().invoke(cli_app, list(args), input=stdin)

    yield invoke
    _forget_app()


# ------------------------------------------------------------ ISBT 128 (no database)


@pytest.mark.parametrize(
    ("din", "expected"),
    [
        ("G123417654321", "A"),
        ("G123498654321", "H"),
        ("A999921123456", "3"),
        ("A999922012346", "*"),
    ],
)
def test_check_char_prints_the_mod_37_2_character(run: Run, din: str, expected: str) -> None:
    result = run("isbt", "check-char", din)
    assert result.exit_code == 0
    assert result.stdout.strip() == expected


@pytest.mark.parametrize(
    ("din", "why"),
    [("A99992112345", "13"), ("a999921123456", "upper case"), ("A99992112345!", "!")],
)
def test_check_char_refuses_malformed_dins_saying_why(run: Run, din: str, why: str) -> None:
    result = run("isbt", "check-char", din)
    assert result.exit_code == 2
    assert why in result.stderr


def test_validate_exit_codes_tell_valid_wrong_and_malformed(run: Run) -> None:
    assert run("isbt", "validate", "A9999220123 46*".replace(" ", "")).exit_code == 0
    wrong = run("isbt", "validate", "A9999211234564")
    assert wrong.exit_code == 1
    assert "'3'" in wrong.stderr
    assert run("isbt", "validate", "A999921123456").exit_code == 2


def test_parse_prints_one_object_per_data_structure(run: Run) -> None:
    result = run("isbt", "parse", "=A99992112345600&>0183652359")
    assert result.exit_code == 0
    parsed = json.loads(result.stdout)
    assert [p["number"] for p in parsed] == ["001", "005"]
    assert parsed[0]["fields"]["fin"] == "A9999"
    assert parsed[1]["fields"]["datetime"] == "2018-12-31T23:59"


def test_parse_refuses_a_compound_message_whose_count_is_wrong(run: Run) -> None:
    result = run("isbt", "parse", "=+03000=A99992112345600&>0183652359")
    assert result.exit_code == 2
    assert "declares 3" in result.stderr


def test_parse_exits_1_when_type_3_flags_contradict_the_din(run: Run) -> None:
    # ST-001 Table 3: flags 71 carry 'B', but G123417654321 has check character 'A' (70).
    tail = "&>0183652359" + "Z" * 200
    result = run("isbt", "parse", "=G12341765432171" + tail)
    assert result.exit_code == 1
    assert "flags 71 carry check character 'B'" in result.stderr
    assert "G123417654321" in result.stderr
    assert "ZZZZ" not in result.stderr and len(result.stderr) < 400
    assert result.stdout == ""


def test_grade_help_for_a_kind_lists_its_fields(run: Run) -> None:
    from veinline.domain.grading import fields

    result = run("grade", "icans", "--help")
    assert result.exit_code == 0
    assert "Fields of icans" in result.stdout
    for field in fields("icans"):
        assert field.name in result.stdout
    generic = run("grade", "--help")
    assert generic.exit_code == 0 and "Fields of" not in generic.stdout
    assert "veinline grade KIND --help" in " ".join(generic.stdout.split())


def test_grade_prints_the_grade_with_reasons(run: Run) -> None:
    findings = {
        "temperature_c": 38.5,
        "fever_masked_by_treatment": False,
        "hypotension": False,
        "vasopressors": [],
        "oxygen": {"device": "none"},
        "death_from_crs": False,
    }
    result = run("grade", "crs", "--input", "-", stdin=json.dumps(findings))
    assert result.exit_code == 0, result.stderr
    assert json.loads(result.stdout)["grade"] == 1


# ------------------------------------------------------------ with a database


def test_ledger_verify_counts_entries_when_all_is_well(run: Run, demo_app: App) -> None:
    result = run("ledger", "verify", db=demo_app)
    assert result.exit_code == 0, result.stderr
    assert "55 entries checked" in result.stdout


def test_ledger_verify_records_a_checkpoint_and_walks_only_what_is_new_after_it(
    run: Run, demo_app: App
) -> None:
    first = run("--as", "qa", "ledger", "verify", db=demo_app)
    assert first.exit_code == 0, first.stderr
    assert "ledger verified (full): 55 entries checked from the first entry" in first.stdout
    assert "checkpoint #1 at entry #55" in first.stdout and "recorded by qa" in first.stdout
    routine = run("--as", "qa", "ledger", "verify", db=demo_app)
    assert "(routine): 0 entries checked since the last good checkpoint" in routine.stdout
    assert "55 records match" in routine.stdout and "checkpoint #2" in routine.stdout
    # An entry edited before the checkpoint: only --full walks that far back.
    with demo_app.engine.begin() as conn:
        if demo_app.engine.dialect.name == "postgresql":
            conn.execute(
                text("ALTER TABLE ledger_entries DISABLE TRIGGER ledger_entries_append_only")
            )
        else:
            conn.execute(text("DROP TRIGGER ledger_entries_no_update"))
        conn.execute(text("UPDATE ledger_entries SET reason = 'rewritten' WHERE seq = 5"))
    assert run("--as", "qa", "ledger", "verify", db=demo_app).exit_code == 0
    full = run("--as", "qa", "ledger", "verify", "--full", db=demo_app)
    assert full.exit_code == 1
    assert "entry #5 does not match its own hash" in full.stderr
    assert "4 entries checked from the first entry before the break" in full.stderr
    assert "checkpoint #4 at entry #4" in full.stderr


def test_ledger_verify_names_the_record_edited_behind_its_back(run: Run, demo_app: App) -> None:
    with demo_app.engine.begin() as conn:
        conn.execute(text("UPDATE sites SET fin = 'A9998' WHERE code = 'demo-rtp-qc'"))
    result = run("ledger", "verify", db=demo_app)
    assert result.exit_code == 1
    assert "site demo-rtp-qc" in result.stderr and "fin" in result.stderr


def test_catalog_commands_list_and_show_the_seed_products(run: Run, demo_app: App) -> None:
    listed = run("catalog", "list", "--json", db=demo_app)
    assert listed.exit_code == 0
    codes = {p["code"] for p in json.loads(listed.stdout)}
    assert {"eque-cel", "amimestrocel", "vum02", "imc001"} <= codes
    shown = run("catalog", "show", "eque-cel", db=demo_app)
    assert "Fucaso" in shown.stdout and "HK" in shown.stdout
    missing = run("catalog", "show", "nope", db=demo_app)
    assert missing.exit_code == 2 and "no product" in missing.stderr


def test_catalog_show_never_states_an_unconfirmed_value_as_fact(run: Run, demo_app: App) -> None:
    shown = run("catalog", "show", "eque-cel", db=demo_app).stdout
    # The seed catalogue has no source for the storage limit and the post-thaw window;
    # the dose comes from FUMANBA-1 (CTR20192510, NCT05066646).
    assert "storage: at or below -150 °C (unconfirmed)" in shown
    assert "post-thaw window: 90 minutes (unconfirmed)" in shown
    dose = next(line for line in shown.splitlines() if line.strip().startswith("dose:"))
    assert "unconfirmed" not in dose
    summary = json.loads(run("catalog", "show", "zevor-cel", "--json", db=demo_app).stdout)
    rows = {row["field"]: row for row in summary["product"]["fact_sources"]}
    lines = {line["label"]: line["text"] for line in summary["product"]["summary"]}
    for label, field in (
        ("Target", "target"),
        ("Sponsor", "sponsor"),
        ("Storage", "storage_max_c"),
    ):
        if label in lines:
            assert lines[label].endswith("(unconfirmed)") == (not rows[field]["confirmed"])


@pytest.mark.parametrize("code", ["eque-cel", "zevor-cel", "amimestrocel", "vum02", "imc001"])
def test_catalog_show_names_a_source_or_unconfirmed_for_every_fact(
    run: Run, demo_app: App, code: str
) -> None:
    shown = run("catalog", "show", code, "--json", db=demo_app)
    assert shown.exit_code == 0
    rows = json.loads(shown.stdout)["product"]["fact_sources"]
    assert rows and all(r["source"].strip() for r in rows)
    assert all(r["confirmed"] != r["source"].startswith("unconfirmed") for r in rows)
    text = run("catalog", "show", code, db=demo_app).stdout
    lines = text.splitlines()
    # Every fact line is followed by its source line, as the JSON has them.
    sources = [line.strip() for line in lines if line.strip().startswith("source: ")]
    assert len(sources) == len(rows)
    assert [s.removeprefix("source: ") for s in sources] == [
        " ".join(r["source"].split()) for r in rows
    ]


def test_catalog_load_twice_creates_nothing_new(run: Run, demo_app: App) -> None:
    result = run("catalog", "load", db=demo_app)
    assert result.exit_code == 0
    assert "products: 0 created, 8 already present" in result.stdout


def test_a_change_shows_in_the_history_with_old_and_new_values(run: Run, demo_app: App) -> None:
    changed = run(
        "--as",
        "admin",
        "catalog",
        "set",
        "vum02",
        "post_thaw_window_minutes",
        "45",
        "--reason",
        "label check",
        db=demo_app,
    )
    assert changed.exit_code == 0, changed.stderr
    history = run("ledger", "history", "vum02", db=demo_app)
    assert "post_thaw_window_minutes: 60 -> 45" in history.stdout
    assert "Demo Administrator" in history.stdout


def test_identifiers_are_issued_to_permitted_users_only(run: Run, demo_app: App) -> None:
    issued = run(
        "--as",
        "nurse",
        "identifier",
        "issue",
        "din",
        "--fin",
        "A9995",
        "--purpose",
        "apheresis",
        db=demo_app,
    )
    assert issued.exit_code == 0, issued.stderr
    assert "=A9995" in issued.stdout
    refused = run(
        "--as",
        "courier",
        "identifier",
        "issue",
        "din",
        "--fin",
        "A9995",
        "--purpose",
        "apheresis",
        db=demo_app,
    )
    assert refused.exit_code == 2 and "courier may not" in refused.stderr
