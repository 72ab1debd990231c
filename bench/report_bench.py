"""Benchmark: a large scan renders in seconds into a file a browser opens.

    python3 bench/report_bench.py [--devices 100000] [--findings 10000] [--out FILE]
                                  [--browser]

Builds an inventory of N registered devices over 20 segments, one bundle per
segment whose discovery saw most of them (plus unregistered strangers), and F
findings (fails of every severity, errors, many passes); merges and renders
the report, and prints the render time and the file size. With --browser it
also loads the file in headless Chromium (local file, no network) and prints
how long that took.
"""
from __future__ import annotations

import argparse
import os
import random
import shutil
import subprocess
import sys
import tempfile
import time

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), ".."))

SEVS = ("critical", "high", "medium", "low", "info")


def make_scan(devices: int = 100_000, findings: int = 10_000, segments: int = 20, seed: int = 7):
    rnd = random.Random(seed)
    segs = []
    for s in range(segments):
        cls = "classified" if s % 2 == 0 else "non-classified"
        segs.append({"name": f"seg-{s:02d}", "classification": cls,
                     "level": "secret" if cls == "classified" else None,
                     "networks": [f"10.{s}.0.0/16"]})
    segs.append({"name": "internet", "classification": "internet", "networks": ["203.0.113.0/24"]})
    devs = []
    for i in range(devices):
        s = i % segments
        n = i // segments
        devs.append({"name": f"ws-{i:06d}", "kind": "workstation", "asset_tag": f"BM-{i:06d}",
                     "custodian": f"用户{i % 997}", "segment": f"seg-{s:02d}",
                     "ip": f"10.{s}.{n // 250}.{n % 250 + 1}",
                     "mac": "02:%02x:%02x:%02x:%02x:%02x" % (s, (n >> 16) & 255, (n >> 8) & 255, n & 255, 1)})
    inv = {"organization": {"name": "基准测试单位"}, "segments": segs, "devices": devs}
    bundles = []
    per_seg_findings = findings // segments
    for s in range(segments):
        seg = f"seg-{s:02d}"
        hosts = [{"ip": d["ip"], "mac": d["mac"], "via": "arp"}
                 for d in devs[s::segments] if rnd.random() > 0.02]
        hosts += [{"ip": f"10.{s}.250.{k}", "mac": f"02:ee:{s:02x}:00:{k >> 8:02x}:{k & 255:02x}",
                   "via": "arp"} for k in range(1, 50)]
        fs = []
        for k in range(per_seg_findings):
            r = rnd.random()
            status = "pass" if r < 0.5 else "fail" if r < 0.9 else "error" if r < 0.97 else "skipped"
            fs.append({"check_id": rnd.choice(["DEV-UNREGISTERED", "DEV-MISSING", "ISO-BRIDGE",
                                               "NET-DHCP", "ING-SINGLE", "DEV-MISMATCH"]),
                       "status": status, "severity": rnd.choice(SEVS), "segment": seg,
                       "subject": {"ip": f"10.{s}.{k // 250}.{k % 250}", "mac": None,
                                   "device": f"ws-{k:06d}"},
                       "title": "", "evidence": [f"probe {k}: ARP reply from 10.{s}.{k // 250}.{k % 250}"],
                       "regulation": []})
        bundles.append({
            "schema": "isoscan.bundle/1", "scan_id": f"bench-{s}",
            "tool": {"name": "isoscan", "version": "0.1.0"},
            "started_at": "2026-11-30T02:00:00Z", "finished_at": "2026-11-30T02:30:00Z",
            "inventory": {"files": ["bench.yaml"], "sha256": "0" * 64},
            "vantage": {"segment": seg, "interface": "eth0", "ip": f"10.{s}.255.1",
                        "mac": f"02:ff:00:00:00:{s:02x}"},
            "observations": {"discovery": {"status": "ok", "error": None, "hosts": hosts}},
            "findings": fs, "summary": {}})
    return bundles, inv


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--devices", type=int, default=100_000)
    ap.add_argument("--findings", type=int, default=10_000)
    ap.add_argument("--out", default=os.path.join(tempfile.gettempdir(), "isoscan-bench-report.html"))
    ap.add_argument("--lang", default="zh-CN")
    ap.add_argument("--browser", action="store_true", help="also time a headless Chromium load")
    a = ap.parse_args(argv)

    from scanner.report.render import render_report
    t0 = time.perf_counter()
    bundles, inv = make_scan(a.devices, a.findings)
    t1 = time.perf_counter()
    html = render_report(bundles, a.lang, inventory=inv)
    t2 = time.perf_counter()
    with open(a.out, "w", encoding="utf-8") as fh:
        fh.write(html)
    size = os.path.getsize(a.out)
    print(f"devices={a.devices} findings={a.findings} (generated in {t1 - t0:.2f} s)")
    print(f"render: {t2 - t1:.2f} s   file: {size / 1e6:.1f} MB   {a.out}")
    if a.browser:
        exe = shutil.which("chromium")
        if not exe:
            print("browser: chromium not installed")
            return 0
        with tempfile.TemporaryDirectory() as prof:
            t3 = time.perf_counter()
            subprocess.run([exe, "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic",
                            "--no-first-run", "--disable-background-networking",
                            "--disable-component-update", "--disable-sync",
                            f"--user-data-dir={prof}", "--window-size=1280,2000",
                            f"--screenshot={a.out}.png", "file://" + os.path.abspath(a.out)],
                           capture_output=True, timeout=300)
            print(f"browser: headless Chromium load + screenshot {time.perf_counter() - t3:.2f} s")
    return 0


if __name__ == "__main__":
    sys.exit(main())
