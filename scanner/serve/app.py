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
import json
import secrets
from functools import lru_cache
from urllib.parse import parse_qs, urlencode

import jinja2
from starlette.applications import Starlette
from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import HTMLResponse, JSONResponse, RedirectResponse, Response
from starlette.routing import Route

from scanner.serve import accounts as A
from scanner.serve import views as V
from scanner.serve.intake import Refused, cap, commit, prepare
from scanner.serve.strings import DEFAULT, LANGS, strings

SESSION, CSRF, LANG = "isoscan_session", "isoscan_csrf", "isoscan_lang"
SESSION_MAX_AGE = 12 * 3600
RANK = {"viewer": 0, "inspector": 1, "admin": 2}
PAGE_CSP = ("default-src 'none'; style-src 'self'; img-src 'self' data:; form-action 'self'; "
            "frame-ancestors 'none'; base-uri 'none'")
REPORT_CSP = "frame-ancestors 'none'; base-uri 'none'; form-action 'none'"
MAX_FORM_BYTES = 64 * 1024


@lru_cache(maxsize=None)
def _resource(name: str) -> str:
    from scanner.packagedata import data_file
    p = data_file("scanner.templates", "templates", "console/" + name)
    if p is None:
        raise FileNotFoundError(f"console template {name} is missing from this isoscan")
    return p.read_text("utf-8")


@lru_cache(maxsize=1)
def _env() -> jinja2.Environment:
    return jinja2.Environment(loader=jinja2.FunctionLoader(_resource), autoescape=True,
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
        resp = HTMLResponse(html, status_code=status, headers=_headers(PAGE_CSP))
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


def _headers(csp: str) -> dict:
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
    from scanner.serve import tables
    tables.create(store)
    warm_up()
    c = Console(store, cfg, trust, spool)

    def guard(min_role):
        def wrap(fn):
            async def handler(request: Request):
                user = await run_in_threadpool(c.user, request)
                if user is None:
                    return await run_in_threadpool(c.deny, request, None, 401, "forbidden")
                if RANK.get(user["role"], -1) < RANK[min_role]:
                    return await run_in_threadpool(c.deny, request, user, 403, "forbidden")
                args = (request, user)
                if request.method == "POST":
                    data = await c.form(request)
                    if data is None:
                        return await run_in_threadpool(c.deny, request, user, 403, "csrf")
                    args = (request, user, data)
                try:
                    return await run_in_threadpool(fn, *args)
                except Exception as exc:   # one line on the page and in the audit log, no traceback
                    import logging
                    logging.getLogger("isoscan.serve").exception("%s failed", request.url.path)
                    why = f"{type(exc).__name__}: {str(exc).splitlines()[0] if str(exc) else ''}"
                    return await run_in_threadpool(
                        lambda: c.page(request, "error.html.j2", user, status=500,
                                       message=strings(c.lang(request))["failed"] + " " + why[:300]))
            return handler
        return wrap

    # ------------------------------------------------------------ login
    async def login(request: Request):
        if request.method == "GET":
            return await run_in_threadpool(c.page, request, "login.html.j2", None, error=None)
        data = await c.form(request)
        if data is None:
            return await run_in_threadpool(c.deny, request, None, 403, "csrf")
        name, pw = data.get("name", "")[:100], data.get("password", "")

        def check():
            if A.limited(store, name, c.remote(request)):
                return c.page(request, "login.html.j2", None, status=429,
                              error=strings(c.lang(request))["login_limited"])
            u = A.authenticate(store, name, pw[:1024], c.remote(request))
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
    def logout(request, user, data):
        resp = RedirectResponse("/login", status_code=303)
        resp.delete_cookie(SESSION)
        c.audit(request, user, 303, detail="logout")
        return resp

    # ------------------------------------------------------------ pages
    @guard("viewer")
    def overview(request, user):
        return c.page(request, "overview.html.j2", user, ov=V.overview(store, cfg))

    @guard("inspector")
    def findings(request, user):
        q = request.query_params
        sel = {k: (q.get(k) or None) for k in ("segment", "check", "severity")}
        return c.page(request, "findings.html.j2", user, rows=V.findings(store, **sel),
                      sel=sel, facets=V.facets(store))

    @guard("inspector")
    def finding(request, user):
        h = V.one_finding(store, request.path_params["fp"])
        if h is None:
            return c.deny(request, user, 404, "not_found")
        return c.page(request, "finding.html.j2", user, h=h)

    @guard("inspector")
    def changes(request, user):
        from scanner.store.history import since_time
        spec = request.query_params.get("since") or "7d"
        try:
            since = since_time(spec)
        except ValueError:
            spec, since = "7d", since_time("7d")
        return c.page(request, "changes.html.j2", user, since=since, spec=spec,
                      rows=V.changes(store, since))

    @guard("inspector")
    def devices(request, user):
        return c.page(request, "devices.html.j2", user, dev=V.devices(store, c.lang(request)))

    @guard("inspector")
    def reports(request, user):
        return c.page(request, "reports.html.j2", user, scans=V.scan_list(store))

    def _docs(request):
        key = request.path_params["scan"]
        if key == "latest":
            docs = V.latest_bundles(store)
            return docs or None, "latest"
        try:
            pk = int(key)
        except ValueError:
            return None, key
        d = V.scan_document(store, pk)
        return ([d] if d else None), str(pk)

    @guard("inspector")
    def report_view(request, user):
        docs, key = _docs(request)
        if docs is None:
            return c.deny(request, user, 404, "not_found")
        what = request.path_params.get("what", "view")
        lang = c.lang(request)
        name = f"isoscan-{key}"
        if what == "bundle.json":
            if key == "latest":
                body = json.dumps(docs, ensure_ascii=False, indent=1)
            else:
                body = json.dumps(docs[0], ensure_ascii=False, indent=1)
            resp = Response(body, media_type="application/json", headers={
                **_headers(REPORT_CSP), "Content-Disposition": f'attachment; filename="{name}.json"'})
        elif what in ("view", "report.html"):
            html = V.report_of(docs, lang)
            h = _headers(REPORT_CSP)
            if what == "report.html":
                h["Content-Disposition"] = f'attachment; filename="{name}.html"'
            resp = HTMLResponse(html, headers=h)
        elif what == "report.pdf":
            import os
            import tempfile
            from scanner.evidence.pdf import PdfError, html_to_pdf
            with tempfile.TemporaryDirectory(prefix="isoscan-console-") as tmp:
                try:
                    data = html_to_pdf(V.report_of(docs, lang), os.path.join(tmp, "r.pdf"))
                except PdfError as exc:
                    return c.page(request, "error.html.j2", user, status=503, message=str(exc))
            resp = Response(data, media_type="application/pdf", headers={
                **_headers(REPORT_CSP), "Content-Disposition": f'attachment; filename="{name}.pdf"'})
        elif what == "evidence.zip":
            resp = _evidence(docs, lang, name)
        else:
            return c.deny(request, user, 404, "not_found")
        c.audit(request, user, resp.status_code, detail="download" if what != "view" else "view")
        return resp

    def _evidence(docs, lang, name):
        import os
        import tempfile
        from scanner.evidence.keys import Trust
        from scanner.evidence.package import build_package
        from scanner.evidence.verify import verify_document
        from scanner.store.ingest import canonical
        html = V.report_of(docs, lang).encode("utf-8")
        tr = trust if trust is not None else Trust()
        inputs = [(f"{(d.get('scan_id') or 'bundle')}.json"[:120], canonical(d)) for d in docs]
        results = [verify_document(d, tr, n) for d, (n, _) in zip(docs, inputs)]
        with tempfile.TemporaryDirectory(prefix="isoscan-console-") as tmp:
            out = os.path.join(tmp, "evidence.zip")
            build_package(out, report_html=html, report_pdf=None, inputs=inputs,
                          results=results, trust=trust)
            with open(out, "rb") as fh:
                data = fh.read()
        return Response(data, media_type="application/zip", headers={
            **_headers(REPORT_CSP), "Content-Disposition": f'attachment; filename="{name}-evidence.zip"'})

    # ------------------------------------------------------------ admin
    @guard("admin")
    def admin(request, user):
        return c.page(request, "admin.html.j2", user, users=A.list_users(store),
                      tokens=A.list_tokens(store), new_token=None, error=None)

    def _admin_after(request, user, new_token=None, error=None, status=200):
        return c.page(request, "admin.html.j2", user, status=status, users=A.list_users(store),
                      tokens=A.list_tokens(store), new_token=new_token, error=error)

    @guard("admin")
    def admin_user(request, user, data):
        try:
            A.add_user(store, data.get("name", ""), data.get("role", ""), data.get("password", ""))
        except A.AccountError as exc:
            return _admin_after(request, user, error=str(exc), status=400)
        return _admin_after(request, user)

    @guard("admin")
    def admin_token(request, user, data):
        try:
            tok = A.new_token(store, data.get("probe", ""), by=user["name"],
                              segments=(data.get("segments") or "").split(","))
        except A.AccountError as exc:
            return _admin_after(request, user, error=str(exc), status=400)
        return _admin_after(request, user, new_token=tok)

    @guard("admin")
    def admin_revoke(request, user, data):
        try:
            A.revoke_token(store, int(request.path_params["id"]))
        except ValueError:
            return c.deny(request, user, 404, "not_found")
        return _admin_after(request, user)

    @guard("admin")
    def audit_page(request, user):
        return c.page(request, "audit.html.j2", user, rows=A.audit_rows(store))

    # ------------------------------------------------------------ push API
    async def push(request: Request):
        def answer(status, body, who=None, detail=None):
            c.audit(request, {"name": who, "role": "probe"} if who else None, status,
                    detail=detail or body.get("error") or json.dumps(
                        {k: body.get(k) for k in ("scan_id", "kind", "signature")}))
            return JSONResponse(body, status_code=status, headers={"Cache-Control": "no-store"})

        auth = request.headers.get("authorization") or ""
        token = auth[7:].strip() if auth[:7].lower() == "bearer " else None
        if auth and token is None:
            return await run_in_threadpool(answer, 401, {"ok": False, "error":
                                           "Authorization must be 'Bearer TOKEN'"})
        probe, allowed = None, None
        if token is not None:
            found = await run_in_threadpool(A.probe_of_token, store, token)
            if found is None:
                return await run_in_threadpool(answer, 401, {"ok": False, "error":
                                               "unknown or revoked token; nothing stored"})
            probe, allowed = found
        limit = cap(cfg)
        try:
            declared = int(request.headers.get("content-length") or 0)
        except ValueError:
            declared = 0
        if declared > limit:
            return await run_in_threadpool(answer, 413, {"ok": False, "error":
                                           f"larger than {limit:,} bytes; nothing stored"}, probe)
        body = bytearray()
        async for chunk in request.stream():
            body += chunk
            if len(body) > limit:
                return await run_in_threadpool(answer, 413, {"ok": False, "error":
                                               f"larger than {limit:,} bytes; nothing stored"}, probe)
        name = "push:" + (probe or "signed") + ":" + (request.query_params.get("name") or "bundle")[:100]

        def work():
            try:
                p = prepare(bytes(body), name, cfg, trust)
                who = probe
                if who is None:
                    if p.signature != "valid":
                        return answer(401, {"ok": False, "error":
                                            "no token and not signed by a trusted key; nothing stored"})
                    who = "key:" + (p.key_fingerprint or "?")
                if allowed is not None:
                    d = p.doc.data
                    v = d.get("vantage") if isinstance(d.get("vantage"), dict) else {}
                    if p.doc.kind != "bundle" or isinstance(d.get("sources"), list) \
                            or v.get("segment") not in allowed:
                        return answer(403, {"ok": False, "error":
                                            f"the token of {probe} may push only bundles of a "
                                            f"vantage on {', '.join(allowed)}; nothing stored"},
                                      probe)
                res = commit(store, p)
                return answer(201, {"ok": True, **res}, who)
            except Refused as exc:
                return answer(exc.status, {"ok": False, "error": exc.reason, **exc.extra},
                              probe, detail=exc.reason)
        return await run_in_threadpool(work)

    async def health(request: Request):
        return JSONResponse({"ok": True})

    async def css(request: Request):
        return Response(_resource("console.css"), media_type="text/css",
                        headers={"Cache-Control": "max-age=3600", "X-Content-Type-Options": "nosniff"})

    routes = [
        Route("/", overview),
        Route("/login", login, methods=["GET", "POST"]),
        Route("/logout", logout, methods=["POST"]),
        Route("/findings", findings),
        Route("/findings/{fp}", finding),
        Route("/changes", changes),
        Route("/devices", devices),
        Route("/reports", reports),
        Route("/reports/{scan}", report_view),
        Route("/reports/{scan}/{what}", report_view),
        Route("/admin", admin),
        Route("/admin/users", admin_user, methods=["POST"]),
        Route("/admin/tokens", admin_token, methods=["POST"]),
        Route("/admin/tokens/{id}/revoke", admin_revoke, methods=["POST"]),
        Route("/audit", audit_page),
        Route("/api/v1/bundles", push, methods=["POST"]),
        Route("/api/v1/health", health),
        Route("/static/console.css", css),
        Route("/favicon.ico", lambda request: Response(status_code=204)),
    ]
    from scanner.serve import watch_events   # issue 27: the watch's page (lead: re-wire after 23)
    routes += watch_events.routes(c, guard, store)
    app = Starlette(routes=routes)
    app.state.console = c
    return app
