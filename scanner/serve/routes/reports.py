"""The stored reports: the list, each one's page and its downloads (HTML,
PDF, the bundle's JSON, the evidence zip)."""
from __future__ import annotations

import json

from starlette.responses import HTMLResponse, Response
from starlette.routing import Route

from scanner.serve import views as V
from scanner.serve.routes.common import guard


@guard("viewer")
def reports(c, request, user):
    return c.page(request, "reports.html.j2", user, scans=V.scan_list(c.store))


def _docs(c, request):
    key = request.path_params["scan"]
    if key == "latest":
        docs = V.latest_bundles(c.store)
        return docs or None, "latest"
    try:
        pk = int(key)
    except ValueError:
        return None, key
    if not 0 < pk < 2**63:                     # past the store's integers: no such scan
        return None, key
    d = V.scan_document(c.store, pk)
    return ([d] if d else None), str(pk)


@guard("viewer")
def report_view(c, request, user):
    """A viewer reads a report; downloading it (HTML, PDF, JSON, the evidence
    zip) is an inspector's."""
    from scanner.serve.app import RANK, REPORT_CSP, headers
    what = request.path_params.get("what", "view")
    if what != "view" and RANK.get(user["role"], -1) < RANK["inspector"]:
        return c.deny(request, user, 403, "forbidden")
    docs, key = _docs(c, request)
    if docs is None:
        return c.deny(request, user, 404, "not_found")
    lang = c.lang(request)
    name = f"isoscan-{key}"
    if what == "bundle.json":
        if key == "latest":
            body = json.dumps(docs, ensure_ascii=False, indent=1)
        else:
            body = json.dumps(docs[0], ensure_ascii=False, indent=1)
        resp = Response(body, media_type="application/json", headers={
            **headers(REPORT_CSP), "Content-Disposition": f'attachment; filename="{name}.json"'})
    elif what in ("view", "report.html"):
        html = V.report_of(docs, lang)
        h = headers(REPORT_CSP)
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
            **headers(REPORT_CSP), "Content-Disposition": f'attachment; filename="{name}.pdf"'})
    elif what == "evidence.zip":
        resp = _evidence(c, docs, lang, name)
    else:
        return c.deny(request, user, 404, "not_found")
    c.audit(request, user, resp.status_code, detail="download" if what != "view" else "view")
    return resp


def _evidence(c, docs, lang, name):
    import os
    import tempfile
    from scanner.evidence.keys import Trust
    from scanner.evidence.package import build_package
    from scanner.evidence.verify import verify_document
    from scanner.serve.app import REPORT_CSP, headers
    from scanner.store.ingest import canonical
    html = V.report_of(docs, lang).encode("utf-8")
    tr = c.trust if c.trust is not None else Trust()
    inputs = [(f"{(d.get('scan_id') or 'bundle')}.json"[:120], canonical(d)) for d in docs]
    results = [verify_document(d, tr, n) for d, (n, _) in zip(docs, inputs)]
    with tempfile.TemporaryDirectory(prefix="isoscan-console-") as tmp:
        out = os.path.join(tmp, "evidence.zip")
        build_package(out, report_html=html, report_pdf=None, inputs=inputs,
                      results=results, trust=c.trust, signer=c.signer)
        with open(out, "rb") as fh:
            data = fh.read()
    return Response(data, media_type="application/zip", headers={
        **headers(REPORT_CSP), "Content-Disposition": f'attachment; filename="{name}-evidence.zip"'})


ROUTES = [
    Route("/reports", reports),
    Route("/reports/{scan}", report_view),
    Route("/reports/{scan}/{what}", report_view),
]
