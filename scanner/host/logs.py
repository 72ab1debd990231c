"""USB storage and wireless associations in the system's logs: the kernel
and system logs under var/log (rotated and gzip-compressed ones too) and the
journal (`journalctl -D DIR -o json`, also offline).

What the kernel writes when a USB stick is attached (drivers/usb/core/hub.c,
drivers/usb/storage/usb.c):

    usb 2-1: New USB device found, idVendor=0781, idProduct=5567, bcdDevice= 1.00
    usb 2-1: Product: Cruzer Blade
    usb 2-1: Manufacturer: SanDisk
    usb 2-1: SerialNumber: 4C530001234567890123
    usb-storage 2-1:1.0: USB Mass Storage device detected

A device is remembered per USB port from its "New USB device found" line;
"USB Mass Storage device detected" (or the uas driver binding) on that port
makes it a storage event with what the port said before.

Hostile input: a file is read at most MAX_BYTES (decompressed), a line is
cut at 4096 characters; a file that cannot be read is a problem record and
the other files are read all the same.
"""
from __future__ import annotations

import gzip
import json
import os
import re
import shutil
import subprocess
from dataclasses import dataclass, field
from datetime import datetime, timezone

from scanner.host.record import HostProblem, MediaEvent, NetEvent, WifiEvent
from scanner.host.root import Root

LOG_BASES = ("kern.log", "syslog", "messages", "dmesg", "kernel.log")
MAX_BYTES = 256 << 20          # one log, decompressed
MAX_LINE = 4096
JOURNAL_TIMEOUT = 60.0

_NEW = re.compile(r"usb (\d+-[\d.]+): New USB device found, idVendor=([0-9a-fA-F]{4}), "
                  r"idProduct=([0-9a-fA-F]{4})")
_STR = re.compile(r"usb (\d+-[\d.]+): (Product|Manufacturer|SerialNumber): (.*)$")
_STORAGE = re.compile(r"(?:usb-storage|uas) (\d+-[\d.]+):\d+\.\d+: ")
_STORAGE_OK = ("USB Mass Storage device detected", "UAS")
# UAS names no port: "scsi host6: uas" follows the device's own lines (the last port seen)
_UAS = re.compile(r"^scsi host\d+: uas\s*$")
_WIFI = (re.compile(r"(\S+): associated$"),
         re.compile(r"(\S+): associate with ([0-9a-f:]{17})"),
         re.compile(r"(\S+): CTRL-EVENT-CONNECTED - Connection to ([0-9a-f:]{17})"),
         re.compile(r"device \((\S+)\): .*Connected to wireless network '([^']*)'"))
_KSTAMP = re.compile(r"^\[\s*\d+\.\d+\]\s*")
# drivers/net/usb/usbnet.c: "<driver> <bus id> <if>: register '<driver>' at <where>, <info>, <mac>"
_REGISTER = re.compile(r"^(\S+) (\S+) (\S+): register '([\w-]+)' at [^,]*, (.*), "
                       r"([0-9a-fA-F]{2}(?::[0-9a-fA-F]{2}){5})\s*$")
_IPHETH = re.compile(r"^ipheth (\S+): Apple iPhone USB Ethernet device attached")
_HINT = ("usb", "uas", "associat", "CTRL-EVENT-CONNECTED", "wireless network", "register '",
         "ipheth")


@dataclass
class Scan:
    media: list[MediaEvent] = field(default_factory=list)
    wifi: list[WifiEvent] = field(default_factory=list)
    net: list[NetEvent] = field(default_factory=list)
    read: list[str] = field(default_factory=list)
    problems: list[HostProblem] = field(default_factory=list)
    lines: int = 0


class _Ports:
    """What each USB port said since its device arrived (per source)."""

    def __init__(self):
        self.ports: dict[str, dict] = {}
        self.last: str | None = None

    def feed(self, scan: Scan, msg: str, where: str, when: str | None) -> None:
        m = _NEW.search(msg)
        if m:
            self.ports[m.group(1)] = {"vendor": m.group(2).lower(), "product": m.group(3).lower()}
            self.last = m.group(1)
            return
        m = _STR.search(msg)
        if m:
            key = {"Product": "model", "Manufacturer": "vendor_name",
                   "SerialNumber": "serial"}[m.group(2)]
            self.ports.setdefault(m.group(1), {})[key] = m.group(3).strip()[:128]
            return
        m = _STORAGE.search(msg)
        port = m.group(1) if m and any(s in msg for s in _STORAGE_OK) else None
        if port is None and self.last is not None and _UAS.search(msg):
            port = self.last
        if port is not None:
            p = self.ports.get(port, {})
            scan.media.append(MediaEvent(serial=p.get("serial"), source=where, time=when,
                                         vendor=p.get("vendor"), product=p.get("product"),
                                         vendor_name=p.get("vendor_name"), model=p.get("model"),
                                         bus_id=port))
            return
        m = _REGISTER.search(msg)
        if m:
            scan.net.append(NetEvent(driver=m.group(4), source=where, time=when, bus_id=m.group(2),
                                     interface=m.group(3), mac=m.group(6).lower(),
                                     what=m.group(5)[:120]))
            return
        m = _IPHETH.search(msg)
        if m:
            scan.net.append(NetEvent(driver="ipheth", source=where, time=when, bus_id=m.group(1),
                                     what="Apple iPhone USB Ethernet device"))
            return
        for rx in _WIFI:
            m = rx.search(msg)
            if m:
                g = m.groups()
                peer = g[1] if len(g) > 1 and re.fullmatch(r"[0-9a-f:]{17}", g[1] or "") else None
                ssid = g[1] if len(g) > 1 and peer is None else None
                scan.wifi.append(WifiEvent(interface=g[0], source=where, time=when, peer=peer,
                                           ssid=ssid, line=msg[:300]))
                return


def _split_syslog(line: str) -> tuple[str | None, str]:
    """(time as written, the message) of a syslog line; the kernel's own
    [seconds] stamp is dropped from kernel messages."""
    if line[:4].isdigit():                       # RFC 3339 (rsyslog's high precision)
        when, _, rest = line.partition(" ")
    elif len(line) > 15 and line[3] == " ":      # "Dec  7 10:15:01 host prog: msg"
        when, rest = line[:15], line[16:]
    else:
        return None, _KSTAMP.sub("", line)       # dmesg's own format
    _host, _, rest = rest.partition(" ")
    _prog, sep, msg = rest.partition(": ")
    msg = msg if sep else rest
    return when, _KSTAMP.sub("", msg)


def log_files(root: Root) -> list[str]:
    """var/log's kernel and system logs, oldest rotation first."""
    names = root.listdir("var/log")
    out = []
    for base in LOG_BASES:
        mine = [n for n in names if n == base or re.fullmatch(re.escape(base) + r"\.\d+(\.gz)?", n)]

        def age(n: str) -> int:
            m = re.search(r"\.(\d+)(?:\.gz)?$", n)
            return int(m.group(1)) if m else 0
        out += [f"var/log/{n}" for n in sorted(mine, key=age, reverse=True)]
    return out


def read_files(root: Root, scan: Scan, files: list[str]) -> None:
    for rel in files:
        where = "/" + rel
        path = root.abs(root.resolve(rel) or rel)
        try:
            if not os.path.isfile(path):
                raise OSError("not a regular file")
            opener = gzip.open if rel.endswith(".gz") else open
            ports = _Ports()
            budget = MAX_BYTES
            with opener(path, "rt", encoding="utf-8", errors="replace") as fh:
                for n, line in enumerate(fh, 1):
                    budget -= len(line)
                    if budget < 0:
                        scan.problems.append(HostProblem(
                            "logs", where, f"read up to {MAX_BYTES >> 20} MiB (decompressed); "
                                           f"the rest was not read",
                            f"只读取了前 {MAX_BYTES >> 20} MiB（解压后），其余未读取"))
                        break
                    scan.lines += 1
                    if not any(h in line for h in _HINT):
                        continue
                    when, msg = _split_syslog(line[:MAX_LINE].rstrip("\n"))
                    ports.feed(scan, msg, f"{where}:{n}", when)
            scan.read.append(where)
        except (OSError, EOFError, gzip.BadGzipFile, ValueError) as exc:
            why = exc.strerror if isinstance(exc, OSError) and exc.strerror else str(exc)
            scan.problems.append(HostProblem("logs", where, f"cannot be read: {why[:200]}",
                                             f"无法读取：{why[:200]}"))


def journal_dirs(root: Root) -> list[str]:
    return [d for d in ("var/log/journal", "run/log/journal") if root.isdir(d)]


def read_journal(root: Root, scan: Scan, rel: str, journalctl: str | None = None) -> None:
    """The journal directory's messages through `journalctl -D DIR -o json`
    (journalctl reads the files; nothing is written under DIR)."""
    where = "/" + rel
    tool = journalctl or shutil.which("journalctl")
    if tool is None:
        scan.problems.append(HostProblem(
            "journal", where, "journalctl is not installed: the journal was not read "
                              "(install systemd's journalctl to read it)",
            "未安装 journalctl：journal 未读取（安装 systemd 的 journalctl 后可读取）"))
        return
    path = root.abs(root.resolve(rel) or rel)
    try:
        proc = subprocess.Popen([tool, "-D", path, "-o", "json", "--no-pager",
                                 "--output-fields=MESSAGE"],
                                stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    except OSError as exc:
        scan.problems.append(HostProblem("journal", where, f"journalctl failed: {exc}",
                                         f"journalctl 运行失败：{exc}"))
        return
    ports = _Ports()
    n = 0
    try:
        for raw in proc.stdout:
            n += 1
            scan.lines += 1
            if not any(h.encode() in raw for h in _HINT):
                continue
            try:
                e = json.loads(raw)
            except ValueError:
                continue
            msg = e.get("MESSAGE")
            if isinstance(msg, list):                  # non-UTF-8 bytes come as numbers
                msg = bytes(x for x in msg if isinstance(x, int) and 0 <= x < 256).decode(
                    "utf-8", "replace")
            if not isinstance(msg, str):
                continue
            ts = e.get("__REALTIME_TIMESTAMP")
            when = None
            if isinstance(ts, str) and ts.isdigit():
                when = datetime.fromtimestamp(int(ts) / 1e6, timezone.utc).strftime(
                    "%Y-%m-%dT%H:%M:%SZ")
            ports.feed(scan, _KSTAMP.sub("", msg[:MAX_LINE]), f"{where} (journal entry {n})", when)
        err = proc.stderr.read(4096).decode("utf-8", "replace").strip()
        rc = proc.wait(timeout=JOURNAL_TIMEOUT)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
        proc.stdout.close()
        proc.stderr.close()
    if rc != 0 or (n == 0 and err):
        first = err.splitlines()[0][:200] if err else ""
        scan.problems.append(HostProblem("journal", where, f"journalctl exited {rc}: {first}",
                                         f"journalctl 退出码 {rc}：{first}"))
        return
    scan.read.append(where + " (journal)")


def read_all(root: Root, journalctl: str | None = None) -> Scan:
    scan = Scan()
    read_files(root, scan, log_files(root))
    for d in journal_dirs(root):
        read_journal(root, scan, d, journalctl)
    return scan
