"""The README's journey works as written (README, "The journey, from the command line"):
its ```sh blocks run, in order, in one shell from the repository's folder, with
`bin/veinline` on the PATH, against a fresh embedded database holding the demo data;
every block exits 0 and the new case ends infused. Passwords come from VEINLINE_PASSWORD,
the signer's name from --as, as a user's terminal would ask them.

On the embedded SQLite database the README uses, and on PostgreSQL (the same blocks with
VEINLINE_DATABASE_URL pointing at a scratch database, as a production install would)."""

from __future__ import annotations

import os
import re
import subprocess
from pathlib import Path

from veinline.adapters.passwords import Argon2Hasher
from veinline.adapters.seed import demo_command
from veinline.adapters.seed.cases import Driver, load_demo_cases
from veinline.bootstrap import bootstrap
from veinline.config import Settings
from veinline.domain.case import CaseState
from veinline.services import ledger

REPOSITORY = Path(__file__).resolve().parents[2]
SECTION = "## The journey, from the command line"


def journey_blocks() -> list[str]:
    """The ```sh blocks of the README's journey section, in order."""
    text = (REPOSITORY / "README.md").read_text(encoding="utf-8")
    start = text.index(SECTION)
    end = text.find("\n## ", start + len(SECTION))
    return re.findall(r"```sh\n(.*?)```", text[start : end if end > 0 else None], re.S)


def test_the_readme_journey_blocks_are_found() -> None:
    blocks = journey_blocks()
    assert len(blocks) == 3
    assert "case enrol" in blocks[1] and "case infuse" in blocks[2]
    # No block assumes the new case's id.
    assert not any(re.search(r"C20\d\d-\d{5}", block) for block in blocks)
    for name in ("patient.json", "findings.json", "logger.csv", "batch-record.csv"):
        assert (REPOSITORY / "docs" / "examples" / name).is_file(), name


def test_the_readme_journey_runs_verbatim_on_a_fresh_demo_database(
    tmp_path: Path, database_url: str
) -> None:
    data = tmp_path / "data"
    embedded = database_url.startswith("sqlite")
    url = f"sqlite:///{data / 'veinline.db'}" if embedded else database_url
    settings = Settings(database_url=url, data_dir=data)
    app = bootstrap(settings, hasher=Argon2Hasher(fast_for_tests=True), migrate="always")
    app.bus.handle(demo_command(), actor=app.system_user())
    load_demo_cases(Driver(app.bus, app.user, app.clock))
    app.engine.dispose()

    script = ["set -euo pipefail"]
    for number, block in enumerate(journey_blocks(), start=1):
        script += [block, f"echo 'README block {number} exited 0'"]
    env = {
        key: value
        for key, value in os.environ.items()
        if key not in ("VEINLINE_DATABASE_URL", "VEINLINE_USER")
    }
    env.update(
        VEINLINE_DATA_DIR=str(data),
        VEINLINE_PASSWORD="veinline-demo",
        PATH=f"{REPOSITORY / 'bin'}{os.pathsep}{env.get('PATH', '')}",
        TMPDIR=str(tmp_path),
    )
    if not embedded:
        env["VEINLINE_DATABASE_URL"] = url
    done = subprocess.run(
        ["/bin/bash", "-c", "\n".join(script)],
        cwd=REPOSITORY,
        env=env,
        capture_output=True,
        text=True,
        timeout=900,
        check=False,
    )
    told = done.stdout + done.stderr
    assert done.returncode == 0, told[-3000:]
    for number in range(1, len(journey_blocks()) + 1):
        assert f"README block {number} exited 0" in done.stdout
    found = re.search(r"new case: (\S+)", done.stdout)
    assert found is not None, told[-2000:]
    app = bootstrap(settings, hasher=Argon2Hasher(fast_for_tests=True))
    try:
        with app.uow() as uow:
            case = uow.cases.get(found.group(1))
            assert case is not None and case.state is CaseState.INFUSED
            assert [a.kind.value for a in uow.assessments.find(case_id=case.id)] == ["crs"]
        assert ledger.verify(app.uow()).ok
    finally:
        app.engine.dispose()
    assert (tmp_path / "bag.pdf").read_bytes().startswith(b"%PDF")
