"""Sign-in and signatures end to end (21 CFR 11.300; docs/security.md, "Sign-in and
signatures"): lockout at sign-in and at a signature, token scopes, listing and
revocation, sessions and API tokens kept apart, idle and absolute session expiry, CSRF
and origin checks on page forms, security headers, and the demo hint."""

from __future__ import annotations

import re
from collections.abc import Iterator

import pytest
from fastapi.testclient import TestClient
from typer.testing import CliRunner

from tests.conftest import FixedClock
from tests.e2e.pages import DEMO_PASSWORD, csrf_of, sign_in_page
from veinline.bootstrap import App
from veinline.domain.sign_in import FIRST_LOCKOUT, MAX_FAILURES
from veinline.entrypoints.cli.context import cli_context
from veinline.entrypoints.cli.main import app as cli_app
from veinline.entrypoints.http.app import create_app
from veinline.entrypoints.http.deps import SESSION_COOKIE


@pytest.fixture
def client(demo_app: App) -> Iterator[TestClient]:
    with TestClient(create_app(demo_app)) as test_client:
        yield test_client


def _token(client: TestClient, username: str, password: str = DEMO_PASSWORD, **form: str) -> str:
    response = client.post(
        "/api/v1/auth/token", data={"username": username, "password": password, **form}
    )
    assert response.status_code == 200, response.text
    token: str = response.json()["access_token"]
    return token


def _bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


def _history(client: TestClient, entity: str) -> list[str]:
    admin = _bearer(_token(client, "admin"))
    entries = client.get(f"/api/v1/ledger/history/{entity}", headers=admin).json()
    return [e["action"] for e in entries]


# ------------------------------------------------------------------ lockout


def test_five_wrong_passwords_lock_the_api_sign_in_even_for_the_right_one(
    client: TestClient, clock: FixedClock
) -> None:
    for _ in range(MAX_FAILURES):
        wrong = client.post("/api/v1/auth/token", data={"username": "nurse", "password": "x"})
        assert wrong.status_code == 403
    right = client.post("/api/v1/auth/token", data={"username": "nurse", "password": DEMO_PASSWORD})
    assert right.status_code == 403 and "locked until" in right.json()["message"]
    assert _history(client, "sign_in/nurse") == ["sign_in.failed"] * MAX_FAILURES + [
        "sign_in.locked"
    ]
    clock.advance(seconds=FIRST_LOCKOUT.total_seconds())
    assert _token(client, "nurse")


def test_the_login_page_locks_out_too_and_says_until_when(client: TestClient) -> None:
    for _ in range(MAX_FAILURES):
        page = sign_in_page(client, "courier", "wrong password")
        assert page.status_code == 401
    page = sign_in_page(client, "courier")
    assert page.status_code == 401 and "locked until" in page.text


def test_wrong_signature_passwords_are_ledgered_and_lock_the_signer_out(
    client: TestClient,
) -> None:
    qa = _bearer(_token(client, "qa"))
    body = {
        "entity_type": "product",
        "entity_id": "eque-cel",
        "meaning": "reviewed",
        "username": "qa",
    }
    for _ in range(MAX_FAILURES - 1):
        refused = client.post("/api/v1/signatures", json={**body, "password": "x"}, headers=qa)
        assert refused.status_code == 403
        assert refused.json()["message"] == "the password is wrong: nothing was signed"
    locked = client.post("/api/v1/signatures", json={**body, "password": "x"}, headers=qa)
    assert "locked until" in locked.json()["message"]
    right = client.post("/api/v1/signatures", json={**body, "password": DEMO_PASSWORD}, headers=qa)
    assert right.status_code == 403 and "locked until" in right.json()["message"]
    assert _history(client, "sign_in/qa") == ["sign_in.signature_failed"] * MAX_FAILURES + [
        "sign_in.locked"
    ]
    assert "signature.reviewed" not in _history(client, "product/eque-cel")
    report = client.post("/api/v1/ledger/verify", headers=_bearer(_token(client, "admin")))
    assert report.json()["ok"]


# ------------------------------------------------------------------ tokens


def test_a_read_token_reads_and_may_not_write(client: TestClient) -> None:
    read = _bearer(_token(client, "nurse", scope="read"))
    assert client.get("/api/v1/me", headers=read).json()["username"] == "nurse"
    refused = client.post(
        "/api/v1/me/password",
        json={"old_password": DEMO_PASSWORD, "new_password": "another password"},
        headers=read,
    )
    assert refused.status_code == 403 and "may only read" in refused.json()["message"]
    bad = client.post(
        "/api/v1/auth/token",
        data={"username": "nurse", "password": DEMO_PASSWORD, "scope": "root"},
    )
    assert bad.status_code == 422


def test_tokens_are_listed_and_one_revoked_answers_no_more(client: TestClient) -> None:
    first, second = _token(client, "nurse"), _token(client, "nurse", scope="read")
    listed = client.get("/api/v1/tokens", headers=_bearer(first)).json()
    assert sorted((t["kind"], t["scope"], t["current"]) for t in listed) == [
        ("api", "read", False),
        ("api", "write", True),
    ]
    assert all(first not in str(t) and second not in str(t) for t in listed)
    other = next(t["id"] for t in listed if not t["current"])
    assert client.delete(f"/api/v1/tokens/{other}", headers=_bearer(first)).status_code == 200
    assert client.get("/api/v1/me", headers=_bearer(second)).status_code == 401
    assert client.delete(f"/api/v1/tokens/{other}", headers=_bearer(first)).status_code == 404
    admin = _bearer(_token(client, "admin"))
    mine = client.get("/api/v1/tokens", headers=_bearer(first)).json()[0]["id"]
    assert client.delete(f"/api/v1/tokens/{mine}", headers=admin).status_code == 404


def test_a_token_id_with_non_ascii_characters_is_not_found_not_a_server_error(
    client: TestClient,
) -> None:
    # Found by tests/e2e/test_fuzz_api.py: hmac.compare_digest raised on non-ASCII str.
    token = _bearer(_token(client, "nurse"))
    refused = client.delete("/api/v1/tokens/%C2%A1", headers=token)
    assert refused.status_code == 404 and refused.json()["error"] == "not_found"
    assert client.get("/api/v1/me", headers=token).status_code == 200


def test_a_page_form_with_a_non_ascii_csrf_token_is_refused_not_a_server_error(
    client: TestClient,
) -> None:
    sign_in_page(client, "coordinator")
    client.headers.pop("X-CSRF-Token")
    refused = client.post("/logout", data={"csrf_token": "¡é"})
    assert refused.status_code == 403 and "form was refused" in refused.text


def test_a_session_is_no_bearer_token_and_an_api_token_no_session(client: TestClient) -> None:
    sign_in_page(client, "coordinator")
    session = client.cookies[SESSION_COOKIE]
    assert client.get("/api/v1/me").status_code == 401  # the cookie alone
    assert client.get("/api/v1/me", headers=_bearer(session)).status_code == 401
    client.cookies.clear()
    client.cookies.set(SESSION_COOKIE, _token(client, "coordinator"))
    page = client.get("/cases", follow_redirects=False)
    assert page.status_code == 303 and page.headers["location"] == "/login?next=/cases"


def test_a_session_ends_after_30_idle_minutes(client: TestClient, clock: FixedClock) -> None:
    sign_in_page(client, "coordinator")
    clock.advance(minutes=29)
    assert client.get("/cases", follow_redirects=False).status_code == 200
    clock.advance(minutes=29)  # counted from the last request
    assert client.get("/cases", follow_redirects=False).status_code == 200
    clock.advance(minutes=30)
    assert client.get("/cases", follow_redirects=False).status_code == 303


def test_a_busy_session_ends_12_hours_after_sign_in(client: TestClient, clock: FixedClock) -> None:
    sign_in_page(client, "coordinator")
    for _ in range(35):  # a request every 20 minutes: 11 h 40 min
        clock.advance(minutes=20)
        assert client.get("/cases", follow_redirects=False).status_code == 200
    clock.advance(minutes=20)
    assert client.get("/cases", follow_redirects=False).status_code == 303


def test_an_admin_deactivates_a_user_and_their_tokens_stop(client: TestClient) -> None:
    nurse = _bearer(_token(client, "nurse"))
    admin = _bearer(_token(client, "admin"))
    done = client.post(
        "/api/v1/users/nurse/deactivate", json={"reason": "left the unit"}, headers=admin
    )
    assert done.status_code == 200 and done.json()["active"] is False
    assert client.get("/api/v1/me", headers=nurse).status_code == 401
    again = client.post("/api/v1/auth/token", data={"username": "nurse", "password": DEMO_PASSWORD})
    assert again.status_code == 403
    assert _history(client, "user/nurse")[-1] == "user.deactivated"


def test_a_password_is_changed_on_its_page_with_the_old_one(client: TestClient) -> None:
    sign_in_page(client, "physician")
    form = {
        "old_password": "not it",
        "new_password": "a new password",
        "repeat_password": "a new password",
    }
    refused = client.post("/account/password", data=form)
    assert "current password is wrong" in refused.text
    changed = client.post(
        "/account/password",
        data={**form, "old_password": DEMO_PASSWORD},
        follow_redirects=False,
    )
    assert changed.status_code == 303 and changed.headers["location"].startswith("/login")
    assert client.get("/cases", follow_redirects=False).status_code == 303  # signed out
    assert sign_in_page(client, "physician").status_code == 401
    assert sign_in_page(client, "physician", "a new password").status_code == 303
    assert _history(client, "user/physician")[-1] == "user.password_changed"


# ------------------------------------------------------------------ forms and headers


def test_a_page_form_without_the_csrf_token_is_refused(client: TestClient) -> None:
    sign_in_page(client, "coordinator")
    client.headers.pop("X-CSRF-Token")
    refused = client.post("/logout")
    assert refused.status_code == 403 and "form was refused" in refused.text
    assert client.get("/cases", follow_redirects=False).status_code == 200  # still in
    token = csrf_of(client.get("/cases").text)
    assert (
        client.post("/logout", data={"csrf_token": token}, follow_redirects=False).status_code
        == 303
    )


def test_a_page_form_from_another_origin_is_refused_even_with_the_token(
    client: TestClient,
) -> None:
    sign_in_page(client, "coordinator")
    foreign = client.post("/logout", headers={"Origin": "http://testserver:8081"})
    assert foreign.status_code == 403 and "another site" in foreign.text
    referer = client.post("/logout", headers={"Referer": "http://evil.example/page"})
    assert referer.status_code == 403
    same = client.post("/logout", headers={"Origin": "http://testserver"}, follow_redirects=False)
    assert same.status_code == 303


def test_the_login_form_needs_its_own_token(client: TestClient) -> None:
    refused = client.post("/login", data={"username": "qa", "password": DEMO_PASSWORD})
    assert refused.status_code == 403
    assert SESSION_COOKIE not in refused.cookies


@pytest.mark.parametrize(
    "path", ["/login", "/api/v1/openapi.json", "/static/veinline.css", "/nope"]
)
def test_every_answer_carries_the_security_headers(client: TestClient, path: str) -> None:
    headers = client.get(path).headers
    policy = headers["content-security-policy"]
    assert "frame-ancestors 'none'" in policy and "script-src 'self'" in policy
    assert "unsafe-inline" not in policy.split("script-src")[1].split(";")[0]
    assert headers["x-content-type-options"] == "nosniff"
    assert headers["referrer-policy"] == "same-origin"


def test_the_templates_hold_no_inline_script() -> None:
    from importlib import resources

    folder = resources.files("veinline.entrypoints.http") / "templates"
    for template in folder.iterdir():
        text = template.read_text(encoding="utf-8")
        assert not re.search(r"<script(?![^>]*\bsrc=)|\son[a-z]+=|javascript:", text), template


def test_cookies_are_secure_over_https(demo_app: App) -> None:
    with TestClient(create_app(demo_app), base_url="https://testserver") as https:
        response = sign_in_page(https, "qa")
        assert response.status_code == 303
        assert "secure" in response.headers["set-cookie"].lower()
        assert "httponly" in response.headers["set-cookie"].lower()


def test_the_demo_password_is_shown_only_with_demo_data(app: App, demo_app: App) -> None:
    assert "veinline-demo" in TestClient(create_app(demo_app)).get("/login").text


def test_no_demo_hint_without_demo_data(app: App) -> None:
    page = TestClient(create_app(app)).get("/login").text
    assert "veinline-demo" not in page and 'data-testid="demo-hint"' not in page


# ------------------------------------------------------------------ the command line


def test_the_cli_lists_and_revokes_the_acting_users_tokens(
    demo_app: App, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("VEINLINE_DATABASE_URL", demo_app.settings.database_url)

    def run(*args: str) -> str:
        cli_context().forget()
        result = CliRunner().invoke(cli_app, list(args))
        cli_context().forget()
        assert result.exit_code == 0, result.output
        return result.stdout

    run("user", "token", "qa", "--password", DEMO_PASSWORD, "--scope", "read")
    listed = run("--as", "qa", "token", "list")
    ids = re.findall(r"\b[0-9a-f]{16}\b", listed)
    assert len(ids) == 1
    assert "revoked api token" in run("--as", "qa", "token", "revoke", ids[0])
    assert ids[0] not in run("--as", "qa", "token", "list")


def test_a_case_form_posted_with_its_token_as_a_field_acts_as_a_browser_does(
    client: TestClient, demo_app: App
) -> None:
    from veinline.adapters.seed.cases import EQUE_CEL_HK, Driver

    driver = Driver(demo_app.bus, demo_app.user, demo_app.clock)
    case = driver.enrol(EQUE_CEL_HK, patient_name="Form Field", wristband="WB-FF")
    sign_in_page(client, "physician")
    client.headers.pop("X-CSRF-Token")
    token = csrf_of(client.get(f"/cases/{case.id}").text)
    done = client.post(
        f"/cases/{case.id}/actions/confirm_eligibility",
        data={"csrf_token": token},
        follow_redirects=False,
    )
    assert done.status_code == 303 and "error" not in done.headers["location"]


def test_the_cli_changes_resets_and_deactivates(
    demo_app: App, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("VEINLINE_DATABASE_URL", demo_app.settings.database_url)

    def run(*args: str) -> tuple[int, str]:
        cli_context().forget()
        result = CliRunner().invoke(cli_app, list(args))
        cli_context().forget()
        return result.exit_code, result.output

    new = "a fresh password"
    assert run("--as", "nurse", "user", "password", "--old", "wrong", "--new", new)[0] == 2
    code, out = run("--as", "nurse", "user", "password", "--old", DEMO_PASSWORD, "--new", new)
    assert code == 0 and "changed" in out
    assert run("--as", "nurse", "user", "set-password", "qa", "--password", new)[0] == 2
    code, out = run("--as", "admin", "user", "set-password", "qa", "--password", new)
    assert code == 0
    assert run("--as", "admin", "user", "deactivate", "courier", "--reason", "left")[0] == 0
    with demo_app.uow() as uow:
        courier = uow.users.get("courier")
        assert courier is not None and not courier.active
