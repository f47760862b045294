"""The application factory: one FastAPI app serving the JSON API under /api/v1 and the
web pages, with the static files, for one bootstrapped veinline (docs/architecture.md)."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from importlib import resources

from fastapi import FastAPI
from fastapi.staticfiles import StaticFiles

import veinline
from veinline.bootstrap import App
from veinline.entrypoints.http import api, errors, security, web
from veinline.entrypoints.http.limits import BodyLimit


def create_app(application: App) -> FastAPI:
    """The ASGI app for one bootstrapped veinline."""

    @asynccontextmanager
    async def lifespan(_app: FastAPI) -> AsyncIterator[None]:
        # The bus is built on first use; the server builds it now, so a handler without
        # a rule in the authority table stops the start, not a request.
        _ = application.bus
        # The job runner's threads: jobs queued before a restart run now, and jobs cut
        # short by it are marked interrupted (services/jobs.py).
        application.jobs.start()
        yield
        application.jobs.stop()

    app = FastAPI(
        lifespan=lifespan,
        title="veinline",
        version=getattr(veinline, "__version__", "0.1.0"),
        description="Vein-to-vein orchestration of cell therapies.",
        openapi_url="/api/v1/openapi.json",
        # The interactive docs load scripts from a CDN; there is no internet at run time.
        docs_url=None,
        redoc_url=None,
    )
    app.state.veinline = application
    # Plan id → its FIFO baseline's measures (entrypoints/http/web/planning.py).
    app.state.plan_baselines = {}
    app.add_middleware(security.SecurityHeaders)
    errors.install(app)
    # Bodies are bounded before any route reads them (413 over the limit).
    app.add_middleware(BodyLimit)
    app.include_router(api.router, prefix="/api/v1")
    app.include_router(web.router)
    static = resources.files("veinline.entrypoints.http") / "static"
    app.mount("/static", StaticFiles(directory=str(static)), name="static")
    return app


def from_env() -> FastAPI:
    """The app of one server worker process (`veinline serve --workers N`): each worker
    bootstraps its own veinline (engine and connection pool) from the environment; the
    schema was migrated by the command that started them."""
    from veinline.bootstrap import bootstrap

    return create_app(bootstrap(migrate="never"))
