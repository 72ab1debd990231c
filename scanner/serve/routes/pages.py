"""The pages a person reads: overview, findings (filters, search, CSV/JSON
export of exactly what is shown), one finding (acknowledge, waive), changes,
devices (the register, exported as CSV)."""
from __future__ import annotations

import csv
import io
import json
from datetime import datetime, timezone

from starlette.responses import RedirectResponse, Response
from starlette.routing import Route

from scanner.serve import views as V
from scanner.serve.routes.common import guard
from scanner.serve.strings import strings
from scanner.serve.unit import OPEN, SEVERITIES, unit_state

FIX_FIRST = 10


@guard("viewer")
def overview(c, request, user):
    u = unit_state(c.store, c.cfg)
    return c.page(request, "overview.html.j2", user, ov=V.overview(c.store, c.cfg, u),
                  unit=u, fix=u.open[:FIX_FIRST])


FILTERS = ("segment", "check", "severity", "state", "q")


def selected(u, q) -> tuple[dict, list]:
    """The filters of the query and the rows they leave, in fix-first order."""
    from scanner.serve.views import check_titles
    sel = {k: (q.get(k) or "").strip()[:200] or None for k in FILTERS}
    state = sel["state"] or "open"
    rows = {"open": u.open, "waived": u.waived,
            "resolved": [r for r in u.rows if r.h.state == "resolved"],
            "all": u.rows}.get(state, u.open)
    if sel["segment"]:
        rows = [r for r in rows if (r.h.segment or "") == sel["segment"]]
    if sel["check"]:
        rows = [r for r in rows if r.h.check == sel["check"]]
    if sel["severity"]:
        rows = [r for r in rows if r.h.severity == sel["severity"]]
    if sel["q"]:
        words = sel["q"].lower().split()
        titles = check_titles("zh-CN"), check_titles("en")
        rows = [r for r in rows
                if all(w in r.text(f"{titles[0].get(r.h.check, '')} {titles[1].get(r.h.check, '')} "
                                   f"{r.h.title}") for w in words)]
    sel["state"] = state
    return sel, rows


EXPORT_COLUMNS = ("severity", "check_id", "title", "segment", "classification", "where",
                  "state", "first_seen", "last_seen", "age_days", "evidence", "remediation",
                  "assignee", "waiver", "fingerprint")


def export_row(r, titles, zone) -> dict:
    from scanner.localtime import local_iso
    w = r.waiver
    return {"severity": r.h.severity, "check_id": r.h.check,
            "title": titles.get(r.h.check) or r.h.title, "segment": r.h.segment or "",
            "classification": r.classification or "", "where": r.where, "state": r.h.state,
            "first_seen": local_iso(r.h.first_seen, zone), "last_seen": local_iso(r.h.last_seen, zone),
            "age_days": r.h.age_days, "evidence": r.evidence,
            "remediation": (r.detail or {}).get("remediation") or "",
            "assignee": (r.ack or {}).get("assignee") or "",
            "waiver": f"{w['reason']} ({w['approver']}, {w['expires']})" if w else "",
            "fingerprint": r.fingerprint}


@guard("viewer")
def findings(c, request, user):
    from scanner.serve.routes.admin import csv_cell
    from scanner.serve.app import REPORT_CSP, headers
    u = unit_state(c.store, c.cfg)
    sel, rows = selected(u, request.query_params)
    fmt = request.query_params.get("format")
    if fmt in ("csv", "json"):
        titles = V.check_titles(c.lang(request))
        data = [export_row(r, titles, c.zone) for r in rows]
        if fmt == "json":
            body = json.dumps({"filters": sel, "findings": data}, ensure_ascii=False, indent=1)
            media = "application/json"
        else:
            buf = io.StringIO()
            w = csv.writer(buf)
            w.writerow(EXPORT_COLUMNS)
            for d in data:
                w.writerow([csv_cell("; ".join(d[k]) if isinstance(d[k], list) else d[k])
                            for k in EXPORT_COLUMNS])
            body = "\ufeff" + buf.getvalue()
            media = "text/csv; charset=utf-8"
        c.audit(request, user, 200, detail="download")
        return Response(body.encode("utf-8"), media_type=media, headers={
            **headers(REPORT_CSP),
            "Content-Disposition": f'attachment; filename="isoscan-findings.{fmt}"'})
    facets = {"segments": [s["name"] for s in u.segments],
              "checks": sorted({r.h.check for r in u.rows}), "severities": SEVERITIES}
    from urllib.parse import urlencode
    q = {k: v for k, v in sel.items() if v}
    return c.page(request, "findings.html.j2", user, rows=rows, sel=sel, facets=facets, unit=u,
                  export_csv="/findings?" + urlencode({**q, "format": "csv"}),
                  export_json="/findings?" + urlencode({**q, "format": "json"}))


def _finding_page(c, request, user, r, status=200, error=None, message=None):
    from scanner.report.render import localise
    f = {"check_id": r.h.check, "title": r.h.title, "remediation": "", "regulation": [],
         **(r.detail or {})}
    f["regulation"] = list(f.get("regulation") or [])
    localise([f], c.lang(request))          # remediation and regulation in the page's language
    return c.page(request, "finding.html.j2", user, status=status, r=r, h=r.h, error=error,
                  message=message, today=datetime.now(timezone.utc).date().isoformat(),
                  remediation=f.get("remediation") or "",
                  regulation=[g if isinstance(g, str) else json.dumps(g, ensure_ascii=False)
                              for g in f.get("regulation") or []],
                  unit_segments=unit_state(c.store, c.cfg).segments,
                  audit_target=f"finding:{r.fingerprint}")


@guard("viewer")
def finding(c, request, user):
    r = unit_state(c.store, c.cfg).row(request.path_params["fp"])
    if r is None:
        return c.deny(request, user, 404, "not_found")
    done = request.query_params.get("done")
    msg = strings(c.lang(request)).get("done_" + done) if done in ("ack", "waive") else None
    return _finding_page(c, request, user, r, message=msg)


@guard("inspector")
def acknowledge(c, request, user, data):
    from scanner.serve.waiverstore import WaiverStoreError, add_ack
    fp = request.path_params["fp"]
    r = unit_state(c.store, c.cfg).row(fp)
    if r is None:
        return c.deny(request, user, 404, "not_found")
    try:
        add_ack(c.store, fp, data.get("assignee", ""), data.get("note", ""), user["name"])
    except WaiverStoreError as exc:
        c.audit(request, user, 400, detail=f"acknowledge refused: {exc}", target=f"finding:{fp}")
        return _finding_page(c, request, user, r, status=400, error=str(exc))
    c.audit(request, user, 303, detail=f"acknowledged: {data.get('assignee', '')[:100]}",
            target=f"finding:{fp}")
    return RedirectResponse(f"/findings/{fp}?done=ack", status_code=303)


@guard("admin")
def waive(c, request, user, data):
    from scanner.serve.waiverstore import WaiverStoreError, add_waiver, as_waiver
    from scanner.waivers import PROTECTED, WaiverError, _refuse_finding
    fp = request.path_params["fp"]
    u = unit_state(c.store, c.cfg)
    r = u.row(fp)
    if r is None:
        return c.deny(request, user, 404, "not_found")
    f = dict(r.detail) if r.detail else {"check_id": r.h.check, "segment": r.h.segment,
                                          "subject": r.h.subject}
    try:
        probe = as_waiver({"id": 0, "reason": "x", "approver": "x", "fingerprint": fp,
                           "match": None, "expires": "2999-01-01"})
        if r.h.check in PROTECTED and not u.classification.get(r.h.segment or ""):
            raise WaiverError(f"{r.h.check} on a segment whose classification the console does "
                              "not know cannot be waived (fail closed: the bundles carry no "
                              "inventory that says it is not classified)")
        _refuse_finding(probe, f, u.classification)
        add_waiver(c.store, fingerprint=fp, reason=data.get("reason", ""),
                   approver=data.get("approver", ""), expires=data.get("expires", ""),
                   by=user["name"])
    except (WaiverStoreError, WaiverError) as exc:
        why = str(exc).replace("store:waiver#0: ", "")
        c.audit(request, user, 400, detail=f"waiver refused: {why}", target=f"finding:{fp}")
        return _finding_page(c, request, user, r, status=400, error=why)
    c.audit(request, user, 303, detail=f"waived until {data.get('expires', '')[:10]} "
                                       f"(approver {data.get('approver', '')[:100]})",
            target=f"finding:{fp}")
    return RedirectResponse(f"/findings/{fp}?done=waive", status_code=303)


@guard("admin")
def unwaive(c, request, user, data):
    from scanner.serve.waiverstore import revoke_waiver
    try:
        wid = int(request.path_params["id"])
    except ValueError:
        return c.deny(request, user, 404, "not_found")
    if not 0 < wid < 2**63:
        return c.deny(request, user, 404, "not_found")
    revoke_waiver(c.store, wid, user["name"])
    c.audit(request, user, 303, detail="waiver revoked", target=f"waiver:{wid}")
    back = data.get("back") or "/findings"
    return RedirectResponse(back if back.startswith("/findings") else "/findings", status_code=303)


@guard("viewer")
def changes(c, request, user):
    from scanner.store.history import since_time
    spec = request.query_params.get("since") or "7d"
    try:
        since = since_time(spec)
    except (ValueError, OverflowError):        # a window past the calendar: the default
        spec, since = "7d", since_time("7d")
    return c.page(request, "changes.html.j2", user, since=since, spec=spec,
                  rows=V.changes(c.store, since, unit_state(c.store, c.cfg)))


@guard("viewer")
def devices(c, request, user):
    from scanner.serve.routes.admin import csv_cell
    from scanner.serve.app import REPORT_CSP, headers
    dev = V.devices(c.store, c.lang(request))
    if request.query_params.get("format") == "csv":
        buf = io.StringIO()
        w = csv.writer(buf)
        for r in dev["recon"]:
            w.writerow([strings(c.lang(request))["segment"], *r["table"]["columns"]])
            for row in (r["table"].get("data") or r["table"].get("rows") or []):
                w.writerow([csv_cell(r["segment"]), *[csv_cell(x) for x in row[1:]]])
        c.audit(request, user, 200, detail="download")
        return Response(("\ufeff" + buf.getvalue()).encode("utf-8"),
                        media_type="text/csv; charset=utf-8", headers={
                            **headers(REPORT_CSP),
                            "Content-Disposition": 'attachment; filename="isoscan-register.csv"'})
    return c.page(request, "devices.html.j2", user, dev=dev)


ROUTES = [
    Route("/", overview),
    Route("/findings", findings),
    Route("/findings/{fp}", finding),
    Route("/findings/{fp}/acknowledge", acknowledge, methods=["POST"]),
    Route("/findings/{fp}/waive", waive, methods=["POST"]),
    Route("/waivers/{id}/revoke", unwaive, methods=["POST"]),
    Route("/changes", changes),
    Route("/devices", devices),
]
