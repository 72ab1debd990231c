"""The admin's pages: users, probe tokens, the audit log."""
from __future__ import annotations

from starlette.routing import Route

from scanner.serve import accounts as A
from scanner.serve.routes.common import guard


@guard("admin")
def admin(c, request, user):
    return _admin_after(c, request, user)


def _admin_after(c, request, user, new_token=None, error=None, status=200):
    return c.page(request, "admin.html.j2", user, status=status, users=A.list_users(c.store),
                  tokens=A.list_tokens(c.store), new_token=new_token, error=error)


@guard("admin")
def admin_user(c, request, user, data):
    try:
        A.add_user(c.store, data.get("name", ""), data.get("role", ""), data.get("password", ""))
    except A.AccountError as exc:
        return _admin_after(c, request, user, error=str(exc), status=400)
    return _admin_after(c, request, user)


@guard("admin")
def admin_token(c, request, user, data):
    try:
        tok = A.new_token(c.store, data.get("probe", ""), by=user["name"],
                          segments=(data.get("segments") or "").split(","))
    except A.AccountError as exc:
        return _admin_after(c, request, user, error=str(exc), status=400)
    return _admin_after(c, request, user, new_token=tok)


@guard("admin")
def admin_revoke(c, request, user, data):
    try:
        A.revoke_token(c.store, int(request.path_params["id"]))
    except ValueError:
        return c.deny(request, user, 404, "not_found")
    return _admin_after(c, request, user)


@guard("admin")
def audit_page(c, request, user):
    return c.page(request, "audit.html.j2", user, rows=A.audit_rows(c.store))


ROUTES = [
    Route("/admin", admin),
    Route("/admin/users", admin_user, methods=["POST"]),
    Route("/admin/tokens", admin_token, methods=["POST"]),
    Route("/admin/tokens/{id}/revoke", admin_revoke, methods=["POST"]),
    Route("/audit", audit_page),
]
