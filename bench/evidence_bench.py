"""Signing and verifying a large bundle, and the PDF of a report with many findings.

    python3 bench/evidence_bench.py [--records N] [--pdf-findings M]

The bundle is the report fixture with N forwarding-probe-like records in its
observations (a /22 scan's bundle is some tens of MB); the figures go in the
the table of docs/benchmarks.md."""
from __future__ import annotations

import argparse
import copy
import json
import os
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from scanner.evidence.keys import load_private_key, load_trust, new_key_pair  # noqa: E402
from scanner.evidence.sign import sign_once  # noqa: E402
from scanner.evidence.verify import verify_document  # noqa: E402


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--records", type=int, default=100_000)
    ap.add_argument("--pdf-findings", type=int, default=1000)
    a = ap.parse_args()
    base = json.loads((REPO / "tests/report/fixtures/secret-lan.json").read_text("utf-8"))
    with tempfile.TemporaryDirectory() as tmp:
        priv, pub, _ = new_key_pair(os.path.join(tmp, "k.key"))
        key, trust = load_private_key(priv), load_trust(pub)
        doc = copy.deepcopy(base)
        doc["observations"]["bench"] = [
            {"host": f"10.{i >> 16 & 255}.{i >> 8 & 255}.{i & 255}", "probe": "forwarding",
             "sent_at": 1764640800.0 + i / 1000, "ttl": 64, "answered": i % 7 == 0,
             "note": "探测 probe"} for i in range(a.records)]
        size = len(json.dumps(doc, ensure_ascii=False, separators=(",", ":")).encode())
        t = time.perf_counter()
        signed = sign_once(doc, key, os.path.join(tmp, "st.json"))
        t_sign = time.perf_counter() - t
        t = time.perf_counter()
        r = verify_document(signed, trust, "bench")
        t_verify = time.perf_counter() - t
        assert r.ok, r.detail
        print(f"bundle {size / 1e6:.1f} MB: sign {t_sign:.2f} s, verify {t_verify:.2f} s")

        if a.pdf_findings:
            from scanner.bundle import findings_from_bundle, summary
            doc = copy.deepcopy(base)
            for i in range(a.pdf_findings):
                doc["findings"].append({
                    "check_id": "DEV-UNREGISTERED", "status": "fail", "severity": "high",
                    "segment": "secret-lan",
                    "subject": {"ip": f"10.10.{i // 250}.{i % 250}", "mac": None,
                                "device": f"rogue-{i}"},
                    "title": "", "evidence": [f"ARP reply {i}"], "regulation": []})
            doc["summary"] = summary(findings_from_bundle(doc))
            b = Path(tmp) / "b.json"
            b.write_text(json.dumps(doc), "utf-8")
            from click.testing import CliRunner
            from scanner.cli import main as cli
            t = time.perf_counter()
            res = CliRunner().invoke(cli, ["report", str(b), "--no-rejudge", "-o",
                                           os.path.join(tmp, "r.html"), "--record",
                                           "--pdf", os.path.join(tmp, "r.pdf")])
            t_pdf = time.perf_counter() - t
            assert res.exit_code == 0, res.output
            pdf = Path(tmp) / "r.pdf"
            import re
            pages = len(re.findall(rb"/Type\s*/Page[^s]", pdf.read_bytes()))
            print(f"report --record --pdf, {len(doc['findings'])} findings: {t_pdf:.2f} s, "
                  f"{pages} pages, {pdf.stat().st_size / 1e6:.1f} MB")


if __name__ == "__main__":
    main()
