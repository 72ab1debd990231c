"""Inbound probes from an internet vantage, as the internet sees the unit.

The targets come from the plan (scanner.scan.plan.inbound_targets): the unit's
public addresses first (the ingress's internet-side address, a declared
public range, each published service's public address), then the addresses
of non-classified segments that this vantage has a route to. One nmap run
for the lot: a TCP SYN scan of nmap's top ports plus the declared ones
(`quick`) or of every port (`full`, at a fixed minimum rate), the declared
UDP ports, and a light service probe of what is open (`-sV
--version-light`, and nmap's banner script where -sV matches nothing), so an
open port is named ("8291/tcp mikrotik-routeros", "22/tcp ssh").

nmap's states are kept: "open" (SYN-ACK), "closed" (RST), "filtered"
(silence, or an ICMP unreachable -- from a router on the way that is not an
answer from inside). The reason nmap gives is kept beside it. What was
covered is recorded (`coverage`): the mode, the addresses, the ports, when.
A full sweep records its closed and filtered ports as counts per address
rather than 65,535 rows each, and sweeps the routed networks of non-classified segments
(a /24 at most each, on the top ports) for stations nobody named: where the
internet reaches private addresses, an unregistered one answering is
ISO-LOGICAL too, and the report joins it with DEV-UNREGISTERED.
"""
from __future__ import annotations

import datetime as _dt
import shutil

from scanner.localtime import timestamp
from scanner.model import text
from scanner.scan.plan import Plan, top_tcp_ports
from scanner.probes.wire import ProbeError, check_nmap, require_privileges, require_up

NMAP_ARGS = "-sS -n -Pn -T4 --max-retries 1 --reason"
SERVICE_ARGS = "-sV --version-light --script banner"
BANNER_MAX = 200


def port_spec(ports) -> str:
    """'1-1024,8080' from a set of ports (nmap's -p syntax, ranges folded)."""
    out, run = [], []
    for p in sorted(set(ports)):
        if run and p == run[-1] + 1:
            run.append(p)
            continue
        if run:
            out.append(f"{run[0]}-{run[-1]}" if len(run) > 1 else str(run[0]))
        run = [p]
    if run:
        out.append(f"{run[0]}-{run[-1]}" if len(run) > 1 else str(run[0]))
    return ",".join(out)


def nmap_arguments(plan: Plan) -> str:
    tcp = {p for t in plan.inbound for p in t.tcp}
    udp = {p for t in plan.inbound for p in t.udp}
    ports = "T:" + port_spec(tcp) + (",U:" + port_spec(udp) if udp else "")
    # a full sweep keeps at least --inbound-rate probes per second however
    # quiet the targets are (bench/inbound_bench.py measures it)
    rate = f" --min-rate {plan.inbound_rate}" if plan.inbound_mode == "full" else ""
    return (f"{NMAP_ARGS} {SERVICE_ARGS}{rate}{' -sU' if udp else ''} "
            f"-e {plan.vantage.interface} -p {ports}")


def run_nmap(nmap, hosts, args: str):
    """One nmap run through python-nmap; a failure, or an error nmap reports
    (which would otherwise read as nothing found), is a ProbeError."""
    nm = nmap.PortScanner()
    try:
        nm.scan(hosts=" ".join(hosts), arguments=args)
    except nmap.PortScannerError as exc:
        raise ProbeError(text(f"nmap 失败：{exc}", f"nmap failed: {exc}"))
    check_nmap(nm)
    return nm


def sweep(plan: Plan, nmap, ports: str) -> list[dict]:
    """Stations nobody named in the routed networks (a full sweep): the top
    ports on every other address of those networks, at the sweep's rate, all
    of a network in one host group. Every address reported passes the guard."""
    for net in plan.inbound_sweep:
        plan.guard(net.split("/")[0])
    named = sorted({t.ip for t in plan.inbound} | {a for a in plan.vantage.own if "." in a})
    args = (f"{NMAP_ARGS} {SERVICE_ARGS} --min-rate {plan.inbound_rate} --min-hostgroup 256 "
            f"-e {plan.vantage.interface} -p {ports}"
            + (f" --exclude {','.join(named)}" if named else ""))
    nm = run_nmap(nmap, plan.inbound_sweep, args)
    out = []
    for ip in nm.all_hosts():
        plan.guard(ip)
        for port, row in sorted((nm[ip].get("tcp") or {}).items()):
            if row.get("state") not in ("open", "closed"):
                continue      # a swept address's silence is no record
            name, banner = _service(row) if row["state"] == "open" else (None, None)
            out.append({"dst": ip, "dst_segment": None, "dst_kind": "swept", "proto": "tcp",
                        "port": port, "state": row["state"],
                        "reason": row.get("reason") or "no-response",
                        "service": name, "banner": banner})
    return out


class Folded:
    """The states nmap folds into `<extraports>` ("Not shown: 200 closed tcp
    ports"), which python-nmap leaves out of its port tables, kept as port
    ranges per address and protocol: a full sweep of a /24 stays small."""

    def __init__(self, xml: bytes | str | None):
        import xml.etree.ElementTree as ET
        self._ranges: dict[tuple[str, str], list[tuple[int, int, str]]] = {}
        try:
            root = ET.fromstring(xml) if xml else None
        except ET.ParseError:
            root = None
        for host in (root.iter("host") if root is not None else ()):
            addr = next((a.get("addr") for a in host.iter("address")
                         if a.get("addrtype") == "ipv4"), None)
            if addr is None:
                continue
            for extra in host.iter("extraports"):
                state = extra.get("state") or ""
                for why in extra.iter("extrareasons"):
                    spans = self._ranges.setdefault((addr, why.get("proto") or "tcp"), [])
                    for part in (why.get("ports") or "").split(","):
                        lo, _, hi = part.partition("-")
                        if lo.isdigit() and (not hi or hi.isdigit()):
                            spans.append((int(lo), int(hi or lo), state))
        for spans in self._ranges.values():
            spans.sort()
        self._los = {k: [lo for lo, _, _ in v] for k, v in self._ranges.items()}

    def state(self, addr: str, proto: str, port: int) -> str | None:
        import bisect
        spans = self._ranges.get((addr, proto))
        if not spans:
            return None
        i = bisect.bisect_right(self._los[(addr, proto)], port) - 1
        if i >= 0 and spans[i][0] <= port <= spans[i][1]:
            return spans[i][2]
        return None


def _now() -> str:
    return timestamp(_dt.datetime.now(_dt.timezone.utc))


def _service(row: dict) -> tuple[str | None, str | None]:
    """(service name, banner) from nmap's port row: what -sV said, bounded."""
    name = str(row.get("name") or "").strip()[:64] or None
    banner = " ".join(str(row.get(k) or "").strip() for k in ("product", "version", "extrainfo"))
    if not banner.strip():      # -sV matched nothing: what the service itself said
        script = row.get("script") if isinstance(row.get("script"), dict) else {}
        banner = str(script.get("banner") or "")
    banner = " ".join(banner.split())[:BANNER_MAX] or None
    return name, banner


def coverage(plan: Plan, started: str, finished: str) -> dict:
    """What the inbound probes covered, in the plan's words."""
    tcp_counts = {len(t.tcp) for t in plan.inbound}
    return {
        "mode": plan.inbound_mode,
        "tcp": "all" if plan.inbound_mode == "full" else "top",
        "tcp_ports": max(tcp_counts) if tcp_counts else 0,
        "public": [t.ip for t in plan.inbound if t.kind == "public"],
        "routed": [t.ip for t in plan.inbound if t.kind == "routed"],
        "udp": sorted({p for t in plan.inbound for p in t.udp}),
        "unrouted_exposed": list(plan.inbound_unrouted),
        "unprobed_ipv6": list(plan.inbound_unprobed6),
        "swept": list(plan.inbound_sweep),
        "from": plan.vantage.ip,
        # which pass this was and why (--inbound auto chose it, or it was forced)
        **({"choice": dict(plan.inbound_choice)} if plan.inbound_choice else {}),
        "started_at": started,
        "finished_at": finished,
    }


def probe(plan: Plan) -> dict:
    if plan.classification != "internet":
        return {"status": "not-run", "error": None,
                "reason": "inbound probes run from an internet vantage only", "probes": []}
    require_privileges()
    require_up(plan.vantage.interface)
    started = _now()
    if not plan.inbound:
        return {"status": "ok", "error": None, "method": "nmap " + NMAP_ARGS, "probes": [],
                "coverage": coverage(plan, started, started)}
    if not shutil.which("nmap"):
        raise ProbeError(text("未找到 nmap，无法进行入站探测", "nmap not found: inbound probes cannot run"))
    import nmap
    hosts = [plan.guard(t.ip) for t in plan.inbound]
    args = nmap_arguments(plan)
    nm = run_nmap(nmap, hosts, args)
    full = plan.inbound_mode == "full"
    folded = Folded(nm.get_nmap_last_output())
    out, quiet = [], []
    for t in plan.inbound:
        h = nm[t.ip] if t.ip in nm.all_hosts() else None
        silent = {"closed": 0, "filtered": 0}
        for proto, wanted in (("tcp", t.tcp), ("udp", t.udp)):
            table = (h.get(proto) or {}) if h is not None else {}
            declared = set(t.declared_tcp) if proto == "tcp" else set(t.udp)
            for port in wanted:
                row = table.get(port) or {}
                state = row.get("state") or folded.state(t.ip, proto, port) or "filtered"
                # open|filtered (UDP without an answer) is no answer: filtered
                state = state if state in ("open", "closed") else "filtered"
                if full and state != "open" and port not in declared:
                    silent[state] += 1     # a sweep's closed and silent ports are counted
                    continue
                name, banner = _service(row) if state == "open" else (None, None)
                out.append({"dst": t.ip, "dst_segment": t.segment, "dst_kind": t.kind,
                            "proto": proto, "port": port, "state": state,
                            "reason": row.get("reason") or ("reset" if state == "closed"
                                                            else "no-response"),
                            "service": name, "banner": banner})
        if full:
            quiet.append({"dst": t.ip, "dst_segment": t.segment, "dst_kind": t.kind,
                          "proto": "tcp", **silent})
    if plan.inbound_sweep:
        out += sweep(plan, nmap, "T:" + port_spec(top_tcp_ports()))
    finished = _now()
    return {"status": "ok", "error": None, "method": f"nmap {args}",
            "targets": [{"dst": t.ip, "dst_segment": t.segment, "kind": t.kind,
                         "tcp": len(t.tcp), "udp": list(t.udp)} for t in plan.inbound],
            "probes": out, "filtered": quiet,
            "coverage": coverage(plan, started, finished)}
