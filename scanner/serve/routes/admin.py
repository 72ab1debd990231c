"""The admin's pages: users (add, disable, remove, end their sessions), probe
tokens (add, revoke), the audit log (pages, search, CSV, the hash chain).
Every change is audited with its target."""
from __future__ import annotations

import csv
import io

from starlette.responses import Response
from starlette.routing import Route

from scanner.serve import accounts as A
from scanner.serve import sessions as S
from scanner.serve.routes.common import guard

AUDIT_PAGE = 100


@guard("admin")
def admin(c, request, user):
    return _admin_after(c, request, user)


def _admin_after(c, request, user, new_token=None, error=None, status=200):
    from scanner.serve.waiverstore import list_waivers
    return c.page(request, "admin.html.j2", user, status=status, users=A.list_users(c.store),
                  tokens=A.list_tokens(c.store), new_token=new_token, error=error,
                  waivers=list_waivers(c.store))


def _refused(c, request, user, exc, target):
    c.audit(request, user, 400, detail=str(exc), target=target)
    return _admin_after(c, request, user, error=str(exc), status=400, )


@guard("admin")
def admin_user(c, request, user, data):
    name, role = data.get("name", ""), data.get("role", "")
    try:
        A.add_user(c.store, name, role, data.get("password", ""))
    except A.AccountError as exc:
        return _refused(c, request, user, exc, name)
    c.audit(request, user, 200, detail=f"user set: role {role}", target=name)
    return _admin_after(c, request, user)


@guard("admin")
def admin_user_action(c, request, user, data):
    name, action = request.path_params["name"], request.path_params["action"]
    try:
        if action == "disable":
            if name == user["name"]:
                raise A.AccountError("an admin does not disable their own account")
            A.disable_user(c.store, name, True)
        elif action == "enable":
            A.disable_user(c.store, name, False)
        elif action == "remove":
            if name == user["name"]:
                raise A.AccountError("an admin does not remove their own account")
            A.remove_user(c.store, name)
        elif action == "logout":
            u = A.user_named(c.store, name)
            if u is None:
                raise A.AccountError(f"no user {name!r}")
            S.end_user(c.store, u["id"])
        else:
            return c.deny(request, user, 404, "not_found")
    except A.AccountError as exc:
        return _refused(c, request, user, exc, name)
    c.audit(request, user, 200, detail=f"user {action}", target=name)
    return _admin_after(c, request, user)


@guard("admin")
def admin_token(c, request, user, data):
    probe = data.get("probe", "")
    try:
        tok = A.new_token(c.store, probe, by=user["name"],
                          segments=(data.get("segments") or "").split(","))
    except A.AccountError as exc:
        return _refused(c, request, user, exc, probe)
    c.audit(request, user, 200, detail="token made", target=f"probe:{probe}")
    return _admin_after(c, request, user, new_token=tok)


@guard("admin")
def admin_revoke(c, request, user, data):
    try:
        tid = int(request.path_params["id"])
    except ValueError:
        return c.deny(request, user, 404, "not_found")
    if not 0 < tid < 2**63:
        return c.deny(request, user, 404, "not_found")
    A.revoke_token(c.store, tid)
    c.audit(request, user, 200, detail="token revoked", target=f"token:{tid}")
    return _admin_after(c, request, user)


@guard("admin")
def audit_page(c, request, user):
    q = (request.query_params.get("q") or "").strip()[:100] or None
    try:
        page = min(max(0, int(request.query_params.get("page") or 0)), 10**9)
    except ValueError:
        page = 0
    if request.query_params.get("format") == "csv":
        return _audit_csv(c, request, user, q)
    rows = A.audit_rows(c.store, AUDIT_PAGE, offset=page * AUDIT_PAGE, q=q)
    total = A.audit_count(c.store, q)
    return c.page(request, "audit.html.j2", user, rows=rows, q=q or "", page=page,
                  more=(page + 1) * AUDIT_PAGE < total, total=total,
                  broken=A.audit_verify(c.store), retention=c.cfg.audit_retention_days)


AUDIT_COLUMNS = ("id", "at", "who", "role", "remote", "method", "what", "status", "target",
                 "attempted", "detail", "hash")


def _audit_csv(c, request, user, q):
    from scanner.serve.app import REPORT_CSP, headers
    buf = io.StringIO()
    w = csv.writer(buf)
    w.writerow(AUDIT_COLUMNS)
    for r in A.audit_rows(c.store, 10**9, q=q):
        w.writerow([csv_cell(r.get(k)) for k in AUDIT_COLUMNS])
    c.audit(request, user, 200, detail="download")
    return Response(buf.getvalue().encode("utf-8-sig"), media_type="text/csv; charset=utf-8",
                    headers={**headers(REPORT_CSP),
                             "Content-Disposition": 'attachment; filename="isoscan-audit.csv"'})


def csv_cell(v):
    """A CSV cell a spreadsheet will not run: text beginning with = + - @ (or a
    tab/CR) gets a leading apostrophe (OWASP CSV injection); control and bidi
    characters shown as \\uXXXX, as on the pages (scanner.formats.text.visible)."""
    from scanner.formats.text import visible
    if v is None:
        return ""
    s = visible(str(v))
    return "'" + s if s[:1] in ("=", "+", "-", "@", "\t", "\r") else s


ROUTES = [
    Route("/admin", admin),
    Route("/admin/users", admin_user, methods=["POST"]),
    Route("/admin/users/{name}/{action}", admin_user_action, methods=["POST"]),
    Route("/admin/tokens", admin_token, methods=["POST"]),
    Route("/admin/tokens/{id}/revoke", admin_revoke, methods=["POST"]),
    Route("/audit", audit_page),
]
