"""A capture socket without scapy: AF_PACKET, a BPF filter compiled by
libpcap (through ctypes, as scapy itself does), promiscuous like scapy's.

Importing scapy costs about 1.2 s of one core; a listener that has to wait
for it opens after nmap has sent its ARP sweep (its answers are then lost to
the listener) and a DHCP window opens that much later. This one opens in a
few milliseconds. Frames are read as bytes (wire.Frame dissects them with
scapy only when a layer is asked for). Frames this host sent itself
(PACKET_OUTGOING) are dropped, as scapy's sockets drop them.
"""
from __future__ import annotations

import ctypes
import ctypes.util
import functools
import socket
import struct

ETH_P_ALL = 0x0003
SOL_PACKET = 263
PACKET_ADD_MEMBERSHIP = 1
PACKET_MR_PROMISC = 1
SO_ATTACH_FILTER = 26
PACKET_OUTGOING = 4
DLT_EN10MB = 1
PCAP_NETMASK_UNKNOWN = 0xFFFFFFFF
RCVBUF = 8 << 20


class _Insn(ctypes.Structure):
    _fields_ = [("code", ctypes.c_ushort), ("jt", ctypes.c_ubyte), ("jf", ctypes.c_ubyte),
                ("k", ctypes.c_uint32)]


class _Program(ctypes.Structure):
    _fields_ = [("bf_len", ctypes.c_uint), ("bf_insns", ctypes.POINTER(_Insn))]


def _pcap_names():
    """The usual sonames first; only when none loads, ask ldconfig (find_library
    runs `ldconfig -p`, 60 ms: a scan's listener opens before nmap starts)."""
    yield from ("libpcap.so.0.8", "libpcap.so.1", "libpcap.so")
    found = ctypes.util.find_library("pcap")
    if found:
        yield found


@functools.lru_cache(maxsize=1)
def _libpcap():
    for name in _pcap_names():
        try:
            lib = ctypes.CDLL(name)
        except OSError:
            continue
        lib.pcap_open_dead.restype = ctypes.c_void_p
        lib.pcap_open_dead.argtypes = [ctypes.c_int, ctypes.c_int]
        lib.pcap_compile.restype = ctypes.c_int
        lib.pcap_compile.argtypes = [ctypes.c_void_p, ctypes.POINTER(_Program), ctypes.c_char_p,
                                     ctypes.c_int, ctypes.c_uint32]
        lib.pcap_geterr.restype = ctypes.c_char_p
        lib.pcap_geterr.argtypes = [ctypes.c_void_p]
        lib.pcap_freecode.argtypes = [ctypes.POINTER(_Program)]
        lib.pcap_close.argtypes = [ctypes.c_void_p]
        return lib
    raise OSError("libpcap is not available: cannot compile a capture filter")


@functools.lru_cache(maxsize=64)
def compile_filter(expr: str) -> bytes:
    """The classic BPF program for `expr` on Ethernet, as packed instructions."""
    lib = _libpcap()
    p = lib.pcap_open_dead(DLT_EN10MB, 65535)
    if not p:
        raise OSError("pcap_open_dead failed")
    prog = _Program()
    try:
        if lib.pcap_compile(p, ctypes.byref(prog), expr.encode("utf-8"), 1,
                            PCAP_NETMASK_UNKNOWN) != 0:
            raise ValueError(f"bad capture filter {expr!r}: "
                             f"{(lib.pcap_geterr(p) or b'').decode('utf-8', 'replace')}")
        try:
            return ctypes.string_at(prog.bf_insns, prog.bf_len * ctypes.sizeof(_Insn))
        finally:
            lib.pcap_freecode(ctypes.byref(prog))
    finally:
        lib.pcap_close(p)


class CaptureSocket:
    """A filtered, promiscuous AF_PACKET capture socket on one interface.
    `recv()` gives the bytes of the next incoming frame, None when nothing
    is waiting or the frame was one this host sent."""

    def __init__(self, iface: str, bpf: str, promisc: bool = True):
        code = compile_filter(bpf)
        # protocol 0: nothing is queued before the filter is attached and bound
        self.ins = socket.socket(socket.AF_PACKET, socket.SOCK_RAW, 0)
        try:
            buf = ctypes.create_string_buffer(code, len(code))
            fprog = struct.pack("HL", len(code) // 8, ctypes.addressof(buf))
            self.ins.setsockopt(socket.SOL_SOCKET, SO_ATTACH_FILTER, fprog)
            if promisc:
                mreq = struct.pack("IHH8s", socket.if_nametoindex(iface), PACKET_MR_PROMISC, 0, b"")
                self.ins.setsockopt(SOL_PACKET, PACKET_ADD_MEMBERSHIP, mreq)
            self.ins.bind((iface, ETH_P_ALL))
            try:
                self.ins.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, RCVBUF)
            except OSError:
                pass
            self.ins.setblocking(False)
        except BaseException:
            self.ins.close()
            raise

    def fileno(self) -> int:
        return self.ins.fileno()

    def recv(self) -> bytes | None:
        try:
            data, addr = self.ins.recvfrom(65535)
        except (BlockingIOError, InterruptedError):
            return None
        if not data or addr[2] == PACKET_OUTGOING:
            return None
        return data

    def close(self) -> None:
        self.ins.close()
