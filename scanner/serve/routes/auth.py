"""Logging in and out."""
from __future__ import annotations

import secrets

from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import RedirectResponse
from starlette.routing import Route

from scanner.serve import accounts as A
from scanner.serve.routes.common import console_of, guard
from scanner.serve.strings import strings


async def login(request: Request):
    from scanner.serve.app import SESSION, SESSION_MAX_AGE
    c = console_of(request)
    if request.method == "GET":
        return await run_in_threadpool(c.page, request, "login.html.j2", None, error=None)
    data = await c.form(request)
    if data is None:
        return await run_in_threadpool(c.deny, request, None, 403, "csrf")
    name, pw = data.get("name", "")[:100], data.get("password", "")

    def check():
        if A.limited(c.store, name, c.remote(request)):
            return c.page(request, "login.html.j2", None, status=429,
                          error=strings(c.lang(request))["login_limited"])
        u = A.authenticate(c.store, name, pw[:1024], c.remote(request))
        if u is None:
            return c.page(request, "login.html.j2", None, status=401,
                          error=strings(c.lang(request))["login_failed"])
        resp = RedirectResponse("/", status_code=303)
        resp.set_cookie(SESSION, c.signer.dumps({"u": u["name"], "n": secrets.token_hex(8)}),
                        max_age=SESSION_MAX_AGE, httponly=True, samesite="strict",
                        secure=c.cfg.secure_cookies)
        c.audit(request, u, 303, detail="login")
        return resp
    return await run_in_threadpool(check)


@guard("viewer")
def logout(c, request, user, data):
    from scanner.serve.app import SESSION
    resp = RedirectResponse("/login", status_code=303)
    resp.delete_cookie(SESSION)
    c.audit(request, user, 303, detail="logout")
    return resp


ROUTES = [
    Route("/login", login, methods=["GET", "POST"]),
    Route("/logout", logout, methods=["POST"]),
]
