"""The identity step: what each station of the vantage's own segment says it is.

Over the IPv4 stations discovery found on this segment, nothing else:
- one bounded nmap run (python-nmap, as discovery and inbound): TCP 22 and the
  segment's declared `ssh_ports`, 443 and its `tls_ports`, with NSE
  `ssl-cert` (the certificate). `--host-timeout` and `--script-timeout` bound a
  station that trickles a 1 MB banner; nmap's XML is read with a size bound,
  every value cut to a bound (scanner.identity.bounded);
- then the host keys of the stations whose SSH port that run found open, read
  by OpenSSH's ssh-keyscan (scanner/probes/sshkeys.py: every current key
  exchange, so dropbear and other non-OpenSSH servers too; nmap's ssh-hostkey
  read nothing from dropbear 2022.83 and that was recorded as `ok`);
- an SSH or TLS port that answered but gave no key or certificate is recorded
  in `unread` with the reason, and `unidentified` counts the stations that
  gave no identity at all: a silent failure never reads as "no shared identity";
- beside it, one NBSTAT query to UDP 137 of each (scanner/probes/netbios.py):
  the NetBIOS name and the MAC the station reports; and one reverse (PTR)
  query for its own address to UDP 5353 (mDNS) and 5355 (LLMNR) of each
  (scanner/probes/mdns.py): the names it gives itself.
Plus, without sending anything: the EUI-64 MAC inside the IPv6 addresses
discovery saw (neighbours6).

Why nmap for the ports and the certificates: it already drives the other
steps and runs the stations in parallel under one timeout, so 1,000 silent
stations cost one SYN a port. The fingerprints are computed here from the key blobs and the PEM (OpenSSH's
SHA256 form; SHA-256 of the certificate's DER), not taken from nmap's text.
"""
from __future__ import annotations

import datetime as _dt
import shutil
import time as _time
import xml.etree.ElementTree as ET

from scanner import identity as I
from scanner.model import text
from scanner.probes import synscan
from scanner.probes.wire import ProbeError, require_privileges, require_up
from scanner.scan.plan import Plan, identity_ports

NBSTAT_PORT = 137
SNMP_PORT = 161
HOST_TIMEOUT = "20s"
SCRIPT_TIMEOUT = "8s"
# the stations are on the vantage's own link (sub-millisecond round trips):
# round-trip bounds of a LAN (100 ms to start, 200 ms at most), one retry, the
# whole segment in one host group at a floor of 5,000 probes/s keep a segment
# of firewalled stations (every port silent: Windows' default) from costing
# nmap's WAN-sized waits: 1,000 silent stations took 35 s with a 500 ms bound
# and 256-host groups, 2.2 s at 2,000/s. On bench/scale_bench.py's /22 the SYN
# phase is rate-bound: 2.30 s at 2,000/s, 1.02 s at 5,000/s (the rate inbound
# --full sweeps at); each station still gets one SYN a port, 2.4 Mbit/s in all
NMAP_ARGS = ("-n -Pn -T4 --max-retries 1 --min-hostgroup 1024 --initial-rtt-timeout 100ms "
             f"--max-rtt-timeout 200ms --min-rate 5000 --host-timeout {HOST_TIMEOUT}")
AGAIN_SCRIPT_TIMEOUT = "4s"  # the second ask, for open ports that said nothing the first time
SCRIPTS = "ssl-cert"              # the host keys: sshkeys.py (ssh-keyscan)
XML_MAX = 64 * 2**20        # nmap's XML for a /24 of hostile stations stays far below
KEYS_MAX = 8                # host keys kept per port
SUBJECT_FIELDS = ("commonName", "organizationName", "organizationalUnitName", "countryName")


def _ip_sorted(ips) -> list[str]:
    from netaddr import IPAddress
    return sorted(ips, key=lambda x: (IPAddress(x).version, IPAddress(x)))


def _sshkeys_types() -> str:
    from scanner.probes.sshkeys import TYPES
    return TYPES


def _now() -> str:
    return _dt.datetime.now(_dt.timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")


def stations(plan: Plan, discovery: dict) -> list[tuple[str, str | None]]:
    """(ip, mac) of the IPv4 stations discovery found on this segment, each in
    scope (the guard raises before anything is sent), never this host."""
    seen: dict[str, str | None] = {}
    for h in discovery.get("hosts") or ():
        ip = h.get("ip") if isinstance(h, dict) else None
        if not isinstance(ip, str) or ":" in ip or ip in plan.vantage.own:
            continue
        if not plan.segment.contains(ip):
            continue
        plan.guard(ip)
        seen.setdefault(ip, I.norm_mac(h.get("mac")))
    from netaddr import IPAddress
    return sorted(seen.items(), key=lambda x: IPAddress(x[0]))


def stations6(plan: Plan, discovery: dict, v4_macs: set) -> list[tuple[str, str | None]]:
    """(ip, mac) of the stations ND found that answer no IPv4 (a station with
    IPv6 addresses only), one address each: a global one inside the segment's
    declared networks (never a link-local one: the inventory names no such
    address), each in scope."""
    seen: dict[str, str] = {}
    for h in discovery.get("neighbours6") or ():
        ip = h.get("ip") if isinstance(h, dict) else None
        mac = I.norm_mac(h.get("mac")) if isinstance(h, dict) else None
        if not isinstance(ip, str) or ":" not in ip or ip in plan.vantage.own or not mac \
                or mac in v4_macs or mac in plan.vantage.own_macs:
            continue
        try:
            if not plan.segment.contains(ip):
                continue
        except Exception:   # not an address of this segment: never probed (the scope guard)
            continue
        plan.guard(ip)
        seen.setdefault(mac, ip)
    from netaddr import IPAddress
    return sorted(((ip, mac) for mac, ip in seen.items()), key=lambda x: IPAddress(x[0]))


def ports(plan: Plan) -> tuple[tuple[int, ...], tuple[int, ...]]:
    """(ssh ports, tls ports): the defaults plus what the segment declares."""
    return identity_ports(plan.segment)


def nmap_arguments(plan: Plan, script_timeout: str = SCRIPT_TIMEOUT, only=None) -> str:
    """nmap's arguments: every SSH/TLS port, or `only` those ports."""
    from scanner.probes.inbound import port_spec
    ssh, tls = ports(plan)
    which = set(only) if only is not None else set(ssh) | set(tls)
    return (f"-sS {NMAP_ARGS} --script-timeout {script_timeout} -e {plan.vantage.interface} "
            f"-p T:{port_spec(which)} --script {SCRIPTS}")


def _elems(node) -> dict[str, str]:
    return {e.get("key"): (e.text or "") for e in node.findall("elem") if e.get("key")}


def parse_xml(xml, macs: dict[str, str | None], ssh_ports, tls_ports,
              time: str | None = None) -> list[dict]:
    """Identity records from nmap's XML (pure; bounded whatever the XML holds).
    `macs`: ip -> the MAC discovery saw; only those addresses are read."""
    if not xml:
        return []
    if len(xml) > XML_MAX:
        raise ProbeError(text("nmap 输出过大，身份信息未读取",
                              "nmap's output is too large: identities not read"))
    try:
        root = ET.fromstring(xml)
    except ET.ParseError as exc:
        raise ProbeError(text(f"无法读取 nmap 输出：{exc}", f"nmap's output cannot be read: {exc}"))
    out: list[dict] = []
    for host in root.iter("host"):
        ip = next((a.get("addr") for a in host.findall("address")
                   if a.get("addrtype") in ("ipv4", "ipv6")), None)
        if ip not in macs:
            continue
        mac = macs[ip]
        mine: list[dict] = []
        for port in host.iter("port"):
            try:
                num = int(port.get("portid") or "")
            except ValueError:
                continue
            for script in port.findall("script"):
                sid = script.get("id")
                if sid == "ssh-hostkey" and num in ssh_ports:
                    mine += _ssh(ip, mac, num, script, time)
                elif sid == "ssl-cert" and num in tls_ports:
                    mine += _tls(ip, mac, num, script, time)
        out += mine[:I.PER_STATION_MAX]
        if len(out) >= I.RECORDS_MAX:
            break
    return out[:I.RECORDS_MAX]


def _ssh(ip, mac, port, script, time) -> list[dict]:
    out = []
    for t in script.findall("table")[:KEYS_MAX]:
        e = _elems(t)
        fp = I.ssh_fingerprint(e.get("key", ""))
        if fp is None:
            continue
        detail = f"{I.bounded(e.get('type'), 40) or '?'} {I.bounded(e.get('bits'), 8) or '?'}"
        r = I.record(ip, mac, I.SSH_KEY, fp, detail=detail, port=port, time=time)
        if r:
            out.append(r)
    return out


def unanswered(xml, wanted: set[str], ports: set[int], records: list[dict]) -> list[str]:
    """The stations with one of `ports` open that gave no identity on it: a
    script that lost its connection (a busy sshd, a dropped packet). Pure."""
    if not xml:
        return []
    try:
        root = ET.fromstring(xml)
    except ET.ParseError:
        return []
    have = {(r["ip"], r["port"]) for r in records}
    out = []
    for host in root.iter("host"):
        ip = next((a.get("addr") for a in host.findall("address")
                   if a.get("addrtype") == "ipv4"), None)
        if ip not in wanted:
            continue
        for port in host.iter("port"):
            st = port.find("state")
            try:
                num = int(port.get("portid") or "")
            except ValueError:
                continue
            if num in ports and st is not None and st.get("state") == "open" \
                    and (ip, num) not in have:
                out.append(ip)
                break
    return out


def open_ports(xml, wanted: set[str], ports: set[int]) -> dict[str, set[int]]:
    """{ip: the ports of `ports` nmap found open} for the stations in `wanted` (pure)."""
    if not xml:
        return {}
    if len(xml) > XML_MAX:
        raise ProbeError(text("nmap 输出过大，身份信息未读取",
                              "nmap's output is too large: identities not read"))
    try:
        root = ET.fromstring(xml)
    except ET.ParseError as exc:
        raise ProbeError(text(f"无法读取 nmap 输出：{exc}", f"nmap's output cannot be read: {exc}"))
    out: dict[str, set[int]] = {}
    for host in root.iter("host"):
        ip = next((a.get("addr") for a in host.findall("address")
                   if a.get("addrtype") in ("ipv4", "ipv6")), None)
        if ip not in wanted:
            continue
        for port in host.iter("port"):
            st = port.find("state")
            try:
                num = int(port.get("portid") or "")
            except ValueError:     # not a port number nmap would write: no port
                continue
            if num in ports and st is not None and st.get("state") == "open":
                out.setdefault(ip, set()).add(num)
    return out


def host_keys(opened: dict[str, set[int]], ssh_ports, macs: dict, time: str | None,
              scan=None) -> tuple[list[dict], list[dict]]:
    """(records, unread) of the open SSH ports: ssh-keyscan once per port over
    every station with that port open."""
    from scanner.probes import sshkeys
    scan = scan or sshkeys.scan
    records, unread = [], []
    for port in sorted(set(ssh_ports)):
        ips = sorted(ip for ip, ps in opened.items() if port in ps)
        if not ips:
            continue
        keys, why = scan(ips, port)
        records += sshkeys.records(keys, macs, port, time)
        unread += [{"ip": ip, "mac": macs.get(ip), "port": port, "proto": "ssh", "reason": r}
                   for ip, r in sorted(why.items())]
    return records, unread


def tls_unread(opened: dict[str, set[int]], tls_ports, records: list[dict],
               macs: dict) -> list[dict]:
    """The open TLS ports that gave no certificate, with the reason (pure)."""
    have = {(r["ip"], r["port"]) for r in records if r["kind"] == I.TLS_CERT}
    return [{"ip": ip, "mac": macs.get(ip), "port": port, "proto": "tls",
             "reason": f"port open but no certificate was read (nmap ssl-cert, "
                       f"{SCRIPT_TIMEOUT} and again {AGAIN_SCRIPT_TIMEOUT})"}
            for ip, ps in sorted(opened.items()) for port in sorted(ps)
            if port in set(tls_ports) and (ip, port) not in have]


def subject_text(script) -> str | None:
    """'commonName=…, organizationName=…' from ssl-cert's subject table, bounded."""
    subj = next((t for t in script.findall("table") if t.get("key") == "subject"), None)
    if subj is None:
        return None
    e = _elems(subj)
    parts = [f"{k}={I.bounded(e[k], 200)}" for k in SUBJECT_FIELDS if e.get(k)]
    return I.bounded(", ".join(parts), I.DETAIL_MAX)


def _tls(ip, mac, port, script, time) -> list[dict]:
    e = _elems(script)
    fp = I.pem_fingerprint(e.get("pem", ""))
    if fp is None:
        return []
    r = I.record(ip, mac, I.TLS_CERT, fp, detail=subject_text(script), port=port, time=time)
    return [r] if r else []


def mdns_records(answers: dict[str, dict[int, list[str]]], macs: dict[str, str | None],
                 time: str | None = None) -> list[dict]:
    """Identity records from mDNS/LLMNR reverse answers (scanner.probes.mdns.ask)."""
    from scanner.probes import mdns
    out = []
    for ip, by_port in sorted(answers.items()):
        if ip not in macs:
            continue
        for port, kind in ((mdns.MDNS, I.MDNS_NAME), (mdns.LLMNR, I.LLMNR_NAME)):
            for name in (by_port.get(port) or ())[:2]:
                r = I.record(ip, macs[ip], kind, name.rstrip(".").lower(), detail=f"PTR of {ip}",
                             port=port, time=time)
                if r:
                    out.append(r)
    return out


def snmp_records(answers: dict[str, dict], macs: dict[str, str | None],
                 time: str | None = None) -> list[dict]:
    """Identity records from SNMP answers (scanner.probes.snmp.ask): the
    sysName, and every card's MAC other than the one it answered from."""
    out = []
    for ip, a in sorted(answers.items()):
        if ip not in macs:
            continue
        recs = [I.record(ip, macs[ip], I.SNMP_NAME, a.get("sysname"), detail="SNMP sysName.0",
                         port=SNMP_PORT, time=time)]
        recs += [I.record(ip, macs[ip], I.SNMP_IFMAC, m, detail="SNMP ifPhysAddress",
                          port=SNMP_PORT, time=time)
                 for m in (a.get("macs") or ())[:I.PER_STATION_MAX] if I.norm_mac(m) != macs[ip]]
        out += [r for r in recs if r]
    return out


def _snmp(plan: Plan, ips: list[str], macs: dict | None = None) -> dict:
    """SNMP answers, only where the segment declares read access (never guessed)."""
    access = plan.segment.snmp
    if access is None:
        return {}
    if access.version == "3":
        from scanner.probes import snmpv3
        auth_key, priv_key = access.keys()
        user = snmpv3.User(access.user, access.auth, auth_key, access.priv, priv_key)
        return snmpv3.ask(plan.vantage.interface, plan.vantage.ip, ips, plan.guard, user,
                          macs=macs)
    from scanner.probes import snmp
    return snmp.ask(plan.vantage.interface, plan.vantage.ip, ips, plan.guard, access.secret(),
                    macs=macs)


def netbios_records(answers: dict[str, dict], macs: dict[str, str | None],
                    time: str | None = None) -> list[dict]:
    """Identity records from NBSTAT answers (scanner.probes.netbios.parse)."""
    out = []
    for ip, a in sorted(answers.items()):
        if ip not in macs:
            continue
        name = a.get("name")
        for r in (I.record(ip, macs[ip], I.NETBIOS_NAME, name and name.upper(),
                           detail="NBSTAT", port=NBSTAT_PORT, time=time),
                  I.record(ip, macs[ip], I.NETBIOS_MAC, a.get("mac"), detail="NBSTAT",
                           port=NBSTAT_PORT, time=time)):
            if r:
                out.append(r)
    return out


def probe(plan: Plan, discovery: dict, nmap_module=None) -> dict:
    """The "identity" section of the observations."""
    if plan.classification == "internet":
        return {"status": "not-run", "error": None, "identities": [],
                "reason": "identities are read on the unit's own segments, not the internet"}
    if (discovery or {}).get("status") != "ok":
        raise ProbeError(text("发现步骤未成功：没有可询问身份的设备",
                              "discovery did not succeed: no station to ask who it is"))
    started, t0 = _now(), _time.monotonic()
    laps: dict[str, float] = {}
    mark = [t0]

    def lap(name: str) -> None:
        now = _time.monotonic()
        laps[name] = round(now - mark[0], 3)
        mark[0] = now
    targets = stations(plan, discovery)
    ssh, tls = ports(plan)
    six = [h for h in (discovery.get("neighbours6") or ()) if isinstance(h, dict)]
    records = I.eui64_records(six, time=started)
    ssh_, tls_ = ports(plan)
    method = (f"TCP SYN burst to {', '.join(str(p) for p in sorted(set(ssh_) | set(tls_)))} "
              f"+ nmap {nmap_arguments(plan, only=tls_)} on the stations with a TLS port open "
              f"+ ssh-keyscan -t {_sshkeys_types()} (in turn) on those with an SSH port open")
    if targets:
        require_privileges()
        require_up(plan.vantage.interface)
        if nmap_module is None:
            if not shutil.which("nmap"):
                raise ProbeError(text("未找到 nmap，无法读取设备身份",
                                      "nmap not found: identities cannot be read"))
            import nmap as nmap_module
        from concurrent.futures import ThreadPoolExecutor
        from scanner.probes import mdns, netbios
        from scanner.probes.inbound import run_nmap
        ips = [ip for ip, _ in targets]
        with ThreadPoolExecutor(3) as ex:      # the UDP queries' windows beside nmap's run
            macs = dict(targets)         # framed to the MACs discovery saw (l2udp.py)
            nb = ex.submit(netbios.ask, plan.vantage.interface, plan.vantage.ip, ips, plan.guard,
                           macs=macs)
            md = ex.submit(mdns.ask, plan.vantage.interface, plan.vantage.ip, ips, plan.guard,
                           macs=macs)
            sn = ex.submit(_snmp, plan, ips, macs)
            # which SSH/TLS ports are open: one SYN burst (synscan.py; nmap's
            # run grew faster than the station count), then nmap's ssl-cert on
            # the stations with a TLS port open only
            opened, _sent = synscan.open_ports(plan, macs, set(ssh) | set(tls))
            lap("syn_burst")
            tls_hosts = [ip for ip in ips if opened.get(ip, set()) & set(tls)]
            nm = run_nmap(nmap_module, tls_hosts, nmap_arguments(plan, only=tls)) \
                if tls_hosts else None
            lap("nmap_tls")
            errors = []
            try:
                snmp_answers = sn.result()
            except (OSError, ValueError) as exc:
                snmp_answers = {}
                errors.append(f"SNMP: {type(exc).__name__}: {exc}")
            try:
                answers = nb.result()
            except OSError as exc:
                answers = {}
                errors.append(f"NBSTAT: {type(exc).__name__}: {exc}")
            try:
                names = md.result()
            except OSError as exc:
                names = {}
                errors.append(f"mDNS/LLMNR: {type(exc).__name__}: {exc}")
            nb_error = "; ".join(errors) or None
            lap("udp_after_nmap")
        when = _now()
        xml = nm.get_nmap_last_output() if nm is not None else None
        macs = dict(targets)
        got = parse_xml(xml, macs, set(ssh), set(tls), time=when)
        again = unanswered(xml, set(tls_hosts), set(tls), got)
        if again:        # once more, for those alone: an open TLS port that said nothing
            nm2 = run_nmap(nmap_module, again, nmap_arguments(plan, AGAIN_SCRIPT_TIMEOUT, tls))
            more = parse_xml(nm2.get_nmap_last_output(), {ip: macs[ip] for ip in again},
                             set(ssh), set(tls), time=_now())
            have = {(r["ip"], r["port"], r["value"]) for r in got}
            got += [r for r in more if (r["ip"], r["port"], r["value"]) not in have]
        lap("parse_and_again")
        keys, unread = host_keys(opened, ssh, macs, _now())
        lap("ssh_keyscan")
        got += keys
        unread += tls_unread(opened, tls, got, macs)
        six_only = stations6(plan, discovery, {m for _, m in targets if m})
        if six_only:     # IPv6-only stations: their own nmap run (nmap takes one family a run)
            nm6 = run_nmap(nmap_module, [ip for ip, _ in six_only], "-6 " + nmap_arguments(plan))
            xml6 = nm6.get_nmap_last_output()
            more = parse_xml(xml6, dict(six_only), set(ssh), set(tls), time=_now())
            opened6 = open_ports(xml6, {ip for ip, _ in six_only}, set(ssh) | set(tls))
            keys6, unread6 = host_keys(opened6, ssh, dict(six_only), _now())
            more += keys6
            got += more
            unread += unread6 + tls_unread(opened6, tls, more, dict(six_only))
            targets = targets + six_only
        records = got + netbios_records(answers, dict(targets), when) + \
            mdns_records(names, dict(targets), when) + \
            snmp_records(snmp_answers, dict(targets), when) + records
    else:
        nb_error, again, unread = None, [], []
    clones = I.lower_clones(records)
    known = {r["ip"] for r in records}
    if nb_error:       # the SSH and TLS half is still good; a UDP query's failure is said
        method += f" (failed: {nb_error})"
    udp = [NBSTAT_PORT, 5353, 5355] + ([SNMP_PORT] if plan.segment.snmp else [])
    return {"status": "ok", "error": None,
            "method": method + " + NBSTAT udp/137 + PTR udp/5353 (mDNS), udp/5355 (LLMNR)"
            + (f" + SNMPv{plan.segment.snmp.version} GetBulk udp/161 (sysName, ifPhysAddress)"
               if plan.segment.snmp else ""),
            "udp_error": nb_error,
            "targets": [ip for ip, _ in targets], "ports": {"ssh": list(ssh), "tls": list(tls),
                                                             "udp": udp},
            "identities": records, "clones": clones, "asked_again": again,
            # SSH/TLS ports that answered but gave no key or certificate, and why
            "unread": unread,
            # stations that gave no identity at all: they cannot be linked to
            # a sighting elsewhere (the merged report's ISO-BRIDGE says how many)
            "unidentified": _ip_sorted({ip for ip, _ in targets} - known),
            # where the step's time went (seconds), for profiling a large segment
            "laps": laps,
            "started_at": started, "finished_at": _now(),
            "seconds": round(_time.monotonic() - t0, 3)}
