"""Logging in and out, and a user's own account: password change, "log out
everywhere", the optional TOTP second factor (RFC 6238, pyotp) for admins."""
from __future__ import annotations

from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import RedirectResponse
from starlette.routing import Route

from scanner.serve import accounts as A
from scanner.serve import sessions as S
from scanner.serve.routes.common import console_of, guard
from scanner.serve.strings import strings


def _totp_ok(secret: str, code: str) -> bool:
    import pyotp
    code = (code or "").strip().replace(" ", "")
    return code.isdigit() and len(code) == 6 and pyotp.TOTP(secret).verify(code, valid_window=1)


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
        t = strings(c.lang(request))
        remote = c.remote(request)
        try:
            u = A.authenticate(c.store, name, pw[:1024], remote)
        except A.Limited:
            c.audit(request, None, 429, detail="login limited", attempted=name)
            return c.page(request, "login.html.j2", None, status=429, error=t["login_limited"],
                          audit=False)
        if u is not None and u["totp"] and not _totp_ok(u["totp"], data.get("otp", "")):
            c.audit(request, None, 401, detail="login: wrong one-time code", attempted=name)
            return c.page(request, "login.html.j2", None, status=401, error=t["login_otp"],
                          audit=False)
        if u is None:
            c.audit(request, None, 401, detail="login failed", attempted=name)
            return c.page(request, "login.html.j2", None, status=401, error=t["login_failed"],
                          audit=False)
        A.clear_failures(c.store, name, remote)
        old = request.cookies.get(SESSION)
        if old:
            S.end(c.store, old)            # a login never reuses an earlier session
        sid, _ = S.open_session(c.store, u["id"], u["name"], remote)
        resp = RedirectResponse("/", status_code=303)
        resp.set_cookie(SESSION, sid, max_age=SESSION_MAX_AGE, httponly=True,
                        samesite="strict", secure=c.cfg.secure_cookies)
        c.audit(request, u, 303, detail="login")
        return resp
    return await run_in_threadpool(check)


@guard("viewer")
def logout(c, request, user, data):
    from scanner.serve.app import SESSION
    if user.get("sid"):
        S.end(c.store, user["sid"])
    resp = RedirectResponse("/login", status_code=303)
    resp.delete_cookie(SESSION)
    c.audit(request, user, 303, detail="logout")
    return resp


def _account(c, request, user, status=200, message=None, error=None, totp_new=None):
    return c.page(request, "account.html.j2", user, status=status, message=message, error=error,
                  totp_new=totp_new, sessions=S.count(c.store, user["id"]) if user.get("id") else 0,
                  has_totp=A.has_totp(c.store, user["name"]))


@guard("viewer")
def account(c, request, user):
    done = request.query_params.get("done") == "password"
    return _account(c, request, user, message=strings(c.lang(request))["pw_done"] if done else None)


@guard("viewer")
def password(c, request, user, data):
    from scanner.serve.app import SESSION, SESSION_MAX_AGE
    t = strings(c.lang(request))
    if user["via"] != "session":
        return _account(c, request, user, status=400, error=t["proxy_no_password"])
    if data.get("new", "") != data.get("again", ""):
        return _account(c, request, user, status=400, error=t["pw_mismatch"])
    try:
        A.set_password(c.store, user["name"], data.get("new", "")[:1024],
                       old=data.get("old", "")[:1024])
    except A.AccountError as exc:
        c.audit(request, user, 400, detail=f"password change refused: {exc}", target=user["name"])
        return _account(c, request, user, status=400, error=str(exc))
    # every session of the user ended (this one too): a new one for this browser
    sid, _ = S.open_session(c.store, user["id"], user["name"], c.remote(request))
    resp = RedirectResponse("/account?done=password", status_code=303)
    resp.set_cookie(SESSION, sid, max_age=SESSION_MAX_AGE, httponly=True, samesite="strict",
                    secure=c.cfg.secure_cookies)
    c.audit(request, user, 303, detail="password changed; every other session ended",
            target=user["name"])
    return resp


@guard("viewer")
def everywhere(c, request, user, data):
    from scanner.serve.app import SESSION
    n = S.end_user(c.store, user["id"]) if user.get("id") else 0
    resp = RedirectResponse("/login", status_code=303)
    resp.delete_cookie(SESSION)
    c.audit(request, user, 303, detail=f"logged out everywhere ({n} sessions)",
            target=user["name"])
    return resp


@guard("admin")
def totp(c, request, user, data):
    import pyotp
    t = strings(c.lang(request))
    action = data.get("action")
    if action in ("confirm", "off") and A.has_totp(c.store, user["name"]) \
            and not _totp_ok(A.totp_of(c.store, user["name"]) or "", data.get("current", "")):
        # a second factor already on is turned off or replaced only with a code of it:
        # a copied session cookie alone must not strip it
        c.audit(request, user, 400, detail=f"TOTP {action} refused: no current code",
                target=user["name"])
        return _account(c, request, user, status=400, error=t["login_otp"])
    if action == "new":
        return _account(c, request, user, totp_new=pyotp.random_base32())
    if action == "confirm":
        secret = (data.get("secret") or "")[:64]
        if not secret or not _totp_ok(secret, data.get("otp", "")):
            return _account(c, request, user, status=400, error=t["login_otp"], totp_new=secret)
        A.set_totp(c.store, user["name"], secret)
        c.audit(request, user, 200, detail="TOTP enabled", target=user["name"])
        return _account(c, request, user, message=t["totp_on"])
    if action == "off":
        A.set_totp(c.store, user["name"], None)
        c.audit(request, user, 200, detail="TOTP disabled", target=user["name"])
        return _account(c, request, user, message=t["totp_off"])
    return c.deny(request, user, 404, "not_found")


ROUTES = [
    Route("/login", login, methods=["GET", "POST"]),
    Route("/logout", logout, methods=["POST"]),
    Route("/account", account),
    Route("/account/password", password, methods=["POST"]),
    Route("/account/logout-everywhere", everywhere, methods=["POST"]),
    Route("/account/totp", totp, methods=["POST"]),
]
