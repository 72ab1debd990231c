"""What every console route shares: the guard (login, role, CSRF on POST) and
the one-line failure page (no traceback to the browser)."""
from __future__ import annotations

import logging
from functools import wraps

from starlette.concurrency import run_in_threadpool
from starlette.requests import Request

from scanner.serve.strings import strings


def console_of(request: Request):
    return request.app.state.console


def guard(min_role: str):
    """`@guard("inspector") def page(c, request, user[, data])`: runs in a
    worker thread once the user is known and has `min_role`; a POST's form
    must carry the session's CSRF token (else 403)."""
    from scanner.serve.app import RANK

    def wrap(fn):
        @wraps(fn)
        async def handler(request: Request):
            c = console_of(request)
            user = await run_in_threadpool(c.user, request)
            if user is None:
                return await run_in_threadpool(c.deny, request, None, 401, "forbidden")
            if RANK.get(user["role"], -1) < RANK[min_role]:
                return await run_in_threadpool(c.deny, request, user, 403, "forbidden")
            args = (c, request, user)
            if request.method == "POST":
                data = await c.form(request, user)
                if data is None:
                    return await run_in_threadpool(c.deny, request, user, 403, "csrf")
                args = (c, request, user, data)
            try:
                return await run_in_threadpool(fn, *args)
            except Exception as exc:   # one line on the page and in the audit log, no traceback
                logging.getLogger("isoscan.serve").exception("%s failed", request.url.path)
                why = f"{type(exc).__name__}: {str(exc).splitlines()[0] if str(exc) else ''}"
                return await run_in_threadpool(
                    lambda: c.page(request, "error.html.j2", user, status=500,
                                   message=strings(c.lang(request))["failed"] + " " + why[:300]))
        return handler
    return wrap
