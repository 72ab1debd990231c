"""Small wire helpers for lab self-tests: Python run inside a lab host.

Independent of the scanner: plain sockets, raw ICMP, and scapy for ARP,
DHCP and router solicitations. Each helper returns plain data.
"""
from __future__ import annotations

import json
import sys
import textwrap

PY = sys.executable


def run_py(lab, host: str, code: str, timeout: float = 30) -> dict | list:
    r = lab.exec(host, [PY, "-c", textwrap.dedent(code)], timeout=timeout)
    assert r.returncode == 0, f"{host}: {r.stderr[-2000:]}"
    return json.loads(r.stdout.strip().splitlines()[-1])


def tcp(lab, host: str, dst: str, port: int, timeout: float = 3.0) -> str | None:
    """The first line a TCP service at dst:port sends, or None when nothing answers."""
    return run_py(lab, host, f"""
        import json, socket
        try:
            s = socket.create_connection(({dst!r}, {port}), timeout={timeout})
            s.settimeout({timeout}); print(json.dumps(s.recv(200).decode()))
        except OSError:
            print(json.dumps(None))
        """)


def udp(lab, host: str, dst: str, port: int, payload: bytes = b"isoscan-lab-test",
        timeout: float = 1.0, ttl: int | None = None) -> str | None:
    return run_py(lab, host, f"""
        import json, socket
        s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM); s.settimeout({timeout})
        if {ttl!r} is not None: s.setsockopt(socket.IPPROTO_IP, socket.IP_TTL, {ttl!r})
        try:
            s.sendto({payload!r}, ({dst!r}, {port})); print(json.dumps(s.recv(500).decode("latin-1")))
        except OSError:
            print(json.dumps(None))
        """)


def ping(lab, host: str, dst: str, timeout: float = 1.0) -> str | None:
    """Source address of an ICMP echo reply from dst, or None."""
    return run_py(lab, host, f"""
        import json, os, socket, struct, time
        def csum(b):
            s = sum(struct.unpack("!%dH" % (len(b) // 2), b)); s = (s >> 16) + (s & 0xffff)
            return ~(s + (s >> 16)) & 0xffff
        ident = os.getpid() & 0xffff
        hdr = struct.pack("!BBHHH", 8, 0, 0, ident, 1) + b"isoscan-lab-ping"
        pkt = hdr[:2] + struct.pack("!H", csum(hdr)) + hdr[4:]
        s = socket.socket(socket.AF_INET, socket.SOCK_RAW, socket.IPPROTO_ICMP)
        s.settimeout(0.2); out = None
        try:
            s.sendto(pkt, ({dst!r}, 0))
        except OSError:
            print(json.dumps(None)); raise SystemExit
        end = time.time() + {timeout}
        while time.time() < end and out is None:
            try:
                data, addr = s.recvfrom(2000)
            except socket.timeout:
                continue
            ihl = (data[0] & 15) * 4
            t, _, _, i, _ = struct.unpack("!BBHHH", data[ihl:ihl + 8])
            if t == 0 and i == ident:
                out = addr[0]
        print(json.dumps(out))
        """)


def arp(lab, host: str, iface: str, ips: list[str]) -> dict:
    """{ip: mac} of every ARP reply for ips on iface (scapy)."""
    return run_py(lab, host, f"""
        import json
        from scapy.all import ARP, Ether, srp, conf
        conf.verb = 0
        ans, _ = srp(Ether(dst="ff:ff:ff:ff:ff:ff") / ARP(pdst={ips!r}), iface={iface!r},
                     timeout=1.5, retry=2)
        print(json.dumps({{r.psrc: r.hwsrc for _, r in ans}}))
        """)


def dhcp_offers(lab, host: str, iface: str, wait: float = 3.0) -> list[dict]:
    """Every DHCPOFFER to a discovery (fixed local client MAC, broadcast flag)."""
    return run_py(lab, host, f"""
        import json, time
        from scapy.all import (BOOTP, DHCP, IP, UDP, Ether, AsyncSniffer, conf, sendp)
        conf.verb = 0; conf.checkIPaddr = False
        mac = "02:1a:b0:00:00:01"; chaddr = bytes.fromhex(mac.replace(":", ""))
        import threading; ready = threading.Event()
        sn = AsyncSniffer(iface={iface!r}, filter="udp and (port 67 or port 68)",
                          started_callback=ready.set)
        sn.start(); ready.wait(5); time.sleep(0.1)
        sendp(Ether(src=mac, dst="ff:ff:ff:ff:ff:ff") / IP(src="0.0.0.0", dst="255.255.255.255")
              / UDP(sport=68, dport=67) / BOOTP(chaddr=chaddr, xid=0x1234, flags=0x8000)
              / DHCP(options=[("message-type", "discover"), "end"]), iface={iface!r})
        time.sleep({wait}); pkts = sn.stop() or []
        out = []
        for p in pkts:
            if DHCP in p and p[BOOTP].op == 2:
                opts = {{o[0]: o[1] for o in p[DHCP].options if isinstance(o, tuple)}}
                if opts.get("message-type") == 2:
                    out.append({{"server_id": opts.get("server_id"), "src_mac": p[Ether].src,
                                "src_ip": p[IP].src, "yiaddr": p[BOOTP].yiaddr,
                                "router": opts.get("router")}})
        print(json.dumps(out))
        """)


def router_adverts(lab, host: str, iface: str, wait: float = 3.0) -> list[dict]:
    """Every router advertisement answering a solicitation to ff02::2."""
    return run_py(lab, host, f"""
        import json, time
        from scapy.all import (ICMPv6ND_RA, ICMPv6ND_RS, ICMPv6NDOptPrefixInfo, IPv6, Ether,
                               AsyncSniffer, conf, sendp, get_if_hwaddr)
        conf.verb = 0
        import threading; ready = threading.Event()
        sn = AsyncSniffer(iface={iface!r}, filter="icmp6", started_callback=ready.set)
        sn.start(); ready.wait(5); time.sleep(0.1)
        sendp(Ether(dst="33:33:00:00:00:02", src=get_if_hwaddr({iface!r}))
              / IPv6(dst="ff02::2", hlim=255) / ICMPv6ND_RS(), iface={iface!r})
        time.sleep({wait}); pkts = sn.stop() or []
        out = []
        for p in pkts:
            if ICMPv6ND_RA in p:
                pi = p.getlayer(ICMPv6NDOptPrefixInfo)
                out.append({{"src_ip": p[IPv6].src, "src_mac": p[Ether].src,
                            "lifetime": p[ICMPv6ND_RA].routerlifetime,
                            "prefix": pi.prefix if pi is not None else None}})
        print(json.dumps(out))
        """)


class Route:
    """A temporary host route on a lab host: `with Route(lab, h, dst, via): ...`."""

    def __init__(self, lab, host: str, dst: str, via: str):
        self.lab, self.host, self.dst, self.via = lab, host, dst, via

    def __enter__(self):
        r = self.lab.exec(self.host, ["ip", "route", "replace", self.dst, "via", self.via])
        assert r.returncode == 0, r.stderr
        return self

    def __exit__(self, *exc):
        self.lab.exec(self.host, ["ip", "route", "del", self.dst])
