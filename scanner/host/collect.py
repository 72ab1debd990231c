"""The host record of one root: a list of steps, each reading one part.

A step that raises is a problem of its part (said in the record), never a
silent gap: the checks that read that part say `error`, the others judge.
"""
from __future__ import annotations

import dataclasses
from typing import Callable

from scanner.host import etc, logs, routes, sysfs
from scanner.host.record import HostProblem, HostRecord, Identity
from scanner.host.root import Root


def collect(root: Root, *, journalctl: str | None = None,
            addresses: Callable[[], dict] | None = None, files: Root | None = None,
            read_logs: bool = True) -> HostRecord:
    """Everything the host vantage observes under `root` (read-only).

    `addresses`: the live kernel's {interface: [ip/len]} (netlink); under
    --root they come from procfs when it is there. `files`: where etc and
    var/log are read when not under `root` (--files-root: a lab host shares
    its machine's disk, so its own configuration and logs are given apart)."""
    files = files or root
    problems: list[HostProblem] = []
    skipped: list[str] = []
    parts: dict = {}

    def step(name: str, fn: Callable[[], object], default):
        try:
            return fn()
        except Exception as exc:     # one part's failure is said, the rest is read
            why = f"{type(exc).__name__}: {exc}"[:300]
            problems.append(HostProblem(name, root.path, why, f"读取出错（{why}）"))
            return default

    if not root.isdir("sys/class/net"):
        problems.append(HostProblem("sysfs", "/sys/class/net",
                                    "no sysfs under this root: interfaces and hardware not read",
                                    "该根目录下没有 sysfs：未能读取接口与硬件"))
    nics = step("sysfs", lambda: sysfs.interfaces(root), [])
    rts = step("routes", lambda: routes.routes(root), [])
    live = root.is_live and addresses is not None
    if live:
        addrs = step("addresses", addresses, {})
    else:
        addrs = step("addresses", lambda: routes.addresses_from_proc(root, rts), {})
        skipped.append("live addresses: a --root tree is not a running system (addresses "
                       "from its procfs, where it has one)")
    nics = [n.__class__(**{**n.__dict__, "addresses": tuple(addrs.get(n.name, ()))})
            for n in nics]
    radios = step("sysfs", lambda: sysfs.radios(root, nics), [])
    usb, serials = step("sysfs", lambda: sysfs.storage(root), ([], []))
    fwd4, fwd6 = step("routes", lambda: routes.forwarding(root), (None, None))
    fwd_conf = step("routes", lambda: routes.forwarding_configured(files), [])
    proxies = step("proxies", lambda: etc.proxies(files), [])
    profs, prof_problems = step("profiles", lambda: etc.profiles(files), ([], []))
    problems += prof_problems
    parts["identity"] = Identity(
        machine_id=step("identity", lambda: etc.machine_id(files), None),
        hostname=step("identity", lambda: etc.hostname(files), None),
        disk_serials=tuple(serials),
        macs=tuple(sorted({n.mac for n in nics if n.mac and n.kind != "loopback"
                           and n.mac != "00:00:00:00:00:00"})))
    rec = HostRecord(
        status="ok", root=root.path, live=live, interfaces=tuple(nics), radios=tuple(radios),
        routes=tuple(rts), ip_forward=fwd4, ipv6_forward=fwd6,
        forward_configured=tuple(fwd_conf), proxies=tuple(proxies),
        storage=tuple(usb), profiles=tuple(profs), identity=parts["identity"],
        problems=tuple(problems), skipped=tuple(skipped))
    return with_logs(rec, files, journalctl) if read_logs else rec


def with_logs(rec: HostRecord, files: Root, journalctl: str | None = None) -> HostRecord:
    """The record with the USB storage and Wi-Fi history of the logs and the
    journal under `files` (the slow part: run beside the reach test)."""
    problems = list(rec.problems)
    try:
        scan = logs.read_all(files, journalctl)
    except Exception as exc:     # said, never a silent gap
        why = f"{type(exc).__name__}: {exc}"[:300]
        problems.append(HostProblem("logs", files.path, why, f"读取日志出错（{why}）"))
        scan = logs.Scan()
    problems += scan.problems
    if not scan.read and not scan.problems:
        problems.append(HostProblem("logs", "/var/log", "no kernel or system log and no journal "
                                                        "found: USB storage history not read",
                                    "没有找到内核日志、系统日志或 journal：未能读取 USB 存储使用记录"))
    macs = tuple(sorted({e.mac for e in scan.net if e.mac}))
    return dataclasses.replace(rec, media_history=tuple(scan.media), wifi_events=tuple(scan.wifi),
                               net_history=tuple(scan.net), logs_read=tuple(scan.read),
                               log_lines=scan.lines, problems=tuple(problems),
                               identity=dataclasses.replace(rec.identity, macs_in_logs=macs))
