"""The console's web application (Starlette; run under uvicorn by `isoscan serve`).

    app = build_app(store, cfg, trust=None, spool=None)

Authentication: a server-side session (scanner.serve.sessions: the cookie is a
random id, HttpOnly, SameSite=Strict, Secure when `secure_cookies`; idle 30
minutes, absolute 12 hours; ended by logout, a password change, disabling or
removing the user, "log out everywhere"), or a reverse proxy's header from a
configured address, for users the console knows (unless `proxy_auth.create`).

CSRF: every POST form carries the session's own token (made at login, so a
login rotates it), compared in constant time; the login form's token is an
HMAC of a pre-login cookie under a key that lives only in this process, so a
cookie planted from another port of the host is worth nothing. A form without
the right token is 403.

Roles: viewer reads every page (overview, findings, devices, reports);
inspector also acknowledges findings and downloads evidence; admin also
manages users, tokens, waivers and reads the audit log.

Every request but the stylesheet writes one audit row (who, when, what, from
where, the status), each chained by hash to the one before: 安全审计.

The push API (`POST /api/v1/bundles`, SPEC §10.1): see routes/api.py.
"""
from __future__ import annotations

import hashlib
import hmac
import secrets
from functools import lru_cache
from urllib.parse import parse_qs, urlencode

import jinja2
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import HTMLResponse, RedirectResponse

from scanner.serve import accounts as A
from scanner.serve import sessions as S
from scanner.serve import views as V
from scanner.serve.strings import DEFAULT, LANGS, strings

SESSION, PRE, LANG = "isoscan_session", "isoscan_pre", "isoscan_lang"
SESSION_MAX_AGE = int(S.ABSOLUTE.total_seconds())
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


def _shown(value):
    """Every string printed into a page: control characters and bidi overrides
    shown as \\uXXXX, as the report does (scanner.formats.text.visible)."""
    from scanner.formats.text import visible
    if isinstance(value, str) and not isinstance(value, jinja2.utils.markupsafe.Markup):
        return visible(value)
    return value


@jinja2.pass_context
def _local(ctx, value, seconds=True):
    """A stored UTC time as the unit reads it (scanner.localtime)."""
    from scanner.localtime import local_iso
    return local_iso(value, ctx.get("zone"), seconds=seconds) if value else ""


@lru_cache(maxsize=1)
def _env() -> jinja2.Environment:
    env = jinja2.Environment(loader=jinja2.FunctionLoader(resource), autoescape=True,
                             undefined=jinja2.StrictUndefined, trim_blocks=True,
                             lstrip_blocks=True, finalize=_shown)
    env.filters["local"] = _local
    return env


class Console:
    def __init__(self, store, cfg, trust=None, spool=None, signer=None):
        self.store, self.cfg, self.trust, self.spool = store, cfg, trust, spool
        self.signer = signer            # the console's evidence key (console.yaml signing_key)
        self._form_key = secrets.token_bytes(32)    # login forms' CSRF: this process only
        from scanner.localtime import unit_zone
        self.zone = unit_zone(cfg.timezone)

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
        """{id, name, role, via, csrf} of the request's user, or None. Cached on
        the request (the guard and the page both ask)."""
        if hasattr(request.state, "user"):
            return request.state.user
        request.state.user = u = self._user(request)
        return u

    def _user(self, request: Request) -> dict | None:
        pa = self.cfg.proxy_auth
        if pa is not None:
            name = request.headers.get(pa.header)
            if name and self.proxy_peer(request) in pa.trusted and (
                    pa.secret is None or hmac.compare_digest(
                        request.headers.get("x-isoscan-proxy-secret", "").encode(),
                        pa.secret.encode())):
                name = name[:100]
                known = A.user_named(self.store, name)
                if known is not None:
                    role = known["role"]
                elif pa.create:
                    role = request.headers.get(pa.role_header) if pa.role_header else None
                    role = role if role in RANK else None
                else:
                    role = None
                if role is None:
                    return None
                return {"id": (known or {}).get("id"), "name": name, "role": role,
                        "via": "proxy", "csrf": self._mac("proxy:" + name)}
        raw = request.cookies.get(SESSION)
        s = S.lookup(self.store, raw) if raw else None
        if s is None:
            return None
        u = A.user_by_id(self.store, s.user_id)
        if u is None or u["name"] != s.name:
            return None
        return {**u, "via": "session", "csrf": s.csrf, "sid": raw}

    def lang(self, request: Request) -> str:
        q = request.query_params.get("lang")
        if q in LANGS:
            return q
        c = request.cookies.get(LANG)
        return c if c in LANGS else DEFAULT

    def prune(self) -> None:
        """The audit log's retention: rows older than audit_retention_days go
        (at start and then at most once a day, from the request that notices)."""
        import time
        self._pruned = time.time()
        n = A.audit_prune(self.store, self.cfg.audit_retention_days)
        if n:
            A.audit(self.store, who=None, role=None, remote="", method="RETAIN", what="audit",
                    status=200, detail=f"{n} rows older than {self.cfg.audit_retention_days:g} "
                                       "days removed (audit_retention_days)")

    def audit(self, request, user, status, what=None, detail=None, target=None, attempted=None):
        import time
        if time.time() - getattr(self, "_pruned", 0) > 86400:
            self.prune()
        A.audit(self.store, who=(user or {}).get("name"), role=(user or {}).get("role"),
                remote=self.remote(request), method=request.method,
                what=what or (request.url.path + (("?" + request.url.query) if request.url.query else "")),
                status=status, detail=detail, target=target, attempted=attempted)

    # ------------------------------------------------------------ CSRF
    def _mac(self, text: str) -> str:
        return hmac.new(self._form_key, text.encode("utf-8"), hashlib.sha256).hexdigest()

    def _pre(self, request) -> str:
        """The pre-login cookie's value (made now when the browser has none)."""
        if not hasattr(request.state, "pre"):
            c = request.cookies.get(PRE)
            request.state.pre_new = not (c and 20 <= len(c) <= 100)
            request.state.pre = secrets.token_urlsafe(24) if request.state.pre_new else c
        return request.state.pre

    def csrf_value(self, request, user) -> str:
        if user is not None:
            return user["csrf"]
        return self._mac("pre:" + self._pre(request))

    # ------------------------------------------------------------ responses
    def _cookies(self, request, resp, lang):
        secure = self.cfg.secure_cookies
        if request.query_params.get("lang") in LANGS:
            resp.set_cookie(LANG, lang, max_age=365 * 86400, httponly=True, samesite="strict",
                            secure=secure)
        if getattr(request.state, "pre_new", False):
            resp.set_cookie(PRE, request.state.pre, httponly=True, samesite="strict",
                            secure=secure)

    def page(self, request, name, user, status=200, audit=True, **ctx):
        lang = self.lang(request)
        csrf = self.csrf_value(request, user)
        here = request.url.path
        q = {k: v for k, v in request.query_params.items() if k != "lang"}
        other = LANGS[1] if lang == LANGS[0] else LANGS[0]
        html = _env().get_template(name).render(
            t=strings(lang), lang=lang, user=user, csrf=csrf, zone=self.zone,
            titles=V.check_titles(lang),
            rank=RANK.get((user or {}).get("role"), -1), here=here,
            switch=here + "?" + urlencode({**q, "lang": other}), **ctx)
        resp = HTMLResponse(html, status_code=status, headers=headers(PAGE_CSP))
        self._cookies(request, resp, lang)
        if audit:
            self.audit(request, user, status, target=ctx.get("audit_target"))
        return resp

    def deny(self, request, user, status, key):
        if user is None and status == 401:
            resp = RedirectResponse("/login", status_code=303)
            self.audit(request, None, 303, detail="not logged in")
            return resp
        return self.page(request, "error.html.j2", user, status=status,
                         message=strings(self.lang(request))[key])

    async def form(self, request, user=None) -> dict | None:
        """The url-encoded form, or None when its CSRF token is missing or is
        not the session's (the pre-login cookie's, before login), or when the
        browser says another origin's page sent it (Sec-Fetch-Site): a page on
        another port of the host is the same site, so it could plant an
        `isoscan_pre` cookie whose token it fetched itself (login CSRF)."""
        if request.headers.get("sec-fetch-site", "same-origin") not in ("same-origin", "none"):
            return None
        body = b""
        async for chunk in request.stream():
            body += chunk
            if len(body) > MAX_FORM_BYTES:
                return None
        data = {k: v[0] for k, v in parse_qs(body.decode("utf-8", "replace"),
                                             keep_blank_values=True).items()}
        if user is not None:
            want = user["csrf"]
        else:
            pre = request.cookies.get(PRE)
            if not pre:
                return None
            want = self._mac("pre:" + pre)
        sent = data.get("csrf") or ""
        if not hmac.compare_digest(want.encode(), sent.encode()):
            return None
        return data


def headers(csp: str) -> dict:
    return {"Content-Security-Policy": csp, "X-Content-Type-Options": "nosniff",
            "Referrer-Policy": "no-referrer", "Cache-Control": "no-store",
            "X-Frame-Options": "DENY"}


def server(app, host: str, port: int, cfg=None):
    """The uvicorn server of `isoscan serve` (and of the tests): uvicorn's own
    X-Forwarded-For handling off (the console believes it only from
    `forwarded_from`), no Server header; read deadlines for a request's head
    and body (slowclients.py) and at most `max_connections` at once (503
    beyond)."""
    import uvicorn
    from scanner.serve.config import Config
    from scanner.serve.slowclients import deadline_protocol
    cfg = cfg or getattr(getattr(app, "state", None), "console", None) and app.state.console.cfg \
        or Config()
    return uvicorn.Server(uvicorn.Config(
        app, host=host, port=port, log_level="warning", proxy_headers=False,
        server_header=False, lifespan="off", limit_concurrency=cfg.max_connections,
        http=deadline_protocol(cfg.header_timeout_seconds, cfg.body_timeout_seconds),
        h11_max_incomplete_event_size=32 * 1024))


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


def build_app(store, cfg, trust=None, spool=None, signer=None) -> Starlette:
    """The application: the console's state on `app.state.console`, its routes
    from scanner.serve.routes (one module per page group)."""
    from scanner.serve import tables
    from scanner.serve.routes import all_routes
    tables.create(store)
    warm_up()
    app = Starlette(routes=all_routes())
    app.state.console = Console(store, cfg, trust, spool, signer)
    app.state.console.prune()
    return app
