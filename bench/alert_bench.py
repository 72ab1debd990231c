"""`isoscan alert` on a large result: 20,000 failing findings of which 2,000
are new, to a webhook on loopback (one signed POST), the outbox written
atomically; then the same run again (all delivered: nothing sent) and the
next night's (all persisting: nothing sent). And `isoscan report --waivers`
with 1,000 waivers over the same result against the report without them.

    python3 bench/alert_bench.py
"""
from __future__ import annotations

import http.server
import json
import os
import shutil
import sys
import tempfile
import threading

from benchlib import timed

N, NEW, WAIVERS = 20_000, 2_000, 1_000


def result(scan_id: str, n: int) -> dict:
    from scanner.bundle import summary
    fs = [{"check_id": "DEV-UNREGISTERED", "status": "fail", "severity": "high",
           "segment": "office-lan", "title": "t", "evidence": [], "regulation": [],
           "subject": {"ip": f"10.{20 + i // 65536}.{i // 256 % 256}.{i % 256}",
                       "mac": "02:00:%02x:%02x:%02x:%02x" % (i >> 24 & 255, i >> 16 & 255, i >> 8 & 255, i & 255),
                       "device": None}} for i in range(n)]
    return {"schema": "isoscan.bundle/1", "scan_id": scan_id, "tool": {"name": "isoscan", "version": "0.1.0"},
            "started_at": "2026-12-01T02:00:00Z", "finished_at": "2026-12-01T02:01:00Z",
            "inventory": {"files": [], "sha256": ""},
            "vantage": {"segment": "office-lan", "interface": "eth0", "ip": "10.20.0.9", "mac": None},
            "observations": {}, "findings": fs, "summary": summary(fs)}


def main() -> int:
    here = os.path.dirname(os.path.abspath(__file__))
    sys.path.insert(0, os.path.dirname(here))
    got = []

    class H(http.server.BaseHTTPRequestHandler):
        def do_POST(self):
            got.append(len(self.rfile.read(int(self.headers["Content-Length"]))))
            self.send_response(200)
            self.send_header("Content-Length", "0")
            self.end_headers()

        def log_message(self, *a):
            pass

    srv = http.server.ThreadingHTTPServer(("127.0.0.1", 0), H)
    threading.Thread(target=srv.serve_forever, daemon=True).start()
    tmp = tempfile.mkdtemp(prefix="isoscan-alert-bench-")
    try:
        paths = {}
        for name, sid, n in (("prev", "s1", N - NEW), ("cur", "s2", N), ("next", "s3", N)):
            paths[name] = os.path.join(tmp, f"{name}.json")
            with open(paths[name], "w") as fh:
                json.dump(result(sid, n), fh)
        with open(os.path.join(tmp, "k"), "w") as fh:
            fh.write("secret\n")
        cfg = os.path.join(tmp, "alerts.yaml")
        with open(cfg, "w") as fh:
            fh.write(f"version: 1\noutbox: outbox.jsonl\nchannels:\n  - {{name: hook, type: webhook, "
                     f"url: 'http://127.0.0.1:{srv.server_address[1]}/', secret_file: k}}\n")
        isoscan = [sys.executable, "-m", "scanner.cli"]
        runs = [("first run", "prev", "cur"), ("same pair again", "prev", "cur"),
                ("next night, all persisting", "cur", "next")]
        for label, a, b in runs:
            t, r = timed(isoscan + ["alert", "-c", cfg, "--previous", paths[a], "--current", paths[b]])
            if r.returncode not in (0, 1):
                print(r.stderr, file=sys.stderr)
            print(f"alert {label}: {t:.2f} s, exit {r.returncode}, POSTs so far {len(got)} "
                  f"({got[-1] if got else 0:,} bytes last)")
        print(f"outbox: {os.path.getsize(os.path.join(tmp, 'outbox.jsonl')):,} bytes")
        w = os.path.join(tmp, "waivers.yaml")
        with open(w, "w") as fh:
            fh.write("version: 1\nwaivers:\n")
            for i in range(WAIVERS):
                fh.write(f"  - {{match: {{check: DEV-UNREGISTERED, ip: '10.20.{i // 256}.{i % 256}'}}, "
                         "reason: r, approver: a, expires: 2099-01-01}\n")
        base = isoscan + ["report", paths["cur"], "--no-rejudge", "-o", os.path.join(tmp, "r.html")]
        t0, r0 = timed(base)
        t1, r1 = timed(base + ["--waivers", w])
        print(f"report {N:,} failing findings: {t0:.2f} s; with {WAIVERS:,} waivers: {t1:.2f} s "
              f"(exit {r0.returncode}/{r1.returncode})")
    finally:
        srv.shutdown()
        shutil.rmtree(tmp)
    return 0


if __name__ == "__main__":
    sys.exit(main())
