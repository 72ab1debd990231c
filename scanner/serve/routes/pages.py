"""The pages a person reads: overview, findings, one finding, changes, devices."""
from __future__ import annotations

from starlette.routing import Route

from scanner.serve import views as V
from scanner.serve.routes.common import guard


@guard("viewer")
def overview(c, request, user):
    return c.page(request, "overview.html.j2", user, ov=V.overview(c.store, c.cfg))


@guard("inspector")
def findings(c, request, user):
    q = request.query_params
    sel = {k: (q.get(k) or None) for k in ("segment", "check", "severity")}
    return c.page(request, "findings.html.j2", user, rows=V.findings(c.store, **sel),
                  sel=sel, facets=V.facets(c.store))


@guard("inspector")
def finding(c, request, user):
    h = V.one_finding(c.store, request.path_params["fp"])
    if h is None:
        return c.deny(request, user, 404, "not_found")
    return c.page(request, "finding.html.j2", user, h=h)


@guard("inspector")
def changes(c, request, user):
    from scanner.store.history import since_time
    spec = request.query_params.get("since") or "7d"
    try:
        since = since_time(spec)
    except ValueError:
        spec, since = "7d", since_time("7d")
    return c.page(request, "changes.html.j2", user, since=since, spec=spec,
                  rows=V.changes(c.store, since))


@guard("inspector")
def devices(c, request, user):
    return c.page(request, "devices.html.j2", user, dev=V.devices(c.store, c.lang(request)))


ROUTES = [
    Route("/", overview),
    Route("/findings", findings),
    Route("/findings/{fp}", finding),
    Route("/changes", changes),
    Route("/devices", devices),
]
