"""Helpers of the store tests (import them from here, not from conftest)."""
from __future__ import annotations

import copy
import json
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
FIXTURES = REPO / "tests" / "report" / "fixtures"
NAMES = ("secret-lan", "office-lan", "internet")

_CACHE: dict = {}


def fixture_bundle(name: str) -> dict:
    if name not in _CACHE:
        _CACHE[name] = json.loads((FIXTURES / f"{name}.json").read_text("utf-8"))
    return copy.deepcopy(_CACHE[name])


def write(path: Path, data) -> str:
    path.write_text(json.dumps(data, ensure_ascii=False), "utf-8")
    return str(path)


def finding(check, segment, status, *, mac=None, ip=None, device=None, severity="high"):
    return {"check_id": check, "status": status, "severity": severity, "segment": segment,
            "subject": {"ip": ip, "mac": mac, "device": device}, "title": f"{check} title",
            "evidence": [f"{check} {status} {mac or ip or ''}"], "regulation": [],
            "remediation": ""}


def synthetic_bundle(segment: str, at: str, findings=(), hosts=(), *, scan_id=None,
                     vantage_ip="10.0.0.2", discovery="ok") -> dict:
    """A valid SPEC §5 bundle (scanner.bundle.validate) of one vantage: the
    given findings (a pass of each check id named, when none is given), and
    the discovery's hosts [(ip, mac)]."""
    import uuid

    from scanner.bundle import SCHEMA, summary
    fs = list(findings) or [finding("DEV-UNREGISTERED", segment, "pass")]
    return {
        "schema": SCHEMA, "scan_id": scan_id or str(uuid.uuid4()),
        "tool": {"name": "isoscan", "version": "0.1.0"},
        "started_at": at, "finished_at": at, "lang": "en",
        "inventory": {"files": ["inventory.yaml"], "sha256": "0" * 64},
        "vantage": {"segment": segment, "interface": "eth0", "ip": vantage_ip,
                    "mac": "02:00:00:00:ff:01"},
        "observations": {"discovery": {"status": discovery, "error": None, "method": "arp",
                                       "hosts": [{"ip": i, "mac": m, "via": "arp"} for i, m in hosts]}},
        "findings": fs, "summary": summary(fs),
    }
