"""The inventory schema (SPEC §2): one file's parsed data -> model pieces + problems.

Hand-written rather than a generic schema engine: a 100,000-device file is
read in about a second, and every problem names the exact path (so the loader
can point at file, line and column) and says what was expected, in zh-CN and
en. Elements too broken to model are left out of the model (their problem is
reported); everything else is kept so the other checks still run.

References between files (a device's segment, an ingress device, a transfer)
are not judged here: one file may name a segment another file declares. They
are returned as `Ref`s and resolved by scanner.inventory.load after merging.
"""
from __future__ import annotations

import difflib
import socket
from dataclasses import dataclass, field
from typing import Any, Callable, NamedTuple

from netaddr import IPAddress, IPNetwork

from scanner import localtime
from scanner.model import (CLASSIFIED, INTERNET, NON_CLASSIFIED, Canary, Device,
                           Exposed, Interface, Location, Medium, Organization, Segment,
                           Text, Transfer, text)
from scanner.inventory.yamlsource import KEY

CLASSIFICATIONS = (CLASSIFIED, NON_CLASSIFIED, INTERNET)
LEVELS = ("top-secret", "confidential", "secret")
PUBLIC_MAX = 256     # addresses in one declared public range (a /24 at most)
KINDS = ("workstation", "server", "printer", "switch", "router", "firewall",
         "gateway", "transfer", "probe", "other")

TOP_KEYS = ("version", "organization", "canaries", "segments", "devices", "transfers", "lab",
            "ledger", "media")
ORG_KEYS = ("name", "id", "timezone")
CANARY_KEYS = ("name", "address", "tcp", "udp", "icmp")
SEGMENT_KEYS = ("name", "title", "classification", "level", "networks", "ingress",
                "exposed", "dhcp_servers", "ipv6_routers", "public", "ssh_ports", "tls_ports",
                "snmp")
SNMP_KEYS = ("version", "community", "community_file", "user", "auth", "auth_key",
             "auth_key_file", "priv", "priv_key", "priv_key_file")
EXPOSED_KEYS = ("address", "public", "to", "to_port", "tcp", "udp")
DEVICE_KEYS = ("name", "kind", "asset_tag", "custodian", "segment", "ip", "mac", "interfaces",
               "ssh_host_keys", "names", "register", "disks")
INTERFACE_KEYS = ("segment", "ip", "mac")
TRANSFER_KEYS = ("device", "from", "to")
MEDIUM_KEYS = ("serial", "label", "classification", "custodian")
SERIAL_MAX = 128     # a USB iSerial or a disk serial is far shorter

_SETS = {k: frozenset(v) for k, v in {
    "top": TOP_KEYS, "org": ORG_KEYS, "canary": CANARY_KEYS, "segment": SEGMENT_KEYS,
    "exposed": EXPOSED_KEYS, "device": DEVICE_KEYS, "interface": INTERFACE_KEYS,
    "transfer": TRANSFER_KEYS, "snmp": SNMP_KEYS, "medium": MEDIUM_KEYS}.items()}
_LISTS = {"top": TOP_KEYS, "org": ORG_KEYS, "canary": CANARY_KEYS, "segment": SEGMENT_KEYS,
          "exposed": EXPOSED_KEYS, "device": DEVICE_KEYS, "interface": INTERFACE_KEYS,
          "transfer": TRANSFER_KEYS, "snmp": SNMP_KEYS, "medium": MEDIUM_KEYS}


# --------------------------------------------------------------------------
# Value parsers (also used by other modules: MAC normalisation, strict IPs)

_HEXDIGITS = frozenset("0123456789abcdef")
_HEXCOLON = _HEXDIGITS | {":"}


def normalise_mac(value: str) -> str | None:
    """'02-00-00-00-0C-0B', '0200.0000.0c0b', '02:00:00:00:0c:0b', '0200000c0c0b'
    -> '02:00:00:00:0c:0b'; None when it is not a MAC address."""
    if len(value) == 17 and value.count(":") == 5 and value[2] == value[5] == value[8] \
            == value[11] == value[14] == ":" and _HEXCOLON.issuperset(value):
        return value                     # already canonical: the common case, kept cheap
    s = value.strip().lower()
    if len(s) == 17 and s[2] == s[5] == s[8] == s[11] == s[14] and s[2] in ":-":
        hexes = s[0:2] + s[3:5] + s[6:8] + s[9:11] + s[12:14] + s[15:17]
    elif len(s) == 14 and s[4] == "." and s[9] == ".":
        hexes = s[0:4] + s[5:9] + s[10:14]
    elif len(s) == 12:
        hexes = s
    else:
        sep = ":" if ":" in s else "-"
        parts = s.split(sep)
        if len(parts) != 6 or not all(1 <= len(p) <= 2 for p in parts):
            return None
        hexes = "".join(p.rjust(2, "0") for p in parts)
    if len(hexes) != 12 or not _HEXDIGITS.issuperset(hexes):
        return None
    return ":".join((hexes[0:2], hexes[2:4], hexes[4:6], hexes[6:8], hexes[8:10], hexes[10:12]))


def parse_ip(value: str) -> IPAddress | None:
    """A strict IPv4 or IPv6 address (no zone ids, no legacy short forms)."""
    try:
        if ":" in value:
            if "%" in value:
                return None
            return IPAddress(int.from_bytes(socket.inet_pton(socket.AF_INET6, value), "big"), 6)
        if value.count(".") != 3:
            return None
        return IPAddress(int.from_bytes(socket.inet_pton(socket.AF_INET, value), "big"), 4)
    except (OSError, ValueError):
        return None


def parse_cidr(value: str) -> tuple[IPNetwork | None, Text | None]:
    """(network, None) or (None, why) for a CIDR with no host bits set."""
    addr, sep, plen = value.partition("/")
    ip = parse_ip(addr.strip())
    if ip is None:
        return None, text(f"'{value}' 不是 CIDR 网段（如 10.10.0.0/24）",
                          f"'{value}' is not a CIDR network (like 10.10.0.0/24)")
    bits = 32 if ip.version == 4 else 128
    if not sep:
        return None, text(f"'{value}' 缺少前缀长度（如 {addr}/{bits}）",
                          f"'{value}' lacks a prefix length (like {addr}/{bits})")
    if not plen.isdigit() or not 0 <= int(plen) <= bits:
        return None, text(f"'{value}' 的前缀长度无效（0–{bits}）",
                          f"'{value}' has an invalid prefix length (0-{bits})")
    net = IPNetwork(f"{ip}/{int(plen)}")
    if net.network != ip:
        return None, text(f"'{value}' 含主机位（应为 {net.cidr}）",
                          f"'{value}' has host bits set (did you mean {net.cidr}?)")
    return net, None


def show(value: Any, limit: int = 40) -> str:
    """A value for a message: short, and safe for huge numbers."""
    try:
        s = repr(value) if isinstance(value, str) else str(value)
    except ValueError:                 # an integer beyond str()'s digit limit
        return "<a number too long to show>"
    return s if len(s) <= limit else s[:limit] + "…"


def describe(value: Any) -> tuple[str, str]:
    """What a YAML value is, for messages: (zh, en)."""
    if value is None:
        return "空值", "nothing (null)"
    if isinstance(value, bool):
        return "布尔值", "true/false"
    if isinstance(value, (int, float)):
        return "数字", "a number"
    if isinstance(value, str):
        return "文本", "text"
    if isinstance(value, list):
        return "列表", "a list"
    if isinstance(value, dict):
        return "映射", "a mapping"
    return type(value).__name__, type(value).__name__


# --------------------------------------------------------------------------

@dataclass
class Problem:
    message: Text
    path: tuple


class Ref(NamedTuple):
    """A name that must be declared somewhere in the merged inventory."""
    kind: str            # "segment" | "device"
    name: str
    path: tuple
    referrer: str        # "interface" | "ingress" | "transfer": what refers, for the message
    owner: str | None    # the device or segment that refers

    def what(self) -> Text:
        o = self.owner
        if self.referrer == "interface":
            return text(f"设备 {o} 的接口", f"an interface of device {o}")
        if self.referrer == "ingress":
            return text(f"网段 {o} 的出入口", f"the ingress of segment {o}")
        return text("单向导入声明", "a one-way transfer")


@dataclass
class FilePart:
    """What one file contributes."""
    version_ok: bool = False
    organization: Organization | None = None
    organization_path: tuple = ()
    canaries: list[Canary] = field(default_factory=list)
    segments: list[Segment] = field(default_factory=list)
    devices: list[Device] = field(default_factory=list)
    transfers: list[Transfer] = field(default_factory=list)
    media: list[Medium] = field(default_factory=list)
    extras: dict[str, Any] = field(default_factory=dict)
    refs: list[Ref] = field(default_factory=list)
    problems: list[Problem] = field(default_factory=list)
    # names declared, also of elements left out of the model for their problems
    declared: dict[str, set[str]] = field(
        default_factory=lambda: {"segment": set(), "device": set()})


class FileReader:
    """Reads one file's data into a FilePart. `loc(path)` makes a Location."""

    def __init__(self, loc: Callable[[tuple], Location]):
        self.loc = loc
        self.part = FilePart()

    # -- reporting ---------------------------------------------------------
    def bad(self, path: tuple, zh: str, en: str) -> None:
        self.part.problems.append(Problem(text(zh, en), path))

    def unknown_keys(self, d: dict, kind: str, path: tuple) -> None:
        for k in d:
            if k in _SETS[kind]:
                continue
            if not isinstance(k, str):
                self.bad(path, f"键 {show(k)} 不是文本", f"key {show(k)} is not text")
                continue
            close = difflib.get_close_matches(k, _LISTS[kind], n=1, cutoff=0.6)
            hint_zh = f"（是否应为 '{close[0]}'？）" if close else ""
            hint_en = f" (did you mean '{close[0]}'?)" if close else ""
            allowed = ", ".join(_LISTS[kind])
            self.bad(path + (k, KEY), f"未知的键 '{k}'{hint_zh}；允许：{allowed}",
                     f"unknown key '{k}'{hint_en}; allowed: {allowed}")

    def wrong_type(self, path: tuple, value: Any, zh_want: str, en_want: str) -> None:
        zh, en = describe(value)
        self.bad(path, f"应为{zh_want}，实为{zh}", f"expected {en_want}, got {en}")

    def missing(self, path: tuple, key: str) -> None:
        self.bad(path, f"缺少必填的键 '{key}'", f"required key '{key}' is missing")

    # -- typed getters -----------------------------------------------------
    def mapping(self, value: Any, path: tuple) -> dict | None:
        if isinstance(value, dict):
            return value
        self.wrong_type(path, value, "映射（键: 值）", "a mapping (key: value)")
        return None

    def seq(self, value: Any, path: tuple) -> list | None:
        if value is None:
            return []
        if isinstance(value, list):
            return value
        self.wrong_type(path, value, "列表", "a list")
        return None

    def string(self, d: dict, key: str, path: tuple, required: bool = False) -> str | None:
        if key not in d:
            if required:
                self.missing(path, key)
            return None
        v = d[key]
        if isinstance(v, str) and v.strip():
            return v
        if isinstance(v, (int, float)) and not isinstance(v, bool):
            self.bad(path + (key,), f"'{key}' 应为文本，实为数字 {show(v)}（请加引号）",
                     f"'{key}' must be text, got the number {show(v)} (quote it)")
        elif isinstance(v, str):
            self.bad(path + (key,), f"'{key}' 不能为空", f"'{key}' must not be empty")
        else:
            self.wrong_type(path + (key,), v, "文本", "text")
        return None

    def choice(self, d: dict, key: str, path: tuple, options: tuple[str, ...],
               required: bool = True) -> str | None:
        v = self.string(d, key, path, required)
        if v is None:
            return None
        if v not in options:
            close = difflib.get_close_matches(v, options, n=1, cutoff=0.6)
            hint_zh = f"（是否应为 '{close[0]}'？）" if close else ""
            hint_en = f" (did you mean '{close[0]}'?)" if close else ""
            self.bad(path + (key,), f"'{key}' 的值 '{v}' 无效{hint_zh}；可选：{', '.join(options)}",
                     f"'{key}' is '{v}'{hint_en}; expected one of: {', '.join(options)}")
            return None
        return v

    def ip(self, d: dict, key: str, path: tuple, required: bool = False) -> IPAddress | None:
        if key not in d:
            if required:
                self.missing(path, key)
            return None
        return self.ip_value(d[key], path + (key,))

    def ip_value(self, v: Any, path: tuple) -> IPAddress | None:
        if not isinstance(v, str):
            self.wrong_type(path, v, "IP 地址", "an IP address")
            return None
        ip = parse_ip(v.strip())
        if ip is None:
            self.bad(path, f"'{show(v, 60)[1:-1]}' 不是有效的 IPv4/IPv6 地址",
                     f"'{show(v, 60)[1:-1]}' is not a valid IPv4/IPv6 address")
        return ip

    def ip_list(self, d: dict, key: str, path: tuple) -> tuple[IPAddress, ...] | None:
        if key not in d:
            return None
        items = self.seq(d[key], path + (key,))
        if items is None:
            return None
        out = []
        for i, v in enumerate(items):
            ip = self.ip_value(v, path + (key, i))
            if ip is not None:
                out.append(ip)
        return tuple(out)

    def mac(self, d: dict, key: str, path: tuple) -> str | None:
        if key not in d:
            return None
        v = d[key]
        if not isinstance(v, str):
            if isinstance(v, int) and not isinstance(v, bool):
                self.bad(path + (key,), f"MAC 地址 {show(v)} 被读成数字（请加引号）",
                         f"MAC address {show(v)} was read as a number (quote it)")
            else:
                self.wrong_type(path + (key,), v, "MAC 地址", "a MAC address")
            return None
        m = normalise_mac(v)
        if m is None:
            self.bad(path + (key,), f"'{show(v, 60)[1:-1]}' 不是有效的 MAC 地址",
                     f"'{show(v, 60)[1:-1]}' is not a valid MAC address (like 02:00:00:00:0c:0b)")
        return m

    def ports(self, d: dict, key: str, path: tuple, default: tuple[int, ...]) -> tuple[int, ...]:
        if key not in d:
            return default
        items = self.seq(d[key], path + (key,))
        if items is None:
            return default
        out = []
        for i, v in enumerate(items):
            if isinstance(v, int) and not isinstance(v, bool) and 1 <= v <= 65535:
                out.append(v)
            else:
                self.bad(path + (key, i), f"端口应为 1–65535 的整数，实为 {show(v)}",
                         f"a port must be an integer 1-65535, got {show(v)}")
        return tuple(dict.fromkeys(out))

    # -- sections ------------------------------------------------------------
    def read(self, data: Any) -> FilePart:
        part = self.part
        top = self.mapping(data, ())
        if top is None:
            return part
        self.unknown_keys(top, "top", ())
        if "version" not in top:
            self.bad((), "缺少 'version: 1'", "'version: 1' is missing")
        elif top["version"] != 1 or isinstance(top["version"], bool):
            self.bad(("version",), f"不支持的版本 {show(top['version'])}（仅支持 1）",
                     f"unsupported version {show(top['version'])} (only 1 is known)")
        else:
            part.version_ok = True
        if "organization" in top:
            self.organization(top["organization"])
        for key, reader in (("canaries", self.canary), ("segments", self.segment),
                            ("devices", self.device), ("transfers", self.transfer),
                            ("media", self.medium)):
            if key in top:
                items = self.seq(top[key], (key,))
                for i, item in enumerate(items or ()):
                    reader(item, (key, i))
        if "lab" in top:
            part.extras["lab"] = top["lab"]
        if "ledger" in top:      # the register's layout, written by `inventory import` (issue 28)
            part.extras["ledger"] = top["ledger"]
        return part

    def organization(self, value: Any) -> None:
        path = ("organization",)
        d = self.mapping(value, path)
        if d is None:
            return
        self.unknown_keys(d, "org", path)
        name = self.string(d, "name", path, required=True)
        oid = self.string(d, "id", path)
        zone = self.string(d, "timezone", path)
        if zone is not None and not localtime.known_zone(zone):
            self.bad(path + ("timezone",), f"未知的时区 {show(zone)}（应为 IANA 名称，如 Asia/Shanghai）",
                     f"unknown time zone {show(zone)} (an IANA name such as Asia/Shanghai)")
            zone = None
        if name is not None:
            self.part.organization = Organization(name=name, id=oid, timezone=zone)
            self.part.organization_path = path

    def canary(self, value: Any, path: tuple) -> None:
        d = self.mapping(value, path)
        if d is None:
            return
        self.unknown_keys(d, "canary", path)
        name = self.string(d, "name", path, required=True)
        addr = self.ip(d, "address", path, required=True)
        tcp = self.ports(d, "tcp", path, (80, 443))
        udp = self.ports(d, "udp", path, (53,))
        icmp = d.get("icmp", True)
        if not isinstance(icmp, bool):
            self.wrong_type(path + ("icmp",), icmp, "true 或 false", "true or false")
            icmp = True
        if name is not None and addr is not None:
            self.part.canaries.append(Canary(name, addr, tcp, udp, icmp, self.loc(path)))

    def segment(self, value: Any, path: tuple) -> None:
        d = self.mapping(value, path)
        if d is None:
            return
        self.unknown_keys(d, "segment", path)
        name = self.string(d, "name", path, required=True)
        if name is not None and not _segment_name_ok(name):
            self.bad(path + ("name",), f"网段名 '{name}' 不符合 [a-z0-9][a-z0-9-]*",
                     f"segment name '{name}' does not match [a-z0-9][a-z0-9-]*")
            name = None
        if name is not None:
            self.part.declared["segment"].add(name)
        title = self.string(d, "title", path)
        cls = self.choice(d, "classification", path, CLASSIFICATIONS)
        level = None
        if "level" in d:
            if cls is not None and cls != CLASSIFIED:
                self.bad(path + ("level", KEY), "只有涉密网段（classified）才有 'level'",
                         "'level' belongs to classified segments only")
            else:
                level = self.choice(d, "level", path, LEVELS)
        elif cls == CLASSIFIED:
            self.bad(path, f"涉密网段缺少 'level'（{', '.join(LEVELS)}）",
                     f"a classified segment needs 'level' ({', '.join(LEVELS)})")
        networks: list[IPNetwork] = []
        network_locs: list = []
        if "networks" not in d:
            self.missing(path, "networks")
        else:
            items = self.seq(d["networks"], path + ("networks",))
            if items is not None and not items:
                self.bad(path + ("networks",), "'networks' 至少需要一个网段",
                         "'networks' needs at least one CIDR")
            for i, v in enumerate(items or ()):
                if not isinstance(v, str):
                    self.wrong_type(path + ("networks", i), v, "CIDR 网段", "a CIDR network")
                    continue
                net, why = parse_cidr(v.strip())
                if why is not None:
                    self.part.problems.append(Problem(why, path + ("networks", i)))
                else:
                    networks.append(net)
                    network_locs.append(self.loc(path + ("networks", i)))
        ingress = self.string(d, "ingress", path)
        if ingress is not None:
            if cls in (CLASSIFIED, INTERNET):
                self.bad(path + ("ingress", KEY), "只有非涉密网段才声明 'ingress'",
                         "only a non-classified segment declares an 'ingress'")
            self.part.refs.append(Ref("device", ingress, path + ("ingress",), "ingress", name))
        exposed: list[Exposed] = []
        if "exposed" in d:
            if cls in (CLASSIFIED, INTERNET):
                self.bad(path + ("exposed", KEY), "只有非涉密网段才声明 'exposed'",
                         "only a non-classified segment declares 'exposed' services")
            for i, item in enumerate(self.seq(d["exposed"], path + ("exposed",)) or ()):
                e = self.exposed(item, path + ("exposed", i))
                if e is not None:
                    exposed.append(e)
        dhcp = self.ip_list(d, "dhcp_servers", path)
        ra = self.ip_list(d, "ipv6_routers", path)
        public = self.cidr_list(d, "public", path)
        if "public" in d and cls != NON_CLASSIFIED:
            self.bad(path + ("public", KEY), "只有非涉密网段才声明 'public'（公网地址）",
                     "only a non-classified segment declares 'public' addresses")
        ssh_ports = self.ports(d, "ssh_ports", path, ())
        tls_ports = self.ports(d, "tls_ports", path, ())
        snmp = self.snmp(d["snmp"], path + ("snmp",)) if "snmp" in d else None
        if name is None or cls is None or not networks:
            return
        self.part.segments.append(Segment(
            name=name, classification=cls, networks=tuple(networks), title=title,
            level=level, ingress=ingress, exposed=tuple(exposed), dhcp_servers=dhcp,
            ipv6_routers=ra, loc=self.loc(path), public=public,
            ssh_ports=ssh_ports, tls_ports=tls_ports, snmp=snmp,
            network_locs=tuple(network_locs)))

    def snmp(self, value: Any, path: tuple):
        """`snmp:` read access: v2c `{community | community_file}`, or v3
        `{version: 3, user, auth: SHA|SHA-256, auth_key | auth_key_file,
        priv: AES|none, priv_key | priv_key_file}`."""
        from scanner.model import SnmpAccess
        d = self.mapping(value, path)
        if d is None:
            return None
        self.unknown_keys(d, "snmp", path)
        version = str(d.get("version", "2c"))
        if version in ("2c", "v2c"):
            extra = [k for k in SNMP_KEYS[3:] if k in d]
            if extra:
                self.bad(path + (extra[0], KEY), f"'{extra[0]}' 属于 SNMPv3（version: 3）",
                         f"'{extra[0]}' belongs to SNMPv3 (version: 3)")
                return None
            community = self.string(d, "community", path)
            cfile = self.string(d, "community_file", path)
            if (community is None) == (cfile is None):
                self.bad(path, "应给出 'community' 或 'community_file' 之一",
                         "give exactly one of 'community' and 'community_file'")
                return None
            return SnmpAccess(version="2c", community=community, community_file=cfile)
        if version not in ("3", "v3"):
            self.bad(path + ("version",), f"不支持的 SNMP 版本 {show(d.get('version'))}（支持 2c、3）",
                     f"SNMP version {show(d.get('version'))} is not supported (2c and 3 are)")
            return None
        for k in ("community", "community_file"):
            if k in d:
                self.bad(path + (k, KEY), "SNMPv3 用 user 与密钥，不用 community",
                         f"SNMPv3 takes a user and keys, not '{k}'")
                return None
        user = self.string(d, "user", path, required=True)
        auth = self.choice(d, "auth", path, ("SHA", "SHA-256"), required=False) or "SHA"
        priv = self.choice(d, "priv", path, ("AES", "none"), required=False) or "AES"
        keys = {}
        for k in ("auth_key", "priv_key") if priv != "none" else ("auth_key",):
            inline, kfile = self.string(d, k, path), self.string(d, k + "_file", path)
            if (inline is None) == (kfile is None):
                self.bad(path, f"应给出 '{k}' 或 '{k}_file' 之一",
                         f"give exactly one of '{k}' and '{k}_file'")
                return None
            if inline is not None and len(inline) < 8:
                self.bad(path + (k,), "SNMPv3 密钥至少 8 个字符（RFC 3414）",
                         "an SNMPv3 key has at least 8 characters (RFC 3414)")
                return None
            keys[k], keys[k + "_file"] = inline, kfile
        if user is None:
            return None
        return SnmpAccess(version="3", user=user, auth=auth, priv=priv, **keys)

    def exposed(self, value: Any, path: tuple) -> Exposed | None:
        d = self.mapping(value, path)
        if d is None:
            return None
        self.unknown_keys(d, "exposed", path)
        if "address" in d and "public" in d:
            self.bad(path + ("public", KEY), "'address'（路由可达的内部地址）与 'public'（公网地址）只能二选一",
                     "give either 'address' (a routed internal address) or 'public' "
                     "(a public address, with 'to' for a port forward), not both")
            return None
        if "public" not in d:
            for key in ("to", "to_port"):
                if key in d:
                    self.bad(path + (key, KEY), f"'{key}' 只与 'public' 一起使用（端口转发）",
                             f"'{key}' goes with 'public' (a port forward)")
        addr = self.ip(d, "address", path, required="public" not in d)
        public = self.ip(d, "public", path)
        to = self.ip(d, "to", path)
        tcp = self.ports(d, "tcp", path, ())
        udp = self.ports(d, "udp", path, ())
        if not tcp and not udp and "tcp" not in d and "udp" not in d:
            self.bad(path, "暴露的服务需要 'tcp' 或 'udp' 端口", "an exposed service needs 'tcp' or 'udp' ports")
        to_port = None
        if "to_port" in d:
            v = d["to_port"]
            if not (isinstance(v, int) and not isinstance(v, bool) and 1 <= v <= 65535):
                self.bad(path + ("to_port",), f"端口应为 1–65535 的整数，实为 {show(v)}",
                         f"a port must be an integer 1-65535, got {show(v)}")
            elif "to" not in d:
                self.bad(path + ("to_port", KEY), "'to_port' 需要 'to'（转发到的内部地址）",
                         "'to_port' needs 'to' (the internal address it forwards to)")
            elif len(tcp) + len(udp) != 1:
                self.bad(path + ("to_port", KEY), "'to_port' 只用于只声明一个端口的转发",
                         "'to_port' is for a forward of exactly one port")
            else:
                to_port = v
        if addr is None and public is None:
            return None
        return Exposed(addr, tcp, udp, self.loc(path), public=public, to=to, to_port=to_port)

    def cidr_list(self, d: dict, key: str, path: tuple) -> tuple[IPNetwork, ...]:
        items = self.seq(d[key], path + (key,)) if key in d else None
        out: list[IPNetwork] = []
        for i, v in enumerate(items or ()):
            if not isinstance(v, str):
                self.wrong_type(path + (key, i), v, "CIDR 网段", "a CIDR network")
                continue
            net, why = parse_cidr(v.strip())
            if why is not None:
                self.part.problems.append(Problem(why, path + (key, i)))
            elif net.size > PUBLIC_MAX:
                self.bad(path + (key, i), f"公网地址段 {v} 过大（最多 {PUBLIC_MAX} 个地址）",
                         f"public range {v} is too large (at most {PUBLIC_MAX} addresses)")
            else:
                out.append(net)
        return tuple(out)

    def device(self, value: Any, path: tuple) -> None:
        if type(value) is dict and "interfaces" not in value and _DEVICE_KEYS.issuperset(value) \
                and self._short_device_fast(value, path):
            return
        if type(value) is not dict:
            self.mapping(value, path)
            return
        d = value
        if not _SETS["device"].issuperset(d):
            self.unknown_keys(d, "device", path)
        name = self.string(d, "name", path, required=True)
        if name is not None:
            self.part.declared["device"].add(name)
        kind = self.choice(d, "kind", path, KINDS)
        asset = self.string(d, "asset_tag", path)
        custodian = self.string(d, "custodian", path)
        short = [k for k in ("segment", "ip", "mac") if k in d]
        interfaces: list[Interface] = []
        if "interfaces" in d:
            if short:
                self.bad(path + (short[0], KEY),
                         f"设备同时使用了简写（{', '.join(short)}）和 'interfaces'，只能二选一",
                         f"the device uses both the short form ({', '.join(short)}) and "
                         "'interfaces'; use one")
            items = self.seq(d["interfaces"], path + ("interfaces",))
            if items is not None and not items:
                self.bad(path + ("interfaces",), "'interfaces' 至少需要一个接口",
                         "'interfaces' needs at least one interface")
            for i, item in enumerate(items or ()):
                ipath = path + ("interfaces", i)
                idict = self.mapping(item, ipath)
                if idict is None:
                    continue
                iface = self.interface(idict, ipath, ipath, name)
                if iface is not None:
                    interfaces.append(iface)
        elif "segment" in d:
            iface = self.interface(d, path, path + ("ip",) if "ip" in d else path + ("segment",),
                                   name, check_keys=False)
            if iface is not None:
                interfaces.append(iface)
        else:
            self.bad(path, "设备需要 'segment'（单接口简写）或 'interfaces'",
                     "a device needs 'segment' (one-interface short form) or 'interfaces'")
        keys = self.fingerprints(d, "ssh_host_keys", path)
        names = self.names(d, "names", path)
        register = self.register(d, "register", path)
        disks = self.serials(d, "disks", path)
        if name is None or kind is None:
            return
        self.part.devices.append(Device(name=name, kind=kind, interfaces=tuple(interfaces),
                                        asset_tag=asset, custodian=custodian, loc=self.loc(path),
                                        ssh_host_keys=keys, names=names, register=register,
                                        disks=disks))

    def register(self, d: dict, key: str, path: tuple) -> tuple[tuple[str, str], ...]:
        """The register's other columns (issue 28): {header: text}, kept as written."""
        if key not in d:
            return ()
        m = self.mapping(d[key], path + (key,))
        out = []
        for k, v in (m or {}).items():
            if not isinstance(k, str) or not isinstance(v, (str, int, float)) or isinstance(v, bool):
                self.bad(path + (key, k), f"'{key}' 的每一项应为 列名: 文本",
                         f"each entry of '{key}' is header: text")
                continue
            out.append((k, str(v)))
        return tuple(out)

    def serial_value(self, v: Any, path: tuple) -> str | None:
        """A disk's or a medium's serial as the kernel reports it (sysfs `serial`,
        `ID_SERIAL_SHORT`): printable text without spaces at either end."""
        if isinstance(v, (int, float)) and not isinstance(v, bool):
            self.bad(path, f"序列号应为文本，实为数字 {show(v)}（请加引号，前导零才不会丢失）",
                     f"a serial must be text, got the number {show(v)} (quote it, or its "
                     "leading zeros are lost)")
            return None
        if isinstance(v, str) and v.strip() and len(v) <= SERIAL_MAX and v.isprintable():
            return v.strip()
        self.bad(path, f"序列号应为不超过 {SERIAL_MAX} 个可打印字符的文本，实为 {show(v, 60)}",
                 f"a serial must be text of at most {SERIAL_MAX} printable characters, "
                 f"got {show(v, 60)}")
        return None

    def serials(self, d: dict, key: str, path: tuple) -> tuple[str, ...]:
        out = []
        for i, v in enumerate(self.seq(d.get(key), path + (key,)) or ()):
            s = self.serial_value(v, path + (key, i))
            if s is not None:
                out.append(s)
        return tuple(dict.fromkeys(out))

    def medium(self, value: Any, path: tuple) -> None:
        """A registered removable medium (专用移动存储介质): serial, label,
        classification, custodian. A broken entry is left out (its problem
        is reported); the others are kept."""
        d = self.mapping(value, path)
        if d is None:
            return
        self.unknown_keys(d, "medium", path)
        serial = None
        if "serial" not in d:
            self.missing(path, "serial")
        else:
            serial = self.serial_value(d["serial"], path + ("serial",))
        cls = self.choice(d, "classification", path, CLASSIFICATIONS)
        label = self.string(d, "label", path)
        custodian = self.string(d, "custodian", path)
        if serial is None or cls is None:
            return
        self.part.media.append(Medium(serial=serial, classification=cls, label=label,
                                      custodian=custodian, loc=self.loc(path)))

    def fingerprints(self, d: dict, key: str, path: tuple) -> tuple[str, ...]:
        """SSH host key fingerprints in OpenSSH's SHA256 form (`ssh-keygen -l`)."""
        from scanner.identity import valid_ssh_fingerprint
        out = []
        for i, v in enumerate(self.seq(d.get(key), path + (key,)) or ()):
            if valid_ssh_fingerprint(v):
                out.append(v)
            else:
                self.bad(path + (key, i), f"'{show(v, 60)[1:-1]}' 不是 SHA256 主机密钥指纹"
                         "（ssh-keygen -lf 的输出，形如 SHA256:<43 个字符>）",
                         f"'{show(v, 60)[1:-1]}' is not an SSH host key fingerprint in "
                         "SHA256 form (as `ssh-keygen -lf` prints: SHA256:<43 characters>)")
        return tuple(dict.fromkeys(out))

    def names(self, d: dict, key: str, path: tuple) -> tuple[str, ...]:
        """NetBIOS/mDNS names the device answers to (compared case-insensitively)."""
        out = []
        for i, v in enumerate(self.seq(d.get(key), path + (key,)) or ()):
            if isinstance(v, str) and v.strip() and len(v) <= 255 and v.isprintable():
                out.append(v.strip())
            else:
                self.bad(path + (key, i), f"名称应为不超过 255 个可打印字符的文本，实为 {show(v, 60)}",
                         f"a name must be text of at most 255 printable characters, "
                         f"got {show(v, 60)}")
        return tuple(dict.fromkeys(out))

    def _short_device_fast(self, d: dict, path: tuple) -> bool:
        """The common, clean short-form device without per-field bookkeeping.

        Returns False (having recorded nothing) whenever anything is unusual;
        the full path then reads the device again and reports its problems.
        """
        name, kind, seg = d.get("name"), d.get("kind"), d.get("segment")
        if type(name) is not str or type(seg) is not str or kind not in _KIND_SET \
                or not name.strip() or not seg.strip():
            return False
        asset, custodian = d.get("asset_tag"), d.get("custodian")
        if asset is not None and (type(asset) is not str or not asset.strip()):
            return False
        if custodian is not None and (type(custodian) is not str or not custodian.strip()):
            return False
        if ("asset_tag" in d and asset is None) or ("custodian" in d and custodian is None):
            return False
        ip = mac = None
        if "ip" in d:
            raw = d["ip"]
            if type(raw) is not str:
                return False
            ip = parse_ip(raw.strip())
            if ip is None:
                return False
        if "mac" in d:
            raw = d["mac"]
            if type(raw) is not str:
                return False
            mac = normalise_mac(raw)
            if mac is None:
                return False
        part = self.part
        part.declared["device"].add(name)
        part.refs.append(Ref("segment", seg, path + ("segment",), "interface", name))
        iface = Interface(seg, ip, mac, self.loc(path + ("ip",) if "ip" in d else path + ("segment",)))
        part.devices.append(Device(name=name, kind=kind, interfaces=(iface,), asset_tag=asset,
                                   custodian=custodian, loc=self.loc(path)))
        return True

    def interface(self, d: dict, path: tuple, loc_path: tuple, device: str | None,
                  check_keys: bool = True) -> Interface | None:
        if check_keys and not _SETS["interface"].issuperset(d):
            self.unknown_keys(d, "interface", path)
        seg = self.string(d, "segment", path, required=True)
        ip = self.ip(d, "ip", path)
        mac = self.mac(d, "mac", path)
        if seg is None:
            return None
        self.part.refs.append(Ref("segment", seg, path + ("segment",), "interface", device))
        return Interface(seg, ip, mac, self.loc(loc_path))

    def transfer(self, value: Any, path: tuple) -> None:
        d = self.mapping(value, path)
        if d is None:
            return
        self.unknown_keys(d, "transfer", path)
        dev = self.string(d, "device", path, required=True)
        src = self.string(d, "from", path, required=True)
        dst = self.string(d, "to", path, required=True)
        if dev is not None:
            self.part.refs.append(Ref("device", dev, path + ("device",), "transfer", None))
        for key, seg in (("from", src), ("to", dst)):
            if seg is not None:
                self.part.refs.append(Ref("segment", seg, path + (key,), "transfer", None))
        if src is not None and src == dst:
            self.bad(path + ("to",), "单向导入的 'from' 与 'to' 相同",
                     "a one-way transfer's 'from' and 'to' are the same segment")
        if dev is None or src is None or dst is None:
            return
        self.part.transfers.append(Transfer(dev, src, dst, self.loc(path)))


_DEVICE_KEYS = frozenset(DEVICE_KEYS) - {"ssh_host_keys", "names", "register", "disks"}   # the fast path reads none
_KIND_SET = frozenset(KINDS)
_SEG_FIRST = frozenset("abcdefghijklmnopqrstuvwxyz0123456789")
_SEG_REST = _SEG_FIRST | {"-"}


def _segment_name_ok(name: str) -> bool:
    return bool(name) and name[0] in _SEG_FIRST and _SEG_REST.issuperset(name)
