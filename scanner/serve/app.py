"""The console's web application (Starlette; run under uvicorn by `isoscan serve`).

    app = build_app(store, cfg, trust=None, spool=None)

Authentication: a signed session cookie (itsdangerous; HttpOnly, SameSite=Strict,
Secure when `secure_cookies`), or a reverse proxy's header from a configured
address. Every POST form carries a CSRF token (double submit: a random cookie
and the same value in the form, compared in constant time); a form without it
is 403. Login is limited to 5 failures per user name (20 per address) in 15
minutes (429). Roles: viewer sees the overview; inspector every page and
download; admin that and the users, probe tokens and the audit log.

Every request but the stylesheet writes one audit row (who, when, what, from
where, the status): 安全审计.

The push API (`POST /api/v1/bundles`, SPEC §10.1) takes one bundle or canary log
as the request body, with `Authorization: Bearer TOKEN` (a probe token) or, with
none, a signature by a trusted key.
"""
from __future__ import annotations

import hmac
import secrets
from functools import lru_cache
from urllib.parse import parse_qs, urlencode

import jinja2
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import HTMLResponse, RedirectResponse

from scanner.serve import accounts as A
from scanner.serve import views as V
from scanner.serve.strings import DEFAULT, LANGS, strings

SESSION, CSRF, LANG = "isoscan_session", "isoscan_csrf", "isoscan_lang"
SESSION_MAX_AGE = 12 * 3600
RANK = {"viewer": 0, "inspector": 1, "admin": 2}
PAGE_CSP = ("default-src 'none'; style-src 'self'; img-src 'self' data:; form-action 'self'; "
            "frame-ancestors 'none'; base-uri 'none'")
REPORT_CSP = "frame-ancestors 'none'; base-uri 'none'; form-action 'none'"
MAX_FORM_BYTES = 64 * 1024


@lru_cache(maxsize=None)
def resource(name: str) -> str:
    from scanner.packagedata import data_file
    p = data_file("scanner.templates", "templates", "console/" + name)
    if p is None:
        raise FileNotFoundError(f"console template {name} is missing from this isoscan")
    return p.read_text("utf-8")


@lru_cache(maxsize=1)
def _env() -> jinja2.Environment:
    return jinja2.Environment(loader=jinja2.FunctionLoader(resource), autoescape=True,
                              undefined=jinja2.StrictUndefined, trim_blocks=True,
                              lstrip_blocks=True)


class Console:
    def __init__(self, store, cfg, trust=None, spool=None):
        from itsdangerous import URLSafeTimedSerializer
        self.store, self.cfg, self.trust, self.spool = store, cfg, trust, spool
        self.signer = URLSafeTimedSerializer(A.secret(store), salt="isoscan-session")

    # ------------------------------------------------------------ who is asking
    def remote(self, request: Request) -> str:
        """The client's address; behind a configured proxy (forwarded_from), the
        last address of X-Forwarded-For (the one the proxy itself added)."""
        peer = request.client.host if request.client else ""
        if peer in self.cfg.forwarded_from:
            fwd = request.headers.get("x-forwarded-for", "")
            last = fwd.split(",")[-1].strip()
            if last:
                return last[:64]
        return peer

    def proxy_peer(self, request: Request) -> str:
        return request.client.host if request.client else ""

    def user(self, request: Request) -> dict | None:
        pa = self.cfg.proxy_auth
        if pa is not None:
            name = request.headers.get(pa.header)
            if name and self.proxy_peer(request) in pa.trusted:
                role = request.headers.get(pa.role_header) if pa.role_header else None
                role = role if role in RANK else A.user_role(self.store, name)
                return {"name": name[:100], "role": role, "via": "proxy"} if role else None
        raw = request.cookies.get(SESSION)
        if not raw:
            return None
        from itsdangerous import BadSignature
        try:
            data = self.signer.loads(raw, max_age=SESSION_MAX_AGE)
        except BadSignature:
            return None
        name = data.get("u") if isinstance(data, dict) else None
        role = A.user_role(self.store, name) if isinstance(name, str) else None
        return {"name": name, "role": role, "via": "session"} if role else None

    def lang(self, request: Request) -> str:
        q = request.query_params.get("lang")
        if q in LANGS:
            return q
        c = request.cookies.get(LANG)
        return c if c in LANGS else DEFAULT

    def audit(self, request, user, status, what=None, detail=None):
        A.audit(self.store, who=(user or {}).get("name"), role=(user or {}).get("role"),
                remote=self.remote(request), method=request.method,
                what=what or (request.url.path + (("?" + request.url.query) if request.url.query else "")),
                status=status, detail=detail)

    # ------------------------------------------------------------ responses
    def _cookies(self, request, resp, lang):
        secure = self.cfg.secure_cookies
        if request.query_params.get("lang") in LANGS:
            resp.set_cookie(LANG, lang, max_age=365 * 86400, httponly=True, samesite="strict",
                            secure=secure)
        if not request.cookies.get(CSRF):
            resp.set_cookie(CSRF, request.state.csrf, httponly=True, samesite="strict",
                            secure=secure)

    def csrf_value(self, request) -> str:
        c = request.cookies.get(CSRF)
        return c if c and len(c) <= 100 else secrets.token_urlsafe(24)

    def page(self, request, name, user, status=200, **ctx):
        lang = self.lang(request)
        request.state.csrf = self.csrf_value(request)
        here = request.url.path
        q = {k: v for k, v in request.query_params.items() if k != "lang"}
        other = LANGS[1] if lang == LANGS[0] else LANGS[0]
        html = _env().get_template(name).render(
            t=strings(lang), lang=lang, user=user, csrf=request.state.csrf,
            titles=V.check_titles(lang),
            rank=RANK.get((user or {}).get("role"), -1), here=here,
            switch=here + "?" + urlencode({**q, "lang": other}), **ctx)
        resp = HTMLResponse(html, status_code=status, headers=headers(PAGE_CSP))
        self._cookies(request, resp, lang)
        self.audit(request, user, status)
        return resp

    def deny(self, request, user, status, key):
        if user is None and status == 401:
            resp = RedirectResponse("/login", status_code=303)
            self.audit(request, None, 303, detail="not logged in")
            return resp
        return self.page(request, "error.html.j2", user, status=status,
                         message=strings(self.lang(request))[key])

    async def form(self, request) -> dict | None:
        """The url-encoded form, or None when its CSRF token is missing or wrong."""
        body = b""
        async for chunk in request.stream():
            body += chunk
            if len(body) > MAX_FORM_BYTES:
                return None
        data = {k: v[0] for k, v in parse_qs(body.decode("utf-8", "replace"),
                                             keep_blank_values=True).items()}
        cookie = request.cookies.get(CSRF) or ""
        sent = data.get("csrf") or ""
        if not cookie or not hmac.compare_digest(cookie.encode(), sent.encode()):
            return None
        return data


def headers(csp: str) -> dict:
    return {"Content-Security-Policy": csp, "X-Content-Type-Options": "nosniff",
            "Referrer-Policy": "no-referrer", "Cache-Control": "no-store",
            "X-Frame-Options": "DENY"}


def server(app, host: str, port: int):
    """The uvicorn server of `isoscan serve` (and of the tests): uvicorn's own
    X-Forwarded-For handling off (the console believes it only from
    `forwarded_from`), no Server header."""
    import uvicorn
    return uvicorn.Server(uvicorn.Config(app, host=host, port=port, log_level="warning",
                                         proxy_headers=False, server_header=False,
                                         lifespan="off"))


def warm_up() -> None:
    """Import yaml_rs and parse the regulation mapping in the calling (main) thread.

    yaml_rs 0.1.6 (a pyo3 module) crashes the process (SIGSEGV) when it was first
    imported in a thread that has since exited and is then called from another
    thread: the first request's worker thread would be such a thread once its
    pool let it go (tests/serve: a second server in one process crashed in
    /devices). Imported here, in the thread that runs the server, it is safe."""
    import yaml_rs  # noqa: F401  (see above: the import's thread must outlive its callers)
    try:
        from scanner.judge.regulations import references
        references("ISO-BRIDGE", "en")
    except Exception:           # a broken mapping is the report's error to show
        pass


def build_app(store, cfg, trust=None, spool=None) -> Starlette:
    """The application: the console's state on `app.state.console`, its routes
    from scanner.serve.routes (one module per page group)."""
    from scanner.serve import tables
    from scanner.serve.routes import all_routes
    tables.create(store)
    warm_up()
    app = Starlette(routes=all_routes())
    app.state.console = Console(store, cfg, trust, spool)
    return app
