"""The HTTP entrypoint: the JSON API under /api/v1 and the web pages, in one FastAPI app.

`app.create_app` builds it; `api/` and `web/` hold one router per area; `deps` the
dependencies (the application, the signed-in user); `errors` the one mapping of domain
refusals to HTTP. See docs/architecture.md.
"""
