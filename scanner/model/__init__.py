"""The shared vocabulary: findings, check metadata, the inventory types (with every
lookup they need), net.py (one norm_mac, one norm_ip), verdict.py. The lowest layer:
imports only the standard library, netaddr and scanner.langs.

Everything here is plain, frozen data. Probes produce observations, checks
turn inventory + observations into findings, and nothing in this module does
I/O.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from enum import Enum
from typing import Any, Callable, Iterable, Iterator, Mapping

from netaddr import IPAddress, IPNetwork

from scanner.langs import DEFAULT_LANG, LANGS  # noqa: F401 (the vocabulary names them too)


class Severity(str, Enum):
    CRITICAL = "critical"
    HIGH = "high"
    MEDIUM = "medium"
    LOW = "low"
    INFO = "info"

    @property
    def rank(self) -> int:
        return _SEVERITY_RANK[self]


_SEVERITY_RANK = {Severity.CRITICAL: 0, Severity.HIGH: 1, Severity.MEDIUM: 2,
                  Severity.LOW: 3, Severity.INFO: 4}


class Status(str, Enum):
    PASS = "pass"
    FAIL = "fail"
    ERROR = "error"
    SKIPPED = "skipped"


# A piece of text a person reads, in every language of the report:
# {"zh-CN": "...", "en": "..."}. Checks build it with text().
Text = Mapping[str, str]


def text(zh: str, en: str) -> Text:
    """Text in both report languages (zh-CN is the default)."""
    return {"zh-CN": zh, "en": en}


def pick(t: Text | str, lang: str = DEFAULT_LANG) -> str:
    """One language of a Text (plain strings are data and pass through)."""
    if isinstance(t, str):
        return t
    return t.get(lang) or t.get("en") or next(iter(t.values()), "")


@dataclass(frozen=True)
class Location:
    """A place in an inventory file, 1-based line and column."""
    file: str
    line: int
    column: int

    def to_json(self) -> dict:
        return {"file": self.file, "line": self.line, "column": self.column}

    def __str__(self) -> str:
        """'file:line:column', as compilers and editors print a place."""
        return f"{self.file}:{self.line}:{self.column}"


@dataclass(frozen=True)
class Subject:
    """What a finding is about: as much of ip / mac / device as is known, and
    what tells it apart where an address alone does not: the open services
    (`ports`, "8291/tcp") or the destination a leak reached ("198.51.100.7:443/tcp").
    The last two appear in JSON only when set, so older bundles read the same."""
    ip: str | None = None
    mac: str | None = None
    device: str | None = None
    ports: tuple[str, ...] = ()
    destination: str | None = None

    def to_json(self) -> dict:
        out: dict[str, Any] = {"ip": self.ip, "mac": self.mac, "device": self.device}
        if self.ports:
            out["ports"] = list(self.ports)
        if self.destination:
            out["destination"] = self.destination
        return out

    @classmethod
    def from_json(cls, s: Any) -> "Subject":
        """Lenient: a bundle's subject object (missing or malformed parts are None)."""
        s = s if isinstance(s, Mapping) else {}

        def _str(v: Any) -> str | None:
            return v if isinstance(v, str) else None
        ports = s.get("ports")
        return cls(ip=_str(s.get("ip")), mac=_str(s.get("mac")), device=_str(s.get("device")),
                   ports=tuple(p for p in ports if isinstance(p, str)) if isinstance(ports, list) else (),
                   destination=_str(s.get("destination")))


@dataclass(frozen=True)
class CheckMeta:
    """A check's metadata: plain data, no behaviour.

    `needs` names the observation sections the check reads ("inventory" for
    a static check; "discovery", "forwarding", "egress", "inbound", "dhcp",
    "ra", "canary" for live ones). Regulation references are not here: they
    are data in checks/regulations.yaml, replaceable by a unit.

    `fingerprint` names what tells two findings of this check apart beyond
    check id and segment (SPEC §9.1, scanner/store/fingerprint.py): by default
    the subject's identity (MAC, else device, else IP); a check whose
    findings differ by destination or by a peer adds or replaces fields.
    """
    id: str
    severity: Severity
    title: Text
    needs: tuple[str, ...]
    remediation: Text
    description: Text = field(default_factory=dict)
    fingerprint: tuple[str, ...] = ("identity",)

    @property
    def static(self) -> bool:
        return self.needs == ("inventory",)


@dataclass(frozen=True)
class Finding:
    check_id: str
    status: Status
    severity: Severity
    title: Text
    segment: str | None = None
    subject: Subject = Subject()
    evidence: tuple[Text | str, ...] = ()
    location: Location | None = None
    remediation: Text = field(default_factory=dict)

    def to_json(self, lang: str = DEFAULT_LANG, regulation: Iterable[str] = ()) -> dict:
        out = {
            "check_id": self.check_id,
            "status": self.status.value,
            "severity": self.severity.value,
            "segment": self.segment,
            "subject": self.subject.to_json(),
            "title": pick(self.title, lang),
            "evidence": [pick(e, lang) for e in self.evidence],
            "regulation": list(regulation),
            "remediation": pick(self.remediation, lang) if self.remediation else "",
        }
        if self.location is not None:
            out["location"] = self.location.to_json()
        return out


def _finding(meta: CheckMeta, status: Status, evidence, *, segment=None, subject=None,
             location=None, severity: Severity | None = None) -> Finding:
    if isinstance(evidence, (str, Mapping)):
        evidence = (evidence,)
    return Finding(
        check_id=meta.id, status=status, severity=severity or meta.severity,
        title=meta.title, segment=segment, subject=subject or Subject(),
        evidence=tuple(evidence), location=location, remediation=meta.remediation,
    )


def passed(meta: CheckMeta, evidence, **kw) -> Finding:
    return _finding(meta, Status.PASS, evidence, **kw)


def fail(meta: CheckMeta, evidence, **kw) -> Finding:
    return _finding(meta, Status.FAIL, evidence, **kw)


def error(meta: CheckMeta, evidence, **kw) -> Finding:
    return _finding(meta, Status.ERROR, evidence, **kw)


def skipped(meta: CheckMeta, evidence, **kw) -> Finding:
    return _finding(meta, Status.SKIPPED, evidence, **kw)


# --------------------------------------------------------------------------
# The inventory (SPEC §2), as the loader hands it to checks.
# Every object carries `loc`: where it was declared (None when synthesised).
# MAC addresses are normalised: lower case, colon separated ("02:00:00:00:0c:0b").

CLASSIFIED = "classified"
NON_CLASSIFIED = "non-classified"
INTERNET = "internet"


@dataclass(frozen=True)
class Canary:
    name: str
    address: IPAddress
    tcp: tuple[int, ...] = (80, 443)
    udp: tuple[int, ...] = (53,)
    icmp: bool = True
    loc: Location | None = None


def must_isolate(a: Segment | None, b: Segment | None) -> bool:
    """Physical isolation is required between a and b (None = the internet).

    A classified segment must be isolated from everything of another
    classification or another level (as INV-BRIDGE judges the inventory);
    two classified segments of the same level may be connected.
    """
    ca = a.classification if a is not None else INTERNET
    cb = b.classification if b is not None else INTERNET
    if CLASSIFIED not in (ca, cb):
        return False
    if ca == cb == CLASSIFIED:
        return a.level != b.level or a.level is None
    return True


_CGNAT = IPNetwork("100.64.0.0/10")


def private_space(ip) -> bool:
    """An IPv4 address the internet never routes into a unit: RFC 1918,
    carrier-grade NAT (RFC 6598), loopback, link-local."""
    a = IPAddress(ip) if not isinstance(ip, IPAddress) else ip
    return a.version == 4 and (a.is_ipv4_private_use() or a in _CGNAT or a.is_loopback()
                               or a.is_link_local())


@dataclass(frozen=True)
class Exposed:
    """A service the internet may reach (logical isolation admits these alone).

    Two forms: `address` (a routed address inside the segment, no NAT), or
    `public` (an address of the unit's public face) with an optional `to`
    (the internal address the gateway forwards it to, DNAT) and `to_port`
    (the internal port, when it differs; one port only).
    """
    address: IPAddress | None
    tcp: tuple[int, ...] = ()
    udp: tuple[int, ...] = ()
    loc: Location | None = None
    public: IPAddress | None = None
    to: IPAddress | None = None
    to_port: int | None = None

    @property
    def probed(self) -> IPAddress:
        """Where the internet reaches it: the public address, else the routed one."""
        return self.public if self.public is not None else self.address

    @property
    def internal(self) -> IPAddress | None:
        """The address inside the unit that serves it (None: the public address itself)."""
        return self.to if self.public is not None else self.address


@dataclass(frozen=True)
class SnmpAccess:
    """Read access a segment declares for the identity step (SNMPv2c): the
    community itself, or a file holding it (read at scan time). Never shown:
    the bundle carries the file's path, never the community."""
    version: str = "2c"                   # "2c" or "3"
    community: str | None = field(default=None, repr=False)
    community_file: str | None = None
    # SNMPv3 (USM): the user, its protocols, and its keys inline or in files
    user: str | None = None
    auth: str = "SHA"                     # SHA | SHA-256
    auth_key: str | None = field(default=None, repr=False)
    auth_key_file: str | None = None
    priv: str = "AES"                     # AES | none
    priv_key: str | None = field(default=None, repr=False)
    priv_key_file: str | None = None

    @staticmethod
    def _read(inline: str | None, path: str | None) -> str | None:
        if inline is not None:
            return inline
        if path is None:
            return None
        with open(path, encoding="utf-8") as fh:
            return fh.readline().strip()

    def secret(self) -> str:
        """The community (OSError when the file cannot be read)."""
        return self._read(self.community, self.community_file) or ""

    def keys(self) -> tuple[str, str | None]:
        """(auth key, priv key or None) of a v3 user (OSError when a file cannot be read)."""
        return (self._read(self.auth_key, self.auth_key_file) or "",
                self._read(self.priv_key, self.priv_key_file) if self.priv != "none" else None)


@dataclass(frozen=True)
class Segment:
    name: str
    classification: str          # classified | non-classified | internet
    networks: tuple[IPNetwork, ...]
    title: str | None = None
    level: str | None = None     # classified only: top-secret | confidential | secret
    ingress: str | None = None   # device name
    exposed: tuple[Exposed, ...] = ()
    dhcp_servers: tuple[IPAddress, ...] | None = None   # None: not declared
    ipv6_routers: tuple[IPAddress, ...] | None = None
    loc: Location | None = None
    # the unit's public addresses that lead to this segment (a range from the
    # ISP, NAT): probed from the internet as the internet sees the unit
    public: tuple[IPNetwork, ...] = ()
    # issue 13: ports beyond 22/443 where the identity step reads host keys and certificates
    ssh_ports: tuple[int, ...] = ()
    tls_ports: tuple[int, ...] = ()
    snmp: SnmpAccess | None = None     # the identity step asks SNMP only where this is declared
    # where each of `networks` is written (a finding about one network points at its line)
    network_locs: tuple[Location | None, ...] = field(default=(), compare=False)

    @property
    def classified(self) -> bool:
        return self.classification == CLASSIFIED

    @property
    def is_internet(self) -> bool:
        return self.classification == INTERNET

    def contains(self, ip: IPAddress | str) -> bool:
        ip = IPAddress(ip) if not isinstance(ip, IPAddress) else ip
        return any(ip.version == n.version and ip in n for n in self.networks)


@dataclass(frozen=True)
class Interface:
    segment: str
    ip: IPAddress | None = None
    mac: str | None = None
    loc: Location | None = None


@dataclass(frozen=True)
class Device:
    name: str
    kind: str
    interfaces: tuple[Interface, ...]
    asset_tag: str | None = None
    custodian: str | None = None
    loc: Location | None = None
    # issue 13: who the device says it is, registered: SSH host key
    # fingerprints ("SHA256:…") and names (NetBIOS/mDNS), each with its place
    ssh_host_keys: tuple[str, ...] = ()
    names: tuple[str, ...] = ()
    # issue 28: the unit's register (台账) columns the inventory has no key for
    # (型号, 所属部门, 位置, 硬盘序列号, 状态, dates...), (header, text) in the ledger's order
    register: tuple[tuple[str, str], ...] = ()
    # issue 26: the serials of the device's own disks (the host vantage compares them)
    disks: tuple[str, ...] = ()

    @property
    def segments(self) -> tuple[str, ...]:
        return tuple(dict.fromkeys(i.segment for i in self.interfaces))


@dataclass(frozen=True)
class Transfer:
    device: str
    from_segment: str
    to_segment: str
    loc: Location | None = None


@dataclass(frozen=True)
class Medium:
    """A registered removable medium (专用移动存储介质), issue 26: the host
    vantage's HOST-MEDIA compares the serials it sees with these."""
    serial: str
    classification: str          # classified | non-classified | internet
    label: str | None = None
    custodian: str | None = None
    loc: Location | None = None


@dataclass(frozen=True)
class Organization:
    name: str
    id: str | None = None
    timezone: str | None = None     # IANA name (Asia/Shanghai); None: the host's zone


@dataclass(frozen=True)
class SourceFile:
    path: str
    sha256: str


@dataclass
class Inventory:
    """One inventory, possibly merged from several files.

    `extras` keeps top-level sections that belong to other tools, raw
    (the lab's `lab:` section). Lookup tables are built on first use.
    """
    organization: Organization
    segments: tuple[Segment, ...] = ()
    devices: tuple[Device, ...] = ()
    canaries: tuple[Canary, ...] = ()
    transfers: tuple[Transfer, ...] = ()
    files: tuple[SourceFile, ...] = ()
    media: tuple[Medium, ...] = ()          # issue 26: registered removable media
    sha256: str = ""
    extras: dict[str, Any] = field(default_factory=dict)
    _index: dict | None = field(default=None, repr=False, compare=False)

    # -- lookups -----------------------------------------------------------
    def _idx(self) -> dict:
        if self._index is None:
            # every interface by IP and by MAC, all of them, not only the first:
            # a duplicate is exactly what some checks must see
            all_ip: dict[str, list[tuple[Device, Interface]]] = {}
            all_mac: dict[str, list[tuple[Device, Interface]]] = {}
            for d in self.devices:
                for i in d.interfaces:
                    if i.ip is not None:
                        all_ip.setdefault(str(i.ip), []).append((d, i))
                    if i.mac is not None:
                        all_mac.setdefault(i.mac, []).append((d, i))
            self._index = {
                "segment": {s.name: s for s in self.segments},
                "device": {d.name: d for d in self.devices},
                "ip": {k: v[0] for k, v in all_ip.items()},
                "mac": {k: v[0] for k, v in all_mac.items()},
                "all_ip": all_ip,
                "all_mac": all_mac,
            }
        return self._index

    def segment(self, name: str) -> Segment | None:
        return self._idx()["segment"].get(name)

    def device(self, name: str) -> Device | None:
        return self._idx()["device"].get(name)

    def device_by_ip(self, ip) -> tuple[Device, Interface] | None:
        return self._idx()["ip"].get(str(ip))

    def device_by_mac(self, mac: str) -> tuple[Device, Interface] | None:
        return self._idx()["mac"].get(mac)

    def interfaces_with_mac(self, mac: str | None) -> list[tuple[Device, Interface]]:
        """Every registered interface with this MAC (a duplicate lists them all)."""
        return list(self._idx()["all_mac"].get(mac, ())) if mac else []

    def interfaces_with_ip(self, ip: str | None) -> list[tuple[Device, Interface]]:
        """Every registered interface with this address (a duplicate lists them all)."""
        return list(self._idx()["all_ip"].get(ip, ())) if ip else []

    def device_of(self, ip: str | None, mac: str | None) -> Device | None:
        """The registered device a seen host is, by MAC first, then by IP."""
        for d, _ in self.interfaces_with_mac(mac) or self.interfaces_with_ip(ip):
            return d
        return None

    def segment_of(self, ip) -> Segment | None:
        """The declared segment whose networks contain ip, if any."""
        ip = IPAddress(ip)
        for s in self.segments:
            if s.contains(ip):
                return s
        return None

    def devices_on(self, segment: str) -> Iterator[tuple[Device, Interface]]:
        for d in self.devices:
            for i in d.interfaces:
                if i.segment == segment:
                    yield d, i

    def canary(self, name: str) -> Canary | None:
        return next((c for c in self.canaries if c.name == name), None)

    def in_scope(self, ip) -> bool:
        """True when ip lies in a declared segment or is a declared canary.

        This is the scope guard: no probe may be sent to anything else.
        """
        ip = IPAddress(ip)
        if any(c.address == ip for c in self.canaries):
            return True
        return self.segment_of(ip) is not None or self.is_public(ip)

    def is_public(self, ip) -> bool:
        """ip is one of the unit's declared public addresses (a segment's
        `public` range, or the public address of an exposed service)."""
        ip = IPAddress(ip)
        for s in self.segments:
            if any(n.version == ip.version and ip in n for n in s.public):
                return True
            if any(e.public == ip for e in s.exposed):
                return True
        return False


# A check's evaluate(): pure function of inventory + observations.
Evaluate = Callable[[Inventory, Mapping[str, Any]], Iterable[Finding]]
