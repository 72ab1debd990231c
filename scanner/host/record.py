"""The host vantage's observation records (issue 26): frozen dataclasses with
to_json / from_json, kept whole in the bundle as observations["host"] and
observations["host_reach"].

    rec = HostRecord.from_json(obs["host"])     # lenient: a broken part is left out
    obs["host"] = rec.to_json()

Every list is a tuple; every MAC is lower-case colon form; addresses are
"ip/prefixlen" strings. `problems` says what could not be read (an unreadable
log, a journal without journalctl), `skipped` what was not looked at (the live
parts under --root), `sources` what was read: the coverage a person reads.
"""
from __future__ import annotations

import dataclasses
import typing
from dataclasses import dataclass, field
from typing import Any, Mapping

OK = "ok"
ERROR = "error"

# what an interface is, by its driver, uevent DEVTYPE and sysfs, not its name
KINDS = ("loopback", "ethernet", "wlan", "wwan", "usb-tether", "bluetooth-pan", "bridge",
         "bond", "vlan", "tun", "tap", "virtual", "other")
# radio hardware kinds
RADIO_KINDS = ("wlan", "bluetooth", "wwan", "other")
# the drivers that make an interface USB tethering or a mobile broadband modem
TETHER_DRIVERS = {"rndis_host": "USB tethering (RNDIS, Android)",
                  "cdc_ether": "USB tethering / USB Ethernet (CDC ECM)",
                  "cdc_ncm": "USB tethering (CDC NCM)",
                  "cdc_eem": "USB tethering (CDC EEM)",
                  "cdc_subset": "USB tethering (CDC subset)",
                  "ipheth": "USB tethering (iPhone)"}
WWAN_DRIVERS = {"cdc_mbim", "qmi_wwan", "huawei_cdc_ncm", "sierra_net", "option", "mhi_net",
                "mhi_wwan_mbim", "iosm", "t7xx"}


class _Record:
    """to_json / from_json for the frozen dataclasses below (fields of str,
    int, bool, None, tuples of those or of records)."""

    def to_json(self) -> dict:
        return {f.name: _out(getattr(self, f.name)) for f in dataclasses.fields(self)}

    @classmethod
    def from_json(cls, data: Any):
        """Lenient: fields of the wrong type take their default; unknown keys
        are ignored (a newer bundle reads in an older isoscan)."""
        if not isinstance(data, Mapping):
            data = {}
        hints = typing.get_type_hints(cls)
        kw = {}
        for f in dataclasses.fields(cls):
            if f.name in data:
                v = _in(hints[f.name], data[f.name])
                if v is not _BAD:
                    kw[f.name] = v
        try:
            return cls(**kw)
        except TypeError:      # a required field missing: the record is left out
            return None


_BAD = object()


def _out(v: Any) -> Any:
    if isinstance(v, _Record):
        return v.to_json()
    if isinstance(v, tuple):
        return [_out(x) for x in v]
    return v


def _in(hint: Any, v: Any) -> Any:
    origin = typing.get_origin(hint)
    args = typing.get_args(hint)
    if origin is typing.Union or str(origin) == "<class 'types.UnionType'>":
        if v is None and type(None) in args:
            return None
        for a in args:
            if a is type(None):
                continue
            got = _in(a, v)
            if got is not _BAD:
                return got
        return _BAD
    if origin is tuple:
        if not isinstance(v, list):
            return _BAD
        inner = args[0] if args else Any
        out = [_in(inner, x) for x in v]
        return tuple(x for x in out if x is not _BAD and x is not None)
    if isinstance(hint, type) and issubclass(hint, _Record):
        r = hint.from_json(v)
        return _BAD if r is None else r
    if hint is Any:
        return v
    if hint is bool:
        return v if isinstance(v, bool) else _BAD
    if hint is int:
        return v if isinstance(v, int) and not isinstance(v, bool) else _BAD
    if hint is str:
        return v if isinstance(v, str) else _BAD
    return _BAD


@dataclass(frozen=True)
class Nic(_Record):
    """A network interface, classified by what it is."""
    name: str
    kind: str                         # one of KINDS
    driver: str | None = None
    bus: str | None = None            # "pci" | "usb" | None (virtual)
    bus_id: str | None = None         # "0000:00:14.3" | "1-2:1.0"
    vendor: str | None = None         # "8086"
    product: str | None = None        # "2723"
    vendor_name: str | None = None    # USB manufacturer string, when the device says
    product_name: str | None = None
    mac: str | None = None
    operstate: str | None = None      # up | down | dormant | unknown | lowerlayerdown ...
    up: bool = False                  # IFF_UP
    carrier: bool | None = None
    addresses: tuple[str, ...] = ()   # "10.10.0.11/24", "fe80::1/64"
    forwarding: bool | None = None    # IPv4 per-interface forwarding
    forwarding6: bool | None = None
    devtype: str | None = None        # uevent DEVTYPE
    why: str | None = None            # how the kind was told ("driver ipheth", "phy80211")

    @property
    def hardware(self) -> bool:
        return self.bus is not None

    def label(self) -> str:
        """'wlp0s20f3 (wlan, iwlwifi, PCI 0000:00:14.3 8086:2723, up)'."""
        parts = [self.kind]
        if self.driver:
            parts.append(self.driver)
        if self.bus:
            ids = f" {self.vendor}:{self.product}" if self.vendor and self.product else ""
            parts.append(f"{self.bus.upper()} {self.bus_id}{ids}")
        parts.append(self.operstate or ("up" if self.up else "down"))
        if self.mac:
            parts.append(self.mac)
        return f"{self.name} ({', '.join(parts)})"


@dataclass(frozen=True)
class Radio(_Record):
    """Wireless or Bluetooth hardware, also when it is down or has no driver."""
    kind: str                         # one of RADIO_KINDS
    found_by: tuple[str, ...]         # "rfkill rfkill0", "ieee80211 phy0", "pci class 0x0280"...
    bus: str | None = None
    bus_id: str | None = None
    vendor: str | None = None
    product: str | None = None
    product_name: str | None = None
    driver: str | None = None         # None: no driver bound
    interface: str | None = None      # its netdev, when there is one
    state: str = "present"            # "up" | "down" | "blocked" | "no-driver" | "present"
    soft_blocked: bool | None = None
    hard_blocked: bool | None = None

    def label(self) -> str:
        ids = f" {self.vendor}:{self.product}" if self.vendor and self.product else ""
        where = f"{self.bus.upper()} {self.bus_id}{ids}" if self.bus else "; ".join(self.found_by)
        bits = [self.kind, where, f"driver {self.driver}" if self.driver else "no driver",
                self.state]
        if self.product_name:
            bits.insert(1, self.product_name)
        if self.interface:
            bits.insert(0, self.interface)
        return ", ".join(bits)


@dataclass(frozen=True)
class Route(_Record):
    family: int                       # 4 | 6
    dst: str                          # "0.0.0.0/0", "::/0", "10.10.0.0/24"
    gateway: str | None
    interface: str
    metric: int = 0

    @property
    def default(self) -> bool:
        return self.dst in ("0.0.0.0/0", "::/0")


@dataclass(frozen=True)
class Proxy(_Record):
    source: str                       # "/etc/environment:3", "environment"
    name: str                         # http_proxy, Acquire::http::Proxy
    value: str


@dataclass(frozen=True)
class Storage(_Record):
    """A removable/USB block device present now."""
    name: str                         # sdb
    bus_id: str | None = None         # USB 2-1
    vendor: str | None = None         # USB idVendor
    product: str | None = None        # USB idProduct
    vendor_name: str | None = None    # SCSI vendor / USB manufacturer
    model: str | None = None
    serial: str | None = None
    removable: bool | None = None
    size_bytes: int | None = None


@dataclass(frozen=True)
class MediaEvent(_Record):
    """A USB storage device seen attached in a log."""
    serial: str | None
    source: str                       # "var/log/kern.log.2.gz:17" or "journal"
    time: str | None = None           # as the log says it (journal: UTC ISO 8601)
    vendor: str | None = None
    product: str | None = None
    vendor_name: str | None = None
    model: str | None = None
    bus_id: str | None = None


@dataclass(frozen=True)
class WifiEvent(_Record):
    """A wireless association in a log."""
    interface: str | None
    source: str
    time: str | None = None
    peer: str | None = None           # BSSID
    ssid: str | None = None
    line: str = ""


@dataclass(frozen=True)
class NetEvent(_Record):
    """A network device registered in a log (usbnet's "register 'DRIVER' at
    ..., DESCRIPTION, MAC"; ipheth's "Apple iPhone USB Ethernet device
    attached"): a tethered phone or a modem that has been plugged in."""
    driver: str
    source: str
    time: str | None = None
    bus_id: str | None = None
    interface: str | None = None
    mac: str | None = None
    what: str | None = None


@dataclass(frozen=True)
class Profile(_Record):
    """A saved connection profile (Wi-Fi, mobile broadband, Bluetooth)."""
    kind: str                         # "wifi" | "gsm" | "cdma" | "bluetooth"
    name: str | None
    source: str                       # the file
    ssid: str | None = None


@dataclass(frozen=True)
class Identity(_Record):
    machine_id: str | None = None
    hostname: str | None = None
    disk_serials: tuple[str, ...] = ()
    macs: tuple[str, ...] = ()        # every card's MAC (permanent where known)
    macs_in_logs: tuple[str, ...] = ()  # MACs of network devices the logs remember


@dataclass(frozen=True)
class HostProblem(_Record):
    """Something that could not be read: the rest is judged, this part is not."""
    part: str                         # "logs" | "journal" | "profiles" | "sysfs" | ...
    where: str
    why: str                          # English
    why_zh: str | None = None         # the same in Chinese, where isoscan wrote it


@dataclass(frozen=True)
class HostRecord(_Record):
    status: str = OK
    error: str | None = None
    root: str = "/"
    live: bool = True                 # False under --root: addresses from procfs, no reach test
    interfaces: tuple[Nic, ...] = ()
    radios: tuple[Radio, ...] = ()
    routes: tuple[Route, ...] = ()
    ip_forward: bool | None = None    # net.ipv4.ip_forward
    ipv6_forward: bool | None = None  # net.ipv6.conf.all.forwarding
    forward_configured: tuple[str, ...] = ()   # sysctl.d lines that turn forwarding on
    proxies: tuple[Proxy, ...] = ()
    storage: tuple[Storage, ...] = ()
    media_history: tuple[MediaEvent, ...] = ()
    wifi_events: tuple[WifiEvent, ...] = ()
    net_history: tuple[NetEvent, ...] = ()     # network devices registered in the logs
    profiles: tuple[Profile, ...] = ()
    identity: Identity = field(default_factory=Identity)
    logs_read: tuple[str, ...] = ()   # every log file (and journal directory) read
    log_lines: int = 0
    problems: tuple[HostProblem, ...] = ()
    skipped: tuple[str, ...] = ()     # parts not looked at, and why

    def problems_of(self, *parts: str) -> list[HostProblem]:
        return [p for p in self.problems if p.part in parts]

    def nic(self, name: str | None) -> Nic | None:
        return next((n for n in self.interfaces if n.name == name), None)

    def default_routes(self) -> list[Route]:
        return [r for r in self.routes if r.default]


@dataclass(frozen=True)
class ReachProbe(_Record):
    """One tokened probe of the reach test toward a canary."""
    via: str                          # interface name, or "default" (the routing table's way)
    dst: str
    proto: str                        # tcp | udp
    port: int
    result: str                       # answer | refused | unreachable | none
    token: str | None = None
    src: str | None = None
    detail: str | None = None
    canary: str | None = None


@dataclass(frozen=True)
class ReachControl(_Record):
    """The positive control: something the host must reach on its own segment."""
    via: str
    target: str
    what: str                         # "gateway" | "probe" | device name
    ok: bool
    detail: str | None = None


@dataclass(frozen=True)
class ReachRecord(_Record):
    status: str = OK                  # ok | error | not-run
    error: str | None = None
    controls: tuple[ReachControl, ...] = ()
    probes: tuple[ReachProbe, ...] = ()
    interfaces: tuple[str, ...] = ()  # the coverage: every interface probed through
    segment: str | None = None        # the token's segment (the device's)

    @property
    def control_ok(self) -> bool:
        return any(c.ok for c in self.controls)
