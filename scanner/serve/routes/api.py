"""The push API (`POST /api/v1/bundles`, SPEC §10.1) and the health probe."""
from __future__ import annotations

import json

from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route

from scanner.serve import accounts as A
from scanner.serve.intake import Refused, cap, commit, prepare
from scanner.serve.routes.common import console_of
from scanner.serve.scope import out_of_scope


async def push(request: Request):
    """Who pushes is known before a byte of the body is read: a probe token
    (looked up first), or none -- then only a document signed by a trusted key
    can be taken, within `max_anonymous_push_bytes`, and what is wrong with an
    unauthenticated body is not told (401 without the parser's words)."""
    c = console_of(request)
    store, cfg, trust = c.store, c.cfg, c.trust

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
    else:
        if trust is None:
            return await run_in_threadpool(answer, 401, {"ok": False, "error": ANONYMOUS})
        limit = min(cap(cfg), cfg.max_anonymous_push_bytes)
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
        except Refused as exc:
            if probe is None:                # nothing of the parser's words to a stranger
                return answer(401, {"ok": False, "error": ANONYMOUS}, detail=exc.reason)
            return answer(exc.status, {"ok": False, "error": exc.reason, **exc.extra},
                          probe, detail=exc.reason)
        try:
            who = probe
            if who is None:
                if p.signature != "valid":
                    return answer(401, {"ok": False, "error": ANONYMOUS})
                who = "key:" + (p.key_fingerprint or "?")
            if allowed is not None:
                why = out_of_scope(store, p.doc.data, p.doc.kind, allowed)
                if why:
                    return answer(403, {"ok": False, "error":
                                        f"the token of {probe} may push only bundles of a vantage "
                                        f"on {', '.join(allowed)} whose findings and stations "
                                        f"lie there too, and {why}; nothing stored"}, probe)
            res = commit(store, p, trust)
            return answer(201, {"ok": True, **res}, who)
        except Refused as exc:
            return answer(exc.status, {"ok": False, "error": exc.reason, **exc.extra},
                          probe, detail=exc.reason)
    return await run_in_threadpool(work)


ANONYMOUS = "no token and not a document signed by a trusted key; nothing stored"


async def health(request: Request):
    return JSONResponse({"ok": True})


ROUTES = [
    Route("/api/v1/bundles", push, methods=["POST"]),
    Route("/api/v1/health", health),
]
