"""UDP queries to the stations of the vantage's own link, sent as Ethernet
frames to the MAC discovery saw answer for each address.

The identity step asks every station found (NBSTAT, mDNS, LLMNR, SNMP). Sent
through the kernel, each datagram to a new address makes the kernel resolve
it: one neighbour entry a station, and Linux's default table holds 1,024 in
all (gc_thresh3), so a /22 of 1,000 stations fills it and ARP starts failing
for the rest of the scan and after. Framed here, at layer 2, to the MAC
already known, the kernel resolves nothing. The answers still come to a
kernel UDP socket bound to the same source port (which also keeps the kernel
from answering them with ICMP port-unreachable).
"""
from __future__ import annotations

import contextlib
import errno
import os
import socket
import struct

from scanner.probes.wire import checksum, send_frame


SO_BINDTODEVICE = getattr(socket, "SO_BINDTODEVICE", 25)


@contextlib.contextmanager
def link_socket(iface: str, src: str, macs: dict | None = None):
    """(socket, sender) for UDP queries to the stations of `iface`'s link: a
    non-blocking UDP socket bound to the device and to `src` (the answers come
    to it), and an L2Sender framing each query to the MAC in `macs`. Both are
    closed when the block ends."""
    sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    sender = None
    try:
        sock.setsockopt(socket.SOL_SOCKET, SO_BINDTODEVICE, iface.encode() + b"\0")
        sock.bind((src, 0))
        sock.setblocking(False)
        sender = L2Sender(sock, iface, macs or {})
        yield sock, sender
    finally:
        if sender is not None:
            sender.close()
        sock.close()


class L2Sender:
    """sendto(data, (ip, port)) from `sock`'s own address and port, framed to
    macs[ip]; an address with no known MAC goes through the kernel as before."""

    def __init__(self, sock: socket.socket, iface: str, macs: dict[str, str | None]):
        self.sock = sock
        self.src_ip, self.sport = sock.getsockname()[:2]
        self.macs = {ip: m for ip, m in (macs or {}).items() if m}
        self.out = None
        if self.macs:
            with open(f"/sys/class/net/{iface}/address", encoding="ascii") as fh:
                self.src_mac = bytes.fromhex(fh.read().strip().replace(":", ""))
            self.out = socket.socket(socket.AF_PACKET, socket.SOCK_RAW)
            self.out.bind((iface, 0))

    def frame(self, data: bytes, dst_ip: str, dport: int, dst_mac: str) -> bytes:
        src, dst = socket.inet_aton(self.src_ip), socket.inet_aton(dst_ip)
        udp = struct.pack("!HHHH", self.sport, dport, 8 + len(data), 0) + data
        csum = checksum(src + dst + struct.pack("!BBH", 0, 17, len(udp)) + udp) or 0xFFFF
        udp = udp[:6] + struct.pack("!H", csum) + udp[8:]
        ip = struct.pack("!BBHHHBBH", 0x45, 0, 20 + len(udp), int.from_bytes(os.urandom(2), "big"),
                         0x4000, 64, 17, 0) + src + dst
        ip = ip[:10] + struct.pack("!H", checksum(ip)) + ip[12:]
        return bytes.fromhex(dst_mac.replace(":", "")) + self.src_mac + b"\x08\x00" + ip + udp

    def sendto(self, data: bytes, addr: tuple[str, int]) -> None:
        ip, port = addr
        mac = self.macs.get(ip)
        if mac is None or self.out is None:
            self.sock.sendto(data, addr)
            return
        send_frame(self.out, self.frame(data, ip, port, mac))

    def close(self) -> None:
        if self.out is not None:
            self.out.close()


UNREACHABLE = frozenset({errno.EHOSTUNREACH, errno.ENETUNREACH, errno.EHOSTDOWN,
                         errno.ECONNREFUSED})


def unreachable(exc: OSError) -> bool:
    """The station cannot be reached right now (an ICMP error of an earlier
    send, no neighbour): no answer, said by the network. Anything else (a
    full queue, ENOBUFS: the query was never sent) is the probe's error."""
    return exc.errno in UNREACHABLE
