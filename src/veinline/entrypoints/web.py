"""The web pages: server-rendered HTML (Jinja2), assets served from the package."""

from __future__ import annotations

from importlib import resources
from typing import Annotated, Any

from fastapi import APIRouter, Form, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from fastapi.templating import Jinja2Templates

from veinline.bootstrap import App
from veinline.domain.errors import DomainError
from veinline.domain.user import User
from veinline.entrypoints import views
from veinline.entrypoints.api import SESSION_COOKIE, status_for
from veinline.services import auth, ledger
from veinline.services.permissions import Permission, allowed

DEMO_HINT = "Demo users: admin, coordinator, nurse, qa, ... — password veinline-demo"


def router(application: App) -> APIRouter:
    templates = Jinja2Templates(
        directory=str(resources.files("veinline.entrypoints") / "templates")
    )
    pages = APIRouter(include_in_schema=False)

    def signed_in(request: Request) -> User | None:
        token = request.cookies.get(SESSION_COOKIE)
        if not token:
            return None
        return auth.user_for_token(application.uow(), token, clock=application.clock)

    def render(request: Request, name: str, status: int = 200, **context: Any) -> Response:
        context.setdefault("user", signed_in(request))
        return templates.TemplateResponse(request, name, context, status_code=status)

    def refused(request: Request, exc: DomainError) -> Response:
        return render(request, "error.html", status=status_for(exc), message=exc.message)

    def login_first(request: Request) -> Response:
        return RedirectResponse(f"/login?next={request.url.path}", status_code=303)

    @pages.get("/", response_class=HTMLResponse)
    def home(request: Request) -> Response:
        with application.uow() as uow:
            products = views.product_summaries(uow)
            site_list = views.sites(uow)
        return render(request, "home.html", products=products, sites=site_list)

    @pages.get("/login", response_class=HTMLResponse)
    def login_page(request: Request, next: str = "/") -> Response:
        return render(request, "login.html", next=next, hint=DEMO_HINT, error=None, username="")

    @pages.post("/login")
    def login(
        request: Request,
        username: Annotated[str, Form()],
        password: Annotated[str, Form()],
        next: Annotated[str, Form()] = "/",
    ) -> Response:
        try:
            user = auth.authenticate(
                application.uow(), username, password, hasher=application.hasher
            )
        except DomainError as exc:
            return render(
                request,
                "login.html",
                status=401,
                next=next,
                hint=DEMO_HINT,
                error=exc.message,
                username=username,
            )
        token = auth.issue_token(application.uow(), user, kind="session", clock=application.clock)
        target = next if next.startswith("/") and not next.startswith("//") else "/"
        response = RedirectResponse(target, status_code=303)
        response.set_cookie(SESSION_COOKIE, token, httponly=True, samesite="lax")
        return response

    @pages.post("/logout")
    def logout(request: Request) -> Response:
        token = request.cookies.get(SESSION_COOKIE)
        if token:
            auth.revoke_token(application.uow(), token)
        response = RedirectResponse("/", status_code=303)
        response.delete_cookie(SESSION_COOKIE)
        return response

    @pages.get("/catalog", response_class=HTMLResponse)
    def catalogue(request: Request) -> Response:
        with application.uow() as uow:
            products = views.product_summaries(uow)
        return render(request, "catalog.html", products=products)

    @pages.get("/catalog/{code}", response_class=HTMLResponse)
    def product(request: Request, code: str) -> Response:
        try:
            with application.uow() as uow:
                detail = views.product_detail(uow, code)
        except DomainError as exc:
            return refused(request, exc)
        return render(request, "product.html", **detail)

    @pages.get("/sites", response_class=HTMLResponse)
    def sites(request: Request) -> Response:
        with application.uow() as uow:
            site_list = views.sites(uow)
        return render(request, "sites.html", sites=site_list)

    @pages.get("/ledger", response_class=HTMLResponse)
    def ledger_page(request: Request) -> Response:
        user = signed_in(request)
        if user is None:
            return login_first(request)
        if not allowed(user, Permission.READ_LEDGER):
            return render(
                request,
                "error.html",
                status=403,
                message=f"a {user.role.label.lower()} may not read the ledger",
            )
        report = ledger.verify(application.uow())
        with application.uow() as uow:
            recent = ledger.recent(uow, limit=50)
        return render(
            request, "ledger.html", report=report, entries=[views.entry_view(e) for e in recent]
        )

    @pages.get("/ledger/history/{entity_id:path}", response_class=HTMLResponse)
    def history_page(request: Request, entity_id: str) -> Response:
        user = signed_in(request)
        if user is None:
            return login_first(request)
        try:
            entries = ledger.history(application.uow(), entity_id, actor=user)
        except DomainError as exc:
            return refused(request, exc)
        return render(
            request,
            "history.html",
            entity_id=entity_id,
            entries=[views.entry_view(e) for e in entries],
        )

    return pages
