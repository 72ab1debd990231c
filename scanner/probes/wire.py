"""The raw wire, shared by the L2 probes: privileges, one send socket, one
listening socket opened before the first frame goes out, one shared wait.

Frames are built once with scapy and sent as bytes on a plain AF_PACKET
socket (explicit interface, explicit source MAC and IP: a vantage without a
default route would otherwise get 00:00:00:00:00:00 / 0.0.0.0 from scapy).
Every destination passes the plan's scope guard before its frame is built.
"""
from __future__ import annotations

import errno
import os
import re
import select
import socket
import struct
import time
from typing import Callable, Iterable

from scanner.model import text


def checksum(data: bytes) -> int:
    """The Internet checksum (RFC 1071) of data: IPv4 headers, ICMP, and TCP
    and UDP over their pseudo-header, as the frames this project builds need."""
    if len(data) % 2:
        data += b"\0"
    total = sum(struct.unpack(f"!{len(data) // 2}H", data))
    while total >> 16:
        total = (total & 0xFFFF) + (total >> 16)
    return ~total & 0xFFFF

CAP_NET_RAW = 13
ETH_P_ALL = 0x0003


class ProbeError(Exception):
    """A probe could not run; `message` is a Text (zh-CN + en)."""

    def __init__(self, message):
        self.message = message
        super().__init__(message.get("en") if isinstance(message, dict) else str(message))


def _cap_eff() -> int:
    try:
        with open("/proc/self/status", encoding="ascii") as f:
            for line in f:
                if line.startswith("CapEff:"):
                    return int(line.split()[1], 16)
    except OSError:   # unreadable: no capability assumed, so privileges() fails (closed)
        pass
    return 0


def privileges() -> dict:
    """{"ok": bool, "error": Text|None}: raw sockets need CAP_NET_RAW (root has it)."""
    if _cap_eff() & (1 << CAP_NET_RAW):
        # the capability bit alone is not proof: open a raw socket as nmap and scapy will
        try:
            s = socket.socket(socket.AF_PACKET, socket.SOCK_RAW, socket.htons(ETH_P_ALL))
            s.close()
            return {"ok": True, "error": None}
        except OSError as exc:
            why = str(exc)
    else:
        why = f"euid {os.geteuid()}, CapEff without CAP_NET_RAW"
    return {"ok": False, "error": text(
        f"缺少原始套接字权限：需要 root 或 CAP_NET_RAW 能力（{why}）",
        f"no raw-socket privilege: run as root or grant CAP_NET_RAW ({why})")}


def require_privileges():
    p = privileges()
    if not p["ok"]:
        raise ProbeError(p["error"])


def iface_up(iface: str) -> bool:
    try:
        with open(f"/sys/class/net/{iface}/operstate", encoding="ascii") as f:
            state = f.read().strip()
        with open(f"/sys/class/net/{iface}/flags", encoding="ascii") as f:
            flags = int(f.read().strip(), 16)
    except OSError:
        return False
    return bool(flags & 0x1) and state in ("up", "unknown")


def require_l2(vantage):
    """The L2 probes need an Ethernet-like interface with a hardware address."""
    if not vantage.mac or vantage.mac == "00:00:00:00:00:00":
        raise ProbeError(text(f"接口 {vantage.interface} 没有硬件（MAC）地址，无法进行二层探测",
                              f"interface {vantage.interface} has no hardware (MAC) address: "
                              "layer-2 probes cannot run"))


def require_up(iface: str):
    if not iface_up(iface):
        raise ProbeError(text(f"接口 {iface} 未启用（down）或无载波",
                              f"interface {iface} is down or has no carrier"))


class Frame:
    """A received frame: its bytes, dissected by scapy only when a layer is
    asked for (`ARP in f`, `f[IP]`). Dissection costs about 1 ms a frame; a
    /22 answers ARP a few thousand times, and most frames are read only by
    the byte-level fast paths (arp_fields)."""
    __slots__ = ("raw", "_pkt")

    def __init__(self, raw: bytes):
        self.raw = raw
        self._pkt = None

    def pkt(self):
        if self._pkt is None:
            import scapy.layers.inet  # noqa: F401  (registers IP's layers under Ether)
            from scapy.layers.l2 import Ether
            self._pkt = Ether(self.raw)
        return self._pkt

    def __contains__(self, layer) -> bool:
        return layer in self.pkt()

    def __getitem__(self, layer):
        return self.pkt()[layer]

    def __getattr__(self, name):
        return getattr(self.pkt(), name)

    def __bytes__(self) -> bytes:
        return self.raw


ETHER_ARP = b"\x08\x06"
ETHER_IP = b"\x08\x00"


ETHER_IP6 = b"\x86\xdd"
ICMP6_NS, ICMP6_NA = 135, 136


def ns_frame(src_mac: str, src_ip: str, target: str) -> bytes:
    """A neighbour solicitation for `target` (RFC 4861 §4.3), to its
    solicited-node multicast group, with our link-layer address option;
    built with struct, as the ARP frames are."""
    import ipaddress
    mac = bytes.fromhex(src_mac.replace(":", ""))
    tgt = ipaddress.IPv6Address(target).packed
    src = ipaddress.IPv6Address(src_ip).packed
    dst = ipaddress.IPv6Address("ff02::1:ff00:0").packed[:13] + tgt[13:]
    body = struct.pack("!BBHI", ICMP6_NS, 0, 0, 0) + tgt + b"\x01\x01" + mac
    pseudo = src + dst + struct.pack("!I3xB", len(body), 58)
    body = body[:2] + struct.pack("!H", checksum(pseudo + body)) + body[4:]
    ip6 = struct.pack("!IHBB", 6 << 28, len(body), 58, 255) + src + dst
    return b"\x33\x33" + dst[12:] + mac + ETHER_IP6 + ip6 + body


def na_fields(frame) -> tuple[str, str] | None:
    """(target address, sender MAC) of a neighbour advertisement, read from
    its bytes; None for anything else. The MAC is the frame's source (what
    answered on this link), not a target link-layer option it may claim."""
    import ipaddress
    raw = frame.raw if isinstance(frame, Frame) else bytes(frame)
    if len(raw) < 14 + 40 + 24 or raw[12:14] != ETHER_IP6 or raw[20] != 58 \
            or raw[54] != ICMP6_NA or raw[21] != 255:
        return None                      # (hop limit 255: from this link, RFC 4861 §7.1.2)
    mac = ":".join(f"{b:02x}" for b in raw[6:12])
    return str(ipaddress.IPv6Address(raw[62:78])), mac


def arp_fields(frame) -> tuple[int, str, str, str] | None:
    """(op, sender MAC, sender IP, target IP) of an Ethernet ARP frame, read
    from its bytes; None for anything else."""
    raw = frame.raw if isinstance(frame, Frame) else bytes(frame)
    if len(raw) < 42 or raw[12:14] != ETHER_ARP or raw[14:20] != b"\x00\x01\x08\x00\x06\x04":
        return None
    return (int.from_bytes(raw[20:22], "big"), raw[22:28].hex(":"), socket.inet_ntoa(raw[28:32]),
            socket.inet_ntoa(raw[38:42]))


def is_ipv4(frame) -> bool:
    raw = frame.raw if isinstance(frame, Frame) else bytes(frame)
    return raw[12:14] == ETHER_IP


class SendError(OSError):
    """A frame could not be sent (the queue stayed full, or the device said
    no): an error of the probe that sent it, never a silence."""


def send_frame(out: socket.socket, frame: bytes, attempts: int = 50) -> None:
    """Send one frame on an AF_PACKET socket, waiting out a full queue a few
    milliseconds at a time (EAGAIN of a non-blocking socket, ENOBUFS of a
    queue discipline that dropped it). A queue still full after `attempts`
    tries, or any other error, is SendError: the probe is then an error,
    since an unsent probe gets no answer and silence would read as a pass."""
    for attempt in range(attempts):
        try:
            out.send(frame)
            return
        except BlockingIOError as exc:
            if attempt == attempts - 1:
                raise SendError(exc.errno, f"send queue still full after {attempts} tries "
                                           f"(EAGAIN): the frame was not sent") from exc
            time.sleep(0.001)
        except OSError as exc:
            if exc.errno != errno.ENOBUFS:
                raise SendError(exc.errno, f"{exc.strerror or exc}: the frame was not sent") from exc
            if attempt == attempts - 1:
                raise SendError(exc.errno, f"no buffer space after {attempts} tries "
                                           f"(ENOBUFS: the device's queue dropped it): "
                                           "the frame was not sent") from exc
            time.sleep(0.002)


class Burst:
    """Open the listener, send many frames, wait once, hand back what came.

        with Burst(iface, bpf) as b:
            b.send(frames)
            replies = b.collect(wait=1.0, done=lambda got: ...)
    """

    def __init__(self, iface: str, bpf: str):
        from scanner.probes.rawsock import CaptureSocket
        self.iface = iface
        require_up(iface)
        try:
            # no scapy here: the listener opens in milliseconds, before nmap's first frame
            self.listen = CaptureSocket(iface, bpf)
        except PermissionError as exc:
            raise ProbeError(text(f"无法打开抓包套接字（需要 CAP_NET_RAW）：{exc}",
                                  f"cannot open a capture socket (CAP_NET_RAW needed): {exc}"))
        self.out = socket.socket(socket.AF_PACKET, socket.SOCK_RAW, socket.htons(ETH_P_ALL))
        self.out.bind((iface, 0))
        self.sent = 0
        self.unsent = 0
        self.got: list = []

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()

    def close(self):
        for s in (getattr(self, "out", None), getattr(self, "listen", None)):
            try:
                s and s.close()
            except Exception:   # closing after the probe is done: cannot change what it saw
                pass

    def send(self, frames: Iterable[bytes], pps: int = 0):
        gap = 1.0 / pps if pps else 0.0
        for fr in frames:
            try:
                send_frame(self.out, fr)
            except OSError as exc:
                # the whole probe is an error (its section says so): what was
                # not sent can get no answer, and no answer must not read as a pass
                self.unsent += 1
                raise ProbeError(text(
                    f"在 {self.iface} 上发送失败（已发送 {self.sent} 个帧，第 {self.sent + 1} 个未能发出）：{exc}",
                    f"sending on {self.iface} failed ({self.sent} frames sent, frame "
                    f"{self.sent + 1} could not be): {exc}"))
            self.sent += 1
            if gap:
                time.sleep(gap)
            elif self.sent % 256 == 0:    # keep the receive buffer from overflowing
                self.drain()

    def _recv(self):
        data = self.listen.recv()
        return Frame(data) if data else None

    def drain(self):
        """Pull what has already arrived (keeps the socket buffer small)."""
        while True:
            r, _, _ = select.select([self.listen], [], [], 0)
            if not r:
                return
            p = self._recv()
            if p is not None:
                self.got.append(p)

    def collect(self, wait: float, done: Callable[[list], bool] | None = None) -> list:
        deadline = time.monotonic() + wait
        self.drain()
        while not (done and done(self.got)):
            left = deadline - time.monotonic()
            if left <= 0:
                break
            r, _, _ = select.select([self.listen], [], [], min(left, 0.05))
            if r:
                p = self._recv()
                if p is not None:
                    self.got.append(p)
        self.drain()
        return self.got


# -- the solicit-and-listen probes (DHCP, router advertisements) --------------
# They use scapy's L2 socket (conf.L2socket with a BPF filter) and record
# their wire problems as plain strings in their section instead of raising.

RTTVAR_NOTE = re.compile(
    r"RTTVAR has grown to over [0-9.]+ seconds, decreasing to [0-9.]+\Z")


def check_nmap(nm) -> None:
    """ProbeError when python-nmap's scanner reports an error of nmap's
    (nmap says it in scaninfo instead of failing): never read as "nothing found"."""
    info = nm.scaninfo() or {}
    if info.get("error"):
        errs = info["error"]
        lines = [ln.strip() for e in (errs if isinstance(errs, list) else [errs])
                 for ln in str(e).splitlines() if ln.strip()]
        # nmap's own timing note on a loaded link ("RTTVAR has grown to over 2.3
        # seconds, decreasing to 2.0"): it adjusts and goes on, every result
        # stands; python-nmap files it under errors. Any other line is an error.
        lines = [ln for ln in lines if not RTTVAR_NOTE.match(ln)]
        if lines:
            msg = "; ".join(dict.fromkeys(lines))
            raise ProbeError(text(f"nmap 报错：{msg}", f"nmap reported an error: {msg}"))


def open_error(iface: str, exc: BaseException) -> str:
    """A section's error when its raw socket (or what it needed first) could not be had."""
    if isinstance(exc, PermissionError):
        return f"cannot open a raw socket on {iface}: {exc} (needs root or CAP_NET_RAW)"
    return f"cannot open a raw socket on {iface}: {type(exc).__name__}: {exc}"


def send_error(iface: str, exc: OSError, what: str) -> str:
    """A section's error when `what` (e.g. "DHCP probe") failed on the wire."""
    if isinstance(exc, PermissionError):
        return f"cannot send on {iface}: {exc} (needs root or CAP_NET_RAW)"
    return f"{what} on {iface} failed: {exc}"


def solicit_window(sock, send: Callable[[], None], feed: Callable[[object], None],
                   wait: float, repeat: bool = True) -> None:
    """send(), then hand every frame that `sock` receives in the next `wait`
    seconds to feed(); with `repeat`, send() once more half-way through the
    window, in case the first was lost. A frame scapy cannot dissect is
    skipped; an OSError of send() or of the socket propagates."""
    send()
    start = time.monotonic()
    deadline = start + wait
    resend_at = start + wait / 2 if repeat else None
    while True:
        now = time.monotonic()
        if now >= deadline:
            break
        if resend_at is not None and now >= resend_at:
            send()
            resend_at = None
        until = deadline if resend_at is None else min(deadline, resend_at)
        ready, _, _ = select.select([sock], [], [], max(0.0, until - now))
        if not ready:
            continue
        try:
            got = sock.recv()
        except Exception:   # a frame scapy cannot dissect
            continue
        if got is not None:
            feed(got)
