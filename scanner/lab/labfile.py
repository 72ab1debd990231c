"""The `lab:` section of a lab file: parsed and checked, as plain data.

A lab file is an inventory (SPEC §2) plus a top-level `lab:` section:

    lab:
      name: demo                        # [a-z0-9][a-z0-9-]*, at most 20 chars
      internet_routes: false            # true: the internet side routes into the unit's
                                        # private IPv4 networks (no real uplink does)
      services:                         # plain listeners on a host
        - {device: dmz-web, tcp: [443], udp: []}
      faults:
        - id: rogue-laptop              # unique; `up --faults` selects by id
          kind: unregistered            # see FAULT_FIELDS
          segment: secret-lan
          ip: 10.10.0.77
          mac: 02:aa:00:00:00:77
          expect:                       # what a scan must find (one mapping or a list;
                                        # status: pass = the check must pass from there)
            {check: DEV-UNREGISTERED, vantage: probe-secret, ip: 10.10.0.77, mac: 02:aa:00:00:00:77}

Faults are runtime configuration: the inventory itself stays the unit's
declared truth, the faults are how the real network departs from it.
"""
from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any, Mapping

from netaddr import AddrFormatError, IPAddress, IPNetwork

from scanner.lab.errors import LabError
from scanner.model import net

NAME_RE = re.compile(r"^[a-z0-9][a-z0-9-]{0,19}$")
ID_RE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_-]{0,62}$")
CHECK_RE = re.compile(r"^[A-Z][A-Z0-9]*(-[A-Z0-9]+)+$")

# kind -> (required fields, optional fields) besides id, kind, expect
FAULT_FIELDS: dict[str, tuple[tuple[str, ...], tuple[str, ...]]] = {
    "unregistered": (("segment", "ip"), ("mac", "tcp", "udp", "sshd")),
    "mac-mismatch": (("device", "mac"), ("segment",)),
    "misplaced": (("device", "segment", "ip"), ("mac", "from")),
    "dual-homed": (("device", "segment", "ip"), ("mac", "nat")),
    "second-exit": (("device", "internet_ip"), ("segment", "mac")),
    "firewall-hole": (("device", "address"), ("tcp", "udp")),
    "rogue-dhcp": ((), ("device", "segment", "ip", "mac", "range", "router", "dns")),
    "rogue-ra": ((), ("device", "segment", "ip", "mac", "prefix", "lifetime")),
    "silent-forwarder": (("device", "segment", "ip"), ("mac",)),
    "port-forward": (("device", "to"), ("public", "tcp", "udp", "to_port")),
    "gateway-service": (("device",), ("tcp", "udp")),
    "address-conflict": (("device", "mac"), ("segment", "ip", "order")),
    "proxy-arp": (("device", "segment", "elsewhere"), ("via",)),
    "second-nic": (("device", "segment", "ip"), ("mac",)),
    "carried-over": (("device", "segment"), ("from",)),
    "transfer-mode": (("device", "mode"), ()),
    "blocked-exit": (("device", "segment"), ()),
    "two-nic-sshd": (("device", "segment", "ip"), ("mac",)),
    "two-nic-netbios": (("device", "segment", "ip"), ("mac", "name")),
    "two-nic-dhcp": (("device", "segment", "ip"), ("mac",)),
    "two-nic-snmp": (("device", "segment", "ip"), ("mac", "community", "user", "auth", "auth_key",
                                                   "priv_key")),
    "hostile-station": (("segment", "ip"), ("mac",)),
    "cloned-sshd": (("devices",), ()),
    "usb-tether": (("device", "internet_ip"), ("segment", "net", "ifname", "mac")),
    "forwarding-on": (("device",), ()),
    "firewalled-nic": (("device", "segment", "ip"), ("mac",)),
    "two-nic-dropbear": (("device", "segment", "ip"), ("mac", "keys")),
    "ssh-servers": (("devices", "server"), ("keys",)),
}
# merged: true -- the finding is in the report that joins every vantage's
# bundle (issue 13's identities), not in the named vantage's own bundle
EXPECT_FIELDS = ("check", "vantage", "ip", "mac", "device", "port", "note", "status", "segment",
                 "merged")


@dataclass(frozen=True)
class Service:
    device: str
    tcp: tuple[int, ...] = ()
    udp: tuple[int, ...] = ()


@dataclass(frozen=True)
class Fault:
    id: str
    kind: str
    params: Mapping[str, Any]
    expect: tuple[Mapping[str, Any], ...]

    def get(self, key: str, default=None):
        return self.params.get(key, default)

    def to_json(self) -> dict:
        return {"id": self.id, "kind": self.kind, "params": dict(self.params),
                "expect": [dict(e) for e in self.expect]}


@dataclass(frozen=True)
class LabSpec:
    name: str
    services: tuple[Service, ...] = ()
    faults: tuple[Fault, ...] = ()
    file: str | None = None
    # the internet side has IPv4 routes into the unit's private networks (no
    # real uplink has: only a lab that says so explicitly)
    internet_routes: bool = False

    def fault(self, fault_id: str) -> Fault | None:
        return next((f for f in self.faults if f.id == fault_id), None)


@dataclass
class _Ctx:
    file: str | None
    problems: list[str] = field(default_factory=list)

    def where(self, path: tuple) -> str:
        loc = None
        if self.file:
            try:
                from scanner.inventory.load import locate  # the loader's position lookup
                loc = locate(self.file, path)
            except Exception:
                loc = None
        dotted = ".".join(str(p) for p in path)
        if loc is not None:
            return f"{loc}: {dotted}"
        return f"{self.file}: {dotted}" if self.file else dotted

    def bad(self, path: tuple, msg: str) -> None:
        self.problems.append(f"{self.where(path)}: {msg}")


def norm_mac(value: Any) -> str:
    """A MAC in the inventory's normal form (lower case, colon separated)."""
    mac = net.norm_mac(value, strict=True)
    if mac is None:
        raise ValueError(f"not a MAC address: {value!r}")
    return mac


def _ports(ctx: _Ctx, path: tuple, value: Any) -> tuple[int, ...]:
    if value is None:
        return ()
    if isinstance(value, int) and not isinstance(value, bool):
        value = [value]
    if not isinstance(value, list) or not all(
            isinstance(p, int) and not isinstance(p, bool) and 0 < p < 65536 for p in value):
        ctx.bad(path, "expected a list of port numbers 1-65535 / 应为端口号列表")
        return ()
    return tuple(value)


def _check_value(ctx: _Ctx, path: tuple, key: str, value: Any) -> Any:
    """Normalise one fault parameter; report what is wrong with it."""
    try:
        if key in ("ip", "internet_ip", "address", "router", "public", "to"):
            return str(IPAddress(str(value)))
        if key == "dns":
            vals = value if isinstance(value, list) else [value]
            return [str(IPAddress(str(v))) for v in vals]
        if key == "mac":
            return norm_mac(value)
        if key == "prefix":
            net = IPNetwork(str(value))
            if net.version != 6:
                raise ValueError("an IPv6 prefix is needed")
            return str(net.cidr)
        if key == "range":
            if not (isinstance(value, list) and len(value) == 2):
                raise ValueError("expected [first, last]")
            return [str(IPAddress(str(v))) for v in value]
        if key in ("tcp", "udp"):
            return _ports(ctx, path, value)
        if key == "nat":
            if not isinstance(value, bool):
                raise ValueError("expected true or false")
            return value
        if key in ("to_port", "port"):
            if not (isinstance(value, int) and not isinstance(value, bool) and 0 < value < 65536):
                raise ValueError("expected a port number 1-65535")
            return value
        if key == "lifetime":
            if not (isinstance(value, int) and 0 <= value <= 9000):
                raise ValueError("expected seconds 0-9000")
            return value
        if key == "order":
            if value not in ("first", "last"):
                raise ValueError("expected first or last")
            return value
        if key == "mode":
            if value not in ("filtered", "silent", "open"):
                raise ValueError("expected filtered, silent or open")
            return value
        if key in ("elsewhere", "net"):
            return str(IPNetwork(str(value)).cidr)
        if key == "ifname":
            if not (isinstance(value, str) and re.fullmatch(r"[a-z][a-z0-9]{0,14}", value)):
                raise ValueError("expected an interface name ([a-z][a-z0-9]{0,14})")
            return value
        if key in ("device", "segment", "from", "via"):
            if not isinstance(value, str) or not value:
                raise ValueError("expected a name")
            return value
    except (AddrFormatError, ValueError, TypeError) as exc:
        ctx.bad(path, f"{exc} / 取值无效")
        return None
    return value


def _expects(ctx: _Ctx, path: tuple, value: Any) -> tuple[Mapping[str, Any], ...]:
    if isinstance(value, Mapping):
        items, paths = [value], [path]
    elif isinstance(value, list) and value:
        items, paths = value, [path + (i,) for i in range(len(value))]
    else:
        ctx.bad(path, "every fault needs `expect:` (check, vantage, ip/mac) / 每个故障须声明 expect")
        return ()
    out = []
    for item, p in zip(items, paths):
        if not isinstance(item, Mapping):
            ctx.bad(p, "expected a mapping / 应为映射")
            continue
        for k in item:
            if k not in EXPECT_FIELDS:
                ctx.bad(p + (k,), f"unknown key {k!r} / 未知字段")
        check, vantage = item.get("check"), item.get("vantage")
        if not isinstance(check, str) or not CHECK_RE.match(check):
            ctx.bad(p + ("check",), "expected a check id such as DEV-UNREGISTERED / 应为检查编号")
        if not isinstance(vantage, str) or not vantage:
            ctx.bad(p + ("vantage",), "expected the probe device that must find it / 应为探针设备名")
        e = {"check": check, "vantage": vantage}
        if item.get("port") is not None:
            e["port"] = _check_value(ctx, p + ("port",), "port", item["port"])
        if item.get("status", "fail") not in ("fail", "pass", "error"):
            ctx.bad(p + ("status",), "expected fail (the default: a finding to find), pass (the"
                    " check must pass: a situation that must not be flagged) or error (it must not"
                    " pass: the scan cannot judge it) / 应为 fail、pass 或 error")
        elif item.get("status") in ("pass", "error"):
            e["status"] = item["status"]
        for k in ("ip", "mac", "device", "note", "segment"):
            if item.get(k) is not None:
                v = _check_value(ctx, p + (k,), k, item[k]) if k in ("ip", "mac") else str(item[k])
                e[k] = v
        if item.get("merged") is not None:
            if not isinstance(item["merged"], bool):
                ctx.bad(p + ("merged",), "expected true or false / 应为 true 或 false")
            elif item["merged"]:
                e["merged"] = True
        out.append(e)
    return tuple(out)


def parse_lab(raw: Any, file: str | None = None) -> LabSpec:
    """The lab section as a LabSpec; LabError listing every problem."""
    ctx = _Ctx(file)
    if not isinstance(raw, Mapping):
        raise LabError(f"{file or 'lab file'}: no `lab:` section (a mapping with name, services, faults)"
                       " / 缺少 lab: 段")
    for k in raw:
        if k not in ("name", "services", "faults", "internet_routes"):
            ctx.bad(("lab", k), f"unknown key {k!r} / 未知字段")
    name = raw.get("name")
    if not isinstance(name, str) or not NAME_RE.match(name):
        ctx.bad(("lab", "name"), "expected a short name [a-z0-9-], at most 20 characters / 实验网名称无效")
        name = "lab"
    services = []
    for i, s in enumerate(raw.get("services") or []):
        p = ("lab", "services", i)
        if not isinstance(s, Mapping) or not isinstance(s.get("device"), str):
            ctx.bad(p, "expected {device: NAME, tcp: [..], udp: [..]} / 服务声明无效")
            continue
        for k in s:
            if k not in ("device", "tcp", "udp"):
                ctx.bad(p + (k,), f"unknown key {k!r} / 未知字段")
        services.append(Service(s["device"], _ports(ctx, p + ("tcp",), s.get("tcp")),
                                _ports(ctx, p + ("udp",), s.get("udp"))))
    faults, seen = [], set()
    raw_faults = raw.get("faults") or []
    if not isinstance(raw_faults, list):
        ctx.bad(("lab", "faults"), "expected a list / 应为列表")
        raw_faults = []
    for i, f in enumerate(raw_faults):
        p = ("lab", "faults", i)
        if not isinstance(f, Mapping):
            ctx.bad(p, "expected a mapping / 应为映射")
            continue
        fid, kind = f.get("id"), f.get("kind")
        if not isinstance(fid, str) or not ID_RE.match(fid):
            ctx.bad(p + ("id",), "expected an id [A-Za-z0-9_-] / 故障编号无效")
            fid = f"#{i}"
        elif fid in seen:
            ctx.bad(p + ("id",), f"duplicate fault id {fid!r} / 故障编号重复")
        seen.add(fid)
        if kind not in FAULT_FIELDS:
            ctx.bad(p + ("kind",), f"unknown fault kind {kind!r}; one of {', '.join(FAULT_FIELDS)}"
                    " / 未知故障类型")
            continue
        required, optional = FAULT_FIELDS[kind]
        params = {}
        for k, v in f.items():
            if k in ("id", "kind", "expect"):
                continue
            if k not in required and k not in optional:
                ctx.bad(p + (k,), f"unknown key {k!r} for kind {kind} / 未知字段")
                continue
            params[k] = _check_value(ctx, p + (k,), k, v)
        for k in required:
            if k not in f:
                ctx.bad(p, f"fault kind {kind} needs `{k}` / 缺少字段 {k}")
        if kind in ("rogue-dhcp", "rogue-ra") and "device" not in f and not (
                "segment" in f and "mac" in f):
            ctx.bad(p, f"{kind} needs `device:` or a new host's `segment:` and `mac:`"
                    " / 须指定设备或新主机")
        if kind == "rogue-dhcp" and "device" not in f and "ip" not in f:
            ctx.bad(p, "rogue-dhcp on a new host needs `ip:` / 缺少 ip")
        if kind in ("firewall-hole", "port-forward", "gateway-service") and not (
                f.get("tcp") or f.get("udp")):
            ctx.bad(p, f"{kind} needs `tcp:` or `udp:` ports / 缺少端口")
        faults.append(Fault(fid, kind, params, _expects(ctx, p + ("expect",), f.get("expect"))))
    routes = raw.get("internet_routes", False)
    if not isinstance(routes, bool):
        ctx.bad(("lab", "internet_routes"), "expected true or false / 应为 true 或 false")
        routes = False
    if ctx.problems:
        raise LabError("invalid lab section / lab 段无效:\n  " + "\n  ".join(ctx.problems))
    return LabSpec(name=name, services=tuple(services), faults=tuple(faults), file=file,
                   internet_routes=routes)
