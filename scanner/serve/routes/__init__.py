"""The console's routes, one module per page group (each exports ROUTES).

    common.py   the guard (who may, CSRF on POST, one-line failure page)
    auth.py     /login, /logout
    pages.py    overview, findings, a finding, changes, devices
    reports.py  the stored reports and their downloads (HTML, PDF, JSON, evidence zip)
    admin.py    users, probe tokens, the audit log
    api.py      the push API and the health probe
    events.py   what `isoscan watch` heard (issue 27)
    static.py   the stylesheet and the favicon

State lives on `app.state.console` (scanner.serve.app.Console): the store,
the config, the trusted keys, the spool. A handler reads it from the request.
"""
from __future__ import annotations


def all_routes() -> list:
    from scanner.serve.routes import admin, api, auth, events, pages, reports, static
    return [*pages.ROUTES, *auth.ROUTES, *reports.ROUTES, *admin.ROUTES, *api.ROUTES,
            *events.ROUTES, *static.ROUTES]
