"""Signing a test client in to the web pages as a browser does: the login form's CSRF
token first, then the session's, sent with every later form (docs/security.md)."""

from __future__ import annotations

import re

from fastapi.testclient import TestClient
from httpx2 import Response

DEMO_PASSWORD = "veinline-demo"

_CSRF = re.compile(r'name="csrf_token" value="([^"]*)"')


def csrf_of(html: str) -> str:
    """The CSRF token of the first form on a page."""
    found = _CSRF.search(html)
    assert found is not None, "the page has no form with a CSRF token"
    return found.group(1)


def sign_in_page(
    client: TestClient, username: str, password: str = DEMO_PASSWORD, next: str = "/"
) -> Response:
    """Post the login form (with its CSRF token) and, once signed in, send the session's
    CSRF token with every later request of this client, as the pages' forms do."""
    client.cookies.clear()
    client.headers.pop("X-CSRF-Token", None)
    token = csrf_of(client.get("/login").text)
    response = client.post(
        "/login",
        data={"username": username, "password": password, "next": next, "csrf_token": token},
        follow_redirects=False,
    )
    if response.status_code == 303:
        client.headers["X-CSRF-Token"] = csrf_of(client.get("/account/password").text)
    return response
