"""Inbound probes from an internet vantage into the non-classified segments:
every registered address and every exposed address, on nmap's most common
TCP ports plus the declared exposed ports (TCP SYN scan; exposed UDP ports
too), one nmap for the lot.

nmap's states are kept: "open" (SYN-ACK), "closed" (RST), "filtered"
(silence, or an ICMP unreachable -- from a router on the way that is not an
answer from inside). The reason nmap gives is kept beside it.
"""
from __future__ import annotations

import shutil

from scanner.model import text
from scanner.plan import Plan
from scanner.probes.wire import ProbeError, require_privileges, require_up

NMAP_ARGS = "-sS -n -Pn -T4 --max-retries 1 --reason"


def probe(plan: Plan) -> dict:
    if plan.classification != "internet":
        return {"status": "not-run", "error": None,
                "reason": "inbound probes run from an internet vantage only", "probes": []}
    require_privileges()
    require_up(plan.vantage.interface)
    if not plan.inbound:
        return {"status": "ok", "error": None, "method": "nmap " + NMAP_ARGS, "probes": []}
    if not shutil.which("nmap"):
        raise ProbeError(text("未找到 nmap，无法进行入站探测", "nmap not found: inbound probes cannot run"))
    import nmap
    hosts = [plan.guard(t.ip) for t in plan.inbound]
    tcp = sorted({p for t in plan.inbound for p in t.tcp})
    udp = sorted({p for t in plan.inbound for p in t.udp})
    ports = "T:" + ",".join(map(str, tcp)) + ("," + "U:" + ",".join(map(str, udp)) if udp else "")
    args = f"{NMAP_ARGS}{' -sU' if udp else ''} -e {plan.vantage.interface} -p {ports}"
    nm = nmap.PortScanner()
    try:
        nm.scan(hosts=" ".join(hosts), arguments=args)
    except nmap.PortScannerError as exc:
        raise ProbeError(text(f"nmap 失败：{exc}", f"nmap failed: {exc}"))
    info = nm.scaninfo() or {}
    if info.get("error"):
        errs = info["error"]
        msg = "; ".join(e.strip() for e in (errs if isinstance(errs, list) else [errs]))
        raise ProbeError(text(f"nmap 报错：{msg}", f"nmap reported an error: {msg}"))
    by_ip = {t.ip: t for t in plan.inbound}
    out = []
    for t in plan.inbound:
        h = nm[t.ip] if t.ip in nm.all_hosts() else None
        for proto, wanted in (("tcp", t.tcp), ("udp", t.udp)):
            table = (h.get(proto) or {}) if h is not None else {}
            for port in wanted:
                row = table.get(port)
                state = (row or {}).get("state", "filtered")
                state = state if state in ("open", "closed") else "filtered"
                # open|filtered (UDP without an answer) is no answer: filtered
                out.append({"dst": t.ip, "dst_segment": by_ip[t.ip].segment, "proto": proto,
                            "port": port, "state": state,
                            "reason": (row or {}).get("reason") or "no-response",
                            "banner": None})
    return {"status": "ok", "error": None, "method": f"nmap {args}",
            "targets": [{"dst": t.ip, "dst_segment": t.segment, "tcp": len(t.tcp), "udp": list(t.udp)}
                        for t in plan.inbound],
            "probes": out}
