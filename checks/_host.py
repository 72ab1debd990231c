"""What the HOST-* checks share: the host record, the device it is, its class.

The gate of the host vantage, in one place:
* not a host bundle (no "host" section, vantage kind not "host"): `skipped`;
* the host record did not come (status error): `error`;
* the device is not found in the inventory: `error` (nothing to compare with);
* a part of the record that could not be read (problems) and that the check
  reads: an `error` beside whatever fails were found, never a pass.
"""
from __future__ import annotations

import dataclasses
from collections.abc import Mapping
from typing import Any

from netaddr import IPAddress, IPNetwork
from netaddr.core import AddrFormatError

from scanner.host.device import home_segment
from scanner.localtime import local_iso, unit_zone
from scanner.host.record import HostRecord, Nic, ReachRecord
from scanner.model import (CLASSIFIED, INTERNET, NON_CLASSIFIED, CheckMeta, Device, Finding,
                           Inventory, Subject, error, skipped, text)

CLASS_RANK = {CLASSIFIED: 0, NON_CLASSIFIED: 1, INTERNET: 2}
CLASS_WORDS = {CLASSIFIED: ("涉密", "classified"), NON_CLASSIFIED: ("非涉密", "non-classified"),
               INTERNET: ("互联网", "internet")}


def is_host(obs: Mapping[str, Any]) -> bool:
    v = obs.get("vantage")
    return isinstance(v, Mapping) and v.get("kind") == "host"


def gate(meta: CheckMeta, inv: Inventory, obs: Mapping[str, Any]):
    """(record, device, None) or (None, None, the finding that says why not)."""
    if not is_host(obs):
        v = obs.get("vantage")
        seg = v.get("segment") if isinstance(v, Mapping) else None
        if not isinstance(seg, str) or inv.segment(seg) is None:
            # as every live check: a vantage the inventory does not know judges nothing
            return None, None, error(meta, text(
                f"无法判定：扫描位置所在网段“{seg}”未在清单中声明",
                f"could not be judged: the vantage segment '{seg}' is not declared in the "
                f"inventory"))
        return None, None, skipped(meta, text(
            "不适用：本结果包来自网络探测位置，该检查在涉密计算机内部运行（isoscan host）",
            "does not apply: this bundle is from a network vantage; the check runs inside "
            "the computer (isoscan host)"))
    raw = obs.get("host")
    if not isinstance(raw, Mapping) or raw.get("status") != "ok":
        why = raw.get("error") if isinstance(raw, Mapping) else None
        return None, None, error(meta, text(f"无法判定：主机信息未采集（{why or '无记录'}）",
                                            f"could not be judged: the host record was not "
                                            f"collected ({why or 'no record'})"))
    rec = HostRecord.from_json(raw)
    name = obs["vantage"].get("device")
    dev = inv.device(name) if isinstance(name, str) else None
    if dev is None:
        return None, None, error(meta, text(
            f"无法判定：本机（{name or '未识别'}）未在清单中登记，无法对照其网段与密级",
            f"could not be judged: this computer ({name or 'not identified'}) is not in the "
            f"inventory, so its segments and classification are unknown"))
    return rec, dev, None


def homed(inv: Inventory, obs: Mapping[str, Any], findings):
    """The findings, each on the computer's home segment (its most secret one)
    unless it says another: one row with the canary's and the probes' view."""
    name = (obs.get("vantage") or {}).get("device") if isinstance(obs.get("vantage"), Mapping) \
        else None
    dev = inv.device(name) if isinstance(name, str) else None
    seg = home_segment(inv, dev) if dev is not None else None
    for f in findings:
        yield f if f.segment is not None or seg is None else dataclasses.replace(f, segment=seg)


def shown_time(inv: Inventory, t: str | None) -> str | None:
    """A log's time as a person reads it: the journal's UTC times in the
    unit's zone; a syslog line's time as it was written (already local)."""
    if isinstance(t, str) and t.endswith("Z"):
        return local_iso(t, unit_zone(inv.organization.timezone))
    return t


def reach(obs: Mapping[str, Any]) -> ReachRecord:
    raw = obs.get("host_reach")
    if not isinstance(raw, Mapping):
        return ReachRecord(status="not-run", error="the reach test did not run")
    return ReachRecord.from_json(raw)


def classification(inv: Inventory, dev: Device) -> str | None:
    """The most secret class among the device's segments."""
    classes = [s.classification for i in dev.interfaces
               if (s := inv.segment(i.segment)) is not None]
    return min(classes, key=lambda c: CLASS_RANK.get(c, 9)) if classes else None


def words(cls: str | None) -> tuple[str, str]:
    return CLASS_WORDS.get(cls or "", (cls or "未知", cls or "unknown"))


def networks(inv: Inventory, dev: Device) -> list[IPNetwork]:
    out = []
    for seg in dict.fromkeys(i.segment for i in dev.interfaces):
        s = inv.segment(seg)
        if s is not None:
            out.extend(s.networks)
    return out


def segment_of_device(dev: Device) -> str | None:
    return dev.interfaces[0].segment if dev.interfaces else None


def routable(addr: str) -> IPAddress | None:
    """The address of "ip/len" unless loopback or link-local."""
    try:
        ip = IPAddress(addr.split("/")[0].split("%")[0])
    except (AddrFormatError, ValueError):
        return None
    if ip.is_loopback() or ip.is_link_local():
        return None
    return ip


def outside(nets: list[IPNetwork], addr: str) -> bool:
    ip = routable(addr)
    return ip is not None and not any(ip.version == n.version and ip in n for n in nets)


def nic_subject(dev: Device, nic: Nic | None) -> Subject:
    if nic is None:
        return Subject(device=dev.name)
    ip = next((a.split("/")[0] for a in nic.addresses if routable(a) is not None), None)
    return Subject(ip=ip, mac=nic.mac, device=dev.name)


def nothing_read(meta: CheckMeta, rec: HostRecord, dev: Device, what: str):
    """An `error` when the part a pass rests on is empty (a running system has
    a loopback at least; a host that read no log has no history): never a
    pass on nothing."""
    if what == "interfaces" and not rec.interfaces:
        return error(meta, text("无法判定：未读取到任何网络接口（连回环接口也没有）",
                                "could not be judged: no network interface was read (not even "
                                "the loopback)"), subject=Subject(device=dev.name))
    if what == "logs" and not rec.logs_read:
        return error(meta, text("无法判定：未读取到任何系统日志或 journal",
                                "could not be judged: no system log and no journal was read"),
                     subject=Subject(device=dev.name))
    return None


def problems_finding(meta: CheckMeta, rec: HostRecord, dev: Device, *parts: str) -> list[Finding]:
    """One `error` per unreadable part the check reads (the rest is judged)."""
    out = []
    for p in rec.problems_of(*parts):
        out.append(error(meta, text(f"{p.where}：{p.why_zh or p.why}（该部分无法判定，其余部分已判定）",
                                    f"{p.where}: {p.why} (this part could not be judged; the "
                                    f"rest was)"),
                         subject=Subject(device=dev.name)))
    return out
