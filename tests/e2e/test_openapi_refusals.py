"""The OpenAPI document lists the refusals each operation really gives, with one error
model: 422 everywhere, 401 and 403 wherever a bearer token is needed, 413 wherever a
body is sent, and no 401 claimed by an operation anyone may call."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from veinline.bootstrap import bootstrap
from veinline.config import Settings
from veinline.entrypoints.http.app import create_app

METHODS = {"get", "post", "put", "patch", "delete"}


@pytest.fixture(scope="module")
def document() -> dict[str, Any]:
    shell = bootstrap(Settings(database_url="sqlite://", data_dir=Path("data")), migrate="never")
    try:
        return create_app(shell).openapi()
    finally:
        shell.engine.dispose()


def _operations(document: dict[str, Any]) -> list[tuple[str, str, dict[str, Any]]]:
    return [
        (method.upper(), path, operation)
        for path, item in document["paths"].items()
        for method, operation in item.items()
        if method in METHODS and path.startswith("/api/v1/")
    ]


def _needs_token(operation: dict[str, Any]) -> bool:
    return any(
        p["in"] == "header" and p["name"].lower() == "authorization"
        for p in operation.get("parameters", [])
    )


def test_every_operation_documents_its_refusals(document: dict[str, Any]) -> None:
    operations = _operations(document)
    assert len(operations) > 40
    wrong = []
    for method, path, operation in operations:
        documented = set(operation["responses"])
        expected = {"422"}
        if _needs_token(operation):
            expected |= {"401", "403"}
        elif "401" in documented:
            wrong.append(f"{method} {path}: claims 401 but needs no token")
        if "requestBody" in operation:
            expected.add("413")
        if "{" in path:
            expected.add("404")
        if missing := expected - documented:
            wrong.append(f"{method} {path}: missing {sorted(missing)}")
    assert not wrong, "\n".join(wrong)


def test_refusals_share_one_error_model(document: dict[str, Any]) -> None:
    schemas = document["components"]["schemas"]
    assert set(schemas["ApiError"]["properties"]) == {"error", "message"}
    for method, path, operation in _operations(document):
        for status, response in operation["responses"].items():
            if not status.startswith("4"):
                continue
            ref = response["content"]["application/json"]["schema"]["$ref"]
            wanted = "ApiInvalid" if status == "422" else "ApiError"
            assert ref.endswith(f"/{wanted}"), f"{method} {path} {status}: {ref}"
