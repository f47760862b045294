"""A server killed mid-write keeps every write it acknowledged, and its ledger verifies.

The real `veinline serve` runs as a child process on SQLite (a file) and on PostgreSQL
(a scratch database of its own); writer threads enrol patients through the API; the
server is killed with SIGKILL while they write; restarted on the same database, it must
hold every case it answered 201 for, and `veinline ledger verify` must pass.
"""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import threading
import time
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.conftest import scratch_pg_database
from veinline.adapters.seed.cases import EQUE_CEL_HK

pytestmark = pytest.mark.slow

VEINLINE = str(Path(sys.executable).with_name("veinline"))
WRITERS = 3
WRITE_SECONDS = 3.0


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
        return port


@pytest.fixture(params=["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)])
def crash_database(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    """A database URL of this test's own: a SQLite file, or a scratch PostgreSQL
    database created here and dropped afterwards."""
    if request.param == "sqlite":
        yield f"sqlite:///{tmp_path / 'crash.db'}"
        return
    with scratch_pg_database("veinline_crash") as url:
        yield url


def _env(database_url: str, data_dir: Path) -> dict[str, str]:
    return {
        **os.environ,
        "VEINLINE_DATABASE_URL": database_url,
        "VEINLINE_DATA_DIR": str(data_dir),
    }


class Server:
    """`veinline serve` as a child process (the process itself, no shell between)."""

    def __init__(self, env: dict[str, str], log: Path, *, demo: bool = True) -> None:
        self.port = _free_port()
        self.base = f"http://127.0.0.1:{self.port}"
        self._log = log.open("ab")
        self.process = subprocess.Popen(
            [
                VEINLINE,
                "serve",
                "--host",
                "127.0.0.1",
                "--port",
                str(self.port),
                "--demo" if demo else "--no-demo",
            ],
            env=env,
            stdout=self._log,
            stderr=subprocess.STDOUT,
        )

    def wait_ready(self, timeout: float = 120) -> None:
        """Until the port accepts connections and the API answers."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(f"the server exited with {self.process.returncode}")
            try:
                with urllib.request.urlopen(f"{self.base}/api/v1/openapi.json", timeout=5):
                    return
            except (OSError, urllib.error.URLError):
                time.sleep(0.2)
        raise RuntimeError("the server did not start in time")

    def kill(self) -> None:
        if self.process.poll() is None:
            os.kill(self.process.pid, signal.SIGKILL)
        self.process.wait(timeout=30)
        self._log.close()

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=30)
            except subprocess.TimeoutExpired:
                os.kill(self.process.pid, signal.SIGKILL)
                self.process.wait(timeout=30)
        self._log.close()


def _request(
    base: str,
    method: str,
    path: str,
    *,
    token: str | None = None,
    body: dict[str, Any] | None = None,
    form: dict[str, str] | None = None,
    timeout: float = 30,
) -> tuple[int, Any]:
    headers: dict[str, str] = {}
    data = None
    if token:
        headers["Authorization"] = f"Bearer {token}"
    if body is not None:
        data = json.dumps(body).encode()
        headers["Content-Type"] = "application/json"
    if form is not None:
        data = urllib.parse.urlencode(form).encode()
        headers["Content-Type"] = "application/x-www-form-urlencoded"
    req = urllib.request.Request(f"{base}{path}", data=data, headers=headers, method=method)
    try:
        with urllib.request.urlopen(req, timeout=timeout) as response:
            return response.status, json.loads(response.read() or b"null")
    except urllib.error.HTTPError as refused:
        return refused.code, refused.read().decode(errors="replace")


def _token(base: str) -> str:
    status, body = _request(
        base,
        "POST",
        "/api/v1/auth/token",
        form={"username": "coordinator", "password": "veinline-demo", "scope": "write"},
    )
    assert status == 200, body
    token: str = body["access_token"]
    return token


def _enrolment(writer: int, n: int) -> dict[str, Any]:
    return {
        "product_code": "eque-cel",
        "jurisdiction": "HK",
        "treatment_site": "demo-hk-treatment",
        "patient_name": f"Crash Patient {writer}-{n}",
        "wristband_id": f"WB-CRASH-{writer}-{n}",
        "treating_physician": "physician",
        "consent_given": True,
        "consent_date": "2026-03-01",
        "patient_facts": EQUE_CEL_HK.facts,
    }


def test_a_killed_server_keeps_every_acknowledged_write_and_its_ledger(
    crash_database: str, tmp_path: Path
) -> None:
    env = _env(crash_database, tmp_path)
    server = Server(env, tmp_path / "server.log")
    try:
        server.wait_ready()
        token = _token(server.base)
        acknowledged: list[tuple[str, str]] = []  # (case id, wristband)
        lock = threading.Lock()
        stop = threading.Event()
        failures: list[str] = []

        def write(writer: int) -> None:
            n = 0
            while not stop.is_set():
                n += 1
                body = _enrolment(writer, n)
                try:
                    status, answer = _request(
                        server.base, "POST", "/api/v1/cases", token=token, body=body
                    )
                except OSError:
                    return  # the server is gone: this write was never acknowledged
                if 200 <= status < 300:
                    with lock:
                        acknowledged.append((answer["id"], body["wristband_id"]))
                elif not stop.is_set():
                    failures.append(f"{status}: {answer}")
                    return

        threads = [threading.Thread(target=write, args=(w,)) for w in range(WRITERS)]
        for thread in threads:
            thread.start()
        time.sleep(WRITE_SECONDS)
        server.kill()  # SIGKILL with requests in flight
        stop.set()
        for thread in threads:
            thread.join(timeout=60)
        assert not failures, failures
        assert len(acknowledged) >= 3, "too few writes were acknowledged to prove anything"
    finally:
        server.kill()

    # Restarted as it is, without loading demo data: nothing is written before the check.
    restarted = Server(env, tmp_path / "server.log", demo=False)
    try:
        restarted.wait_ready()
        token = _token(restarted.base)
        missing = []
        for case_id, wristband in acknowledged:
            status, case = _request(restarted.base, "GET", f"/api/v1/cases/{case_id}", token=token)
            if status != 200 or case["case"]["wristband_id"] != wristband:
                missing.append((case_id, status))
        assert not missing, f"acknowledged but lost: {missing} of {len(acknowledged)}"
    finally:
        restarted.stop()

    verify = subprocess.run(
        [VEINLINE, "ledger", "verify"], env=env, capture_output=True, text=True, timeout=120
    )
    assert verify.returncode == 0, verify.stdout + verify.stderr
    print(f"{len(acknowledged)} writes acknowledged, all kept; ledger verified")
