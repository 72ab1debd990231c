"""The stylesheet and the favicon (no login, not audited)."""
from __future__ import annotations

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route


async def css(request: Request):
    from scanner.serve.app import resource
    return Response(resource("console.css"), media_type="text/css",
                    headers={"Cache-Control": "max-age=3600", "X-Content-Type-Options": "nosniff"})


ROUTES = [
    Route("/static/console.css", css),
    Route("/favicon.ico", lambda request: Response(status_code=204)),
]
