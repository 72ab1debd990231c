"""Who a station says it is: the kinds of identity, their strength, and the
pure rules around them (no I/O; the probe is scanner/probes/identity.py, the
judging across vantages scanner/judge/crossbundle/identities.py).

An identity record, as kept in the bundle's "identity" section:

    {"ip": "10.30.0.12", "mac": "02:..", "kind": "ssh-host-key",
     "value": "SHA256:…", "detail": "ssh-ed25519 256", "port": 22,
     "strength": "strong" | "medium" | "weak", "note": null | "why lowered",
     "time": "2026-12-02T06:40:00Z"}

Strength (issue 13):
- strong: an SSH host key, the MAC a station reports over NetBIOS (NBSTAT), a
  MAC of another of its cards it reports over SNMP (ifPhysAddress);
- medium: a NetBIOS, mDNS or LLMNR name, an SNMP sysName, a DHCPv6 DUID, the
  EUI-64 MAC inside an IPv6 address;
- weak: a TLS certificate (wildcards and appliance defaults are shared).
A value seen on CLONE_MIN or more distinct stations (cloned disk images,
vendor defaults) is lowered to weak, with a note that says so.

Every string taken from the wire is cut to a bound here, once
(`bounded`); characters that would mislead a reader (controls, bidi
overrides) are kept in the data and only made visible at display (`shown`).
"""
from __future__ import annotations

import re
from typing import Iterable, Mapping

from scanner.model import net

STRONG, MEDIUM, WEAK = "strong", "medium", "weak"
STRENGTHS = (STRONG, MEDIUM, WEAK)
RANK = {STRONG: 0, MEDIUM: 1, WEAK: 2}

SSH_KEY = "ssh-host-key"
TLS_CERT = "tls-cert"
NETBIOS_NAME = "netbios-name"
NETBIOS_MAC = "netbios-mac"
MDNS_NAME = "mdns-name"
LLMNR_NAME = "llmnr-name"
DUID = "dhcpv6-duid"
EUI64_MAC = "eui64-mac"
SNMP_NAME = "snmp-sysname"      # sysName.0, where the inventory gives SNMP read access
SNMP_IFMAC = "snmp-ifmac"       # a MAC of one of the station's cards (ifPhysAddress)

KIND_STRENGTH = {SSH_KEY: STRONG, NETBIOS_MAC: STRONG, SNMP_IFMAC: STRONG,
                 NETBIOS_NAME: MEDIUM, MDNS_NAME: MEDIUM, LLMNR_NAME: MEDIUM, DUID: MEDIUM,
                 EUI64_MAC: MEDIUM, SNMP_NAME: MEDIUM,
                 TLS_CERT: WEAK}
KINDS = tuple(KIND_STRENGTH)
# identities whose value is a hardware address: they join with the MACs discovery saw
MAC_KINDS = frozenset({NETBIOS_MAC, EUI64_MAC, SNMP_IFMAC})

CLONE_MIN = 3          # distinct stations sharing one value: a cloned image, not one host
VALUE_MAX = 128        # a fingerprint, a name, a MAC, a DUID
DETAIL_MAX = 512       # a certificate subject, a key type
PER_STATION_MAX = 32   # identity records kept per station
RECORDS_MAX = 20000    # identity records kept per scan

_MAC_RE = re.compile(r"[0-9a-f]{2}(?::[0-9a-f]{2}){5}\Z")


def strength(kind: str) -> str:
    """The strength of a kind of identity (an unknown kind is weak)."""
    return KIND_STRENGTH.get(kind, WEAK)


def bounded(value, limit: int = VALUE_MAX) -> str | None:
    """A wire string cut to `limit` characters, NULs dropped (a NetBIOS name
    is NUL-padded); None for nothing. Everything else is kept as sent."""
    if value is None:
        return None
    s = value if isinstance(value, str) else str(value)
    if len(s) > limit * 4:
        s = s[:limit * 4]
    s = s.replace("\x00", "").strip()
    if len(s) > limit:
        s = s[:limit - 1] + "…"
    return s or None


def shown(value, limit: int = DETAIL_MAX) -> str:
    """A wire string made safe to read on one line: control characters and
    bidi overrides shown as \\uXXXX (scanner.formats.text.clean, as the
    console does), so nothing reorders or hides the text around it; cut to
    `limit`. HTML escaping is jinja2's, at render; this is not it."""
    from scanner.formats.text import clean
    if value is None:
        return ""
    s = value if isinstance(value, str) else str(value)
    t = clean(s[:limit * 2])
    return t if len(t) <= limit else t[:limit - 1] + "…"


def norm_mac(mac) -> str | None:
    """Lower-case colon form, or None when it is no MAC (or all zeros: Samba's NBSTAT)."""
    if not isinstance(mac, str) or len(mac) > 24:
        return None
    m = net.norm_mac(mac, strict=True)
    return None if m == "00:00:00:00:00:00" else m


def eui64_mac(ip) -> str | None:
    """The MAC embedded in a modified EUI-64 interface identifier (SLAAC,
    RFC 4291 App. A: ff:fe in the middle, the U/L bit flipped), or None."""
    try:
        from netaddr import IPAddress
        a = IPAddress(str(ip).split("%")[0])
    except Exception:
        return None
    if a.version != 6:
        return None
    iid = int(a) & ((1 << 64) - 1)
    b = iid.to_bytes(8, "big")
    if b[3] != 0xFF or b[4] != 0xFE:
        return None
    mac = bytes([b[0] ^ 0x02]) + b[1:3] + b[5:8]
    return norm_mac(mac.hex())


def record(ip, mac, kind: str, value, *, detail=None, port=None, time=None) -> dict | None:
    """One identity record (bounded), or None when the value is empty."""
    v = norm_mac(value) if kind in MAC_KINDS else bounded(value)
    if not v:
        return None
    return {"ip": bounded(ip, 64), "mac": norm_mac(mac), "kind": kind, "value": v,
            "detail": bounded(detail, DETAIL_MAX), "port": port if isinstance(port, int) else None,
            "strength": strength(kind), "note": None, "time": time}


def eui64_records(stations: Iterable[Mapping], time=None) -> list[dict]:
    """EUI-64 MACs inside the IPv6 addresses seen, where they differ from the
    station's own MAC (equal, they say nothing discovery did not)."""
    out = []
    for s in stations:
        ip, mac = s.get("ip"), norm_mac(s.get("mac"))
        inner = eui64_mac(ip) if isinstance(ip, str) and ":" in ip else None
        if inner and inner != mac:
            r = record(ip, mac, EUI64_MAC, inner, detail=f"EUI-64 of {ip}", time=time)
            if r:
                out.append(r)
    return out


def with_duids(section, dhcp, discovery=None, time=None):
    """The identity section with the DUIDs of the DHCP clients the DHCP probe
    heard on the link (scanner/probes/dhcpclients.py) added, and clones
    judged again over all of them: a new dict (the section as it was is left
    alone). Unchanged when the identity step did not run or nobody asked.
    A client is named by the IPv4 address discovery saw its MAC answer from,
    else the address it asked from."""
    if not isinstance(section, dict) or section.get("status") != "ok":
        return section
    clients = dhcp.get("clients") if isinstance(dhcp, dict) else None
    hosts = discovery.get("hosts") if isinstance(discovery, dict) else None
    known: dict[str, str] = {}              # MAC -> the IPv4 address it answered from
    for h in hosts or ():
        if isinstance(h, dict) and isinstance(h.get("ip"), str) and ":" not in h["ip"]:
            known.setdefault(norm_mac(h.get("mac")) or "", h["ip"])
    recs = [record(known.get(norm_mac(c.get("mac")) or "") or c.get("ip"), c.get("mac"), DUID,
                   c.get("duid"), detail=f"{c.get('proto')} client", time=time)
            for c in clients or () if isinstance(c, dict) and isinstance(c.get("duid"), str)]
    recs = [r for r in recs if r]
    if not recs:
        return section
    records = [dict(r) for r in section.get("identities") or () if isinstance(r, dict)] + recs
    records = records[:RECORDS_MAX]
    return {**section, "identities": records, "clones": lower_clones(records)}


def station_key(r: Mapping) -> str:
    """A station: its MAC, else its address."""
    return r.get("mac") or r.get("ip") or "?"


def lower_clones(records: list[dict], lang: str = "en") -> list[dict]:
    """In place: a value of a strong or medium kind seen on CLONE_MIN or more
    distinct stations is a shared image, not one host: lowered to weak with a
    note. MAC kinds are exempt (a MAC shared by three stations is a conflict,
    judged by DEV-CONFLICT). Returns the clone groups, for the section."""
    by_value: dict[tuple[str, str], set[str]] = {}
    for r in records:
        if r.get("kind") in MAC_KINDS:
            continue
        by_value.setdefault((r["kind"], r["value"]), set()).add(station_key(r))
    clones = {k: v for k, v in by_value.items() if len(v) >= CLONE_MIN}
    for r in records:
        k = (r.get("kind"), r.get("value"))
        if k in clones and r.get("strength") != WEAK:
            r["strength"] = WEAK
            r["note"] = clone_note(len(clones[k]))
    return [{"kind": k, "value": v, "stations": len(s)} for (k, v), s in sorted(clones.items())]


def clone_note(n: int) -> str:
    return (f"shared by {n} stations (a cloned image or vendor default): lowered to weak "
            f"/ {n} 台设备共用（克隆镜像或厂商默认），降为弱")


def ssh_fingerprint(key_b64: str) -> str | None:
    """OpenSSH's SHA256 fingerprint of a base64 public key blob."""
    import base64
    import binascii
    import hashlib
    if not isinstance(key_b64, str) or len(key_b64) > 16384:
        return None
    try:
        blob = base64.b64decode(key_b64.strip(), validate=True)
    except (binascii.Error, ValueError):
        return None
    if not blob:
        return None
    return "SHA256:" + base64.b64encode(hashlib.sha256(blob).digest()).decode().rstrip("=")


def pem_fingerprint(pem: str) -> str | None:
    """The SHA-256 of a certificate's DER (from its PEM), hex with colons."""
    import base64
    import binascii
    import hashlib
    if not isinstance(pem, str) or len(pem) > 65536:
        return None
    body = "".join(l.strip() for l in pem.splitlines() if l.strip() and not l.startswith("-----"))
    try:
        der = base64.b64decode(body, validate=True)
    except (binascii.Error, ValueError):
        return None
    if not der:
        return None
    return hashlib.sha256(der).hexdigest()


FINGERPRINT_RE = re.compile(r"SHA256:[A-Za-z0-9+/]{43}\Z")


def valid_ssh_fingerprint(s) -> bool:
    return isinstance(s, str) and bool(FINGERPRINT_RE.match(s))
