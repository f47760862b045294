"""What the benchmarks share: a scratch database (a temporary SQLite file or a scratch
PostgreSQL database next to the one a URL names, dropped at the end), a demo app on it
with throwaway keys, and `veinline serve` in a process of its own on a free loopback port.

Imported by benchmarks/scan_load.py, case_read.py, capacity_page.py and ledger.py (run
from the repository root: `.venv/bin/python benchmarks/NAME.py`; the script's folder is
on the import path).
"""

from __future__ import annotations

import functools
import http.client
import os
import signal
import socket
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from sqlalchemy import create_engine, text
from sqlalchemy.engine import make_url

from veinline.adapters import crypto
from veinline.adapters.passwords import Argon2Hasher
from veinline.adapters.seed import demo_command
from veinline.bootstrap import App, bootstrap
from veinline.config import Settings

DEFAULT_POSTGRES = "postgresql+psycopg://postgres@127.0.0.1:5432/postgres"


@contextmanager
def scratch_postgres(admin_url: str) -> Iterator[str]:
    """A new, empty PostgreSQL database on the server `admin_url` names (its URL), dropped
    with its connections when left."""
    admin = create_engine(admin_url, isolation_level="AUTOCOMMIT")
    name = f"veinline_bench_{os.getpid()}_{uuid.uuid4().hex[:8]}"
    with admin.connect() as connection:
        connection.execute(text(f'CREATE DATABASE "{name}"'))
    try:
        yield make_url(admin_url).set(database=name).render_as_string(hide_password=False)
    finally:
        with admin.connect() as connection:
            connection.execute(
                text(
                    "SELECT pg_terminate_backend(pid) FROM pg_stat_activity "
                    "WHERE datname = :n AND pid <> pg_backend_pid()"
                ),
                {"n": name},
            )
            connection.execute(text(f'DROP DATABASE IF EXISTS "{name}"'))
        admin.dispose()


@functools.cache
def scratch_keys() -> dict[str, str]:
    """Throwaway data and digest keys for scratch databases (the same for the whole run),
    set in this process's environment: the apps built here and a server started with
    `os.environ` use them; the old-key variable is removed, so nothing is sealed under a
    real key."""
    keys = {
        crypto.DATA_KEY: crypto.new_data_key("bench").text(),
        crypto.DIGEST_KEY: crypto.new_digest_key(),
    }
    os.environ.update(keys)
    os.environ.pop(crypto.DATA_KEY_OLD, None)
    return keys


def demo_app(url: str, data_dir: Path, *, demo: bool = True) -> App:
    """An app on a scratch database (migrated, the demo catalogue, sites and users loaded
    unless `demo` is false) under the throwaway keys of `scratch_keys`, with quick
    password hashing."""
    scratch_keys()
    app = bootstrap(
        Settings(database_url=url, data_dir=data_dir),
        hasher=Argon2Hasher(fast_for_tests=True),
        migrate="always",
    )
    if demo:
        app.bus.handle(demo_command(), actor=app.system_user())
    return app


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@contextmanager
def server(env: dict[str, str], workers: int, token: str) -> Iterator[int]:
    """`veinline serve` with `workers` processes on a free loopback port, until left;
    ready once `GET /api/v1/me` answers 200 with `token`."""
    port = free_port()
    command = [
        sys.executable,
        "-m",
        "veinline.entrypoints.cli",
        "serve",
        "--no-demo",
        "--no-access-log",
        "--workers",
        str(workers),
        "--host",
        "127.0.0.1",
        "--port",
        str(port),
    ]
    process = subprocess.Popen(
        command,
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        start_new_session=True,
    )
    try:
        deadline = time.monotonic() + 60
        while True:
            if process.poll() is not None:
                said = process.stderr.read().decode() if process.stderr else ""
                raise RuntimeError(f"the server stopped: {said[-2000:]}")
            try:
                connection = http.client.HTTPConnection("127.0.0.1", port, timeout=5)
                connection.request(
                    "GET", "/api/v1/me", headers={"Authorization": f"Bearer {token}"}
                )
                if connection.getresponse().status == 200:
                    connection.close()
                    break
            except OSError:
                pass
            if time.monotonic() > deadline:
                raise RuntimeError("the server did not answer within 60 s")
            time.sleep(0.2)
        yield port
    finally:
        # SIGINT: uvicorn's own shutdown (its workers with it).
        process.send_signal(signal.SIGINT)
        try:
            process.wait(timeout=30)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()
