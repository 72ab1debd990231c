"""uvicorn's HTTP/1.1 protocol (h11) with read deadlines: a request's head
must arrive within `header_timeout` seconds of the connection (or of the
first byte after a keep-alive pause), and its body within `body_timeout`
seconds of its head; otherwise the connection is closed (a 408 when no
response began). uvicorn alone holds a half-sent head or a trickled body
open for ever (slowloris).

    server = uvicorn.Server(uvicorn.Config(app, http=deadline_protocol(10, 60),
                                           limit_concurrency=64, ...))
"""
from __future__ import annotations

import h11
from uvicorn.protocols.http.h11_impl import H11Protocol


def deadline_protocol(header_timeout: float, body_timeout: float):
    class DeadlineH11(H11Protocol):
        _timer = None
        _phase = None                 # "head" | "body" | None (no deadline running)

        def _arm(self, phase: str, seconds: float) -> None:
            self._disarm()
            self._phase = phase
            self._timer = self.loop.call_later(seconds, self._expired)

        def _disarm(self) -> None:
            if self._timer is not None:
                self._timer.cancel()
            self._timer, self._phase = None, None

        def connection_made(self, transport) -> None:
            super().connection_made(transport)
            self._arm("head", header_timeout)

        def connection_lost(self, exc) -> None:
            self._disarm()
            super().connection_lost(exc)

        def data_received(self, data: bytes) -> None:
            if self._phase is None and self.conn.their_state is h11.IDLE:
                self._arm("head", header_timeout)       # a new request after keep-alive
            super().data_received(data)
            state = self.conn.their_state
            if state is h11.SEND_BODY and self._phase != "body":
                self._arm("body", body_timeout)
            elif state not in (h11.IDLE, h11.SEND_BODY):
                self._disarm()                           # the whole request is in

        def _expired(self) -> None:
            phase = self._phase
            self._timer, self._phase = None, None
            if self.transport.is_closing():
                return
            state = self.conn.their_state
            if (phase == "head" and state is h11.IDLE) or (phase == "body" and state is h11.SEND_BODY):
                self.logger.warning("closing a connection whose request %s did not arrive in time",
                                    "head" if phase == "head" else "body")
                if self.cycle is None or not self.cycle.response_started:
                    try:
                        self.transport.write(b"HTTP/1.1 408 Request Timeout\r\nconnection: close\r\n"
                                             b"content-length: 0\r\n\r\n")
                    except Exception:                # the socket is gone: closing is all that is left
                        pass
                self.transport.close()

    return DeadlineH11
