"""Progress of a scan on stderr (one line a step); `--quiet` silences it.

Everything on the wire is data: nothing from the network is printed here.
"""
from __future__ import annotations

import sys
import time

from scanner.model import pick


class Progress:
    def __init__(self, quiet: bool = False, lang: str = "zh-CN", stream=None):
        self.quiet = quiet
        self.lang = lang
        self.stream = stream or sys.stderr
        self.t0 = time.monotonic()
        self._step_t = {}
        # step -> {"start", "seconds"} from t0, quiet or not (observations.timings)
        self.timings: dict[str, dict] = {}

    def _w(self, line: str):
        if self.quiet:
            return
        try:
            self.stream.write(f"[{time.monotonic() - self.t0:6.2f}s] {line}\n")
            self.stream.flush()
        except (OSError, ValueError):
            pass

    def note(self, msg):
        self._w(pick(msg, self.lang))

    def start(self, name: str, msg=None):
        self._step_t[name] = time.monotonic()
        self._w(f"{name} …" + (f" {pick(msg, self.lang)}" if msg else ""))

    def done(self, name: str, status: str, msg=None):
        dt = max(0.0, time.monotonic() - self._step_t.get(name, time.monotonic()))
        if name in self._step_t:
            self.timings[name] = {"start": round(self._step_t[name] - self.t0, 3),
                                  "seconds": round(dt, 3)}
        mark = {"ok": "✓", "error": "✗", "not-run": "-"}.get(status, "?")
        self._w(f"{name} {mark} {status} ({dt:.2f}s)" + (f": {pick(msg, self.lang)}" if msg else ""))
