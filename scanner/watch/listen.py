"""One capture socket per vantage interface, filtered in the kernel.

The classic BPF program (compiled by libpcap through scanner/probes/rawsock.py,
attached with SO_ATTACH_FILTER) passes only:

* ARP;
* ICMPv6 neighbour discovery: router solicitation and advertisement,
  neighbour solicitation and advertisement (types 133-136);
* IPv6 packets behind an extension header (hop-by-hop, routing, destination
  options, fragment): an advertisement hidden behind one (an RA-guard
  evasion) must still be seen; decode.py walks the chain;
* DHCPv4 (UDP 67/68) and DHCPv6 (UDP 546/547).

Everything else (a network's ordinary TCP and UDP traffic) is dropped by the
kernel before it is copied to this process: at 10,000 frames/s of ordinary
traffic the watch wakes only for the few frames that matter.
"""
from __future__ import annotations

from scanner.model import text
from scanner.probes.rawsock import CaptureSocket

FILTER = ("arp"
          " or (udp and (port 67 or port 68 or port 546 or port 547))"
          " or (icmp6 and ip6[40] >= 133 and ip6[40] <= 136)"
          " or (ip6 and (ip6[6] == 0 or ip6[6] == 43 or ip6[6] == 44 or ip6[6] == 60))")


class ListenError(Exception):
    """A segment cannot be listened on; `message` is a Text."""

    def __init__(self, message):
        self.message = message
        super().__init__(message["en"])


def open_capture(iface: str) -> CaptureSocket:
    try:
        return CaptureSocket(iface, FILTER)
    except PermissionError as exc:
        raise ListenError(text(f"无法在接口 {iface} 上监听（需要 root 或 CAP_NET_RAW）：{exc}",
                               f"cannot listen on {iface} (needs root or CAP_NET_RAW): {exc}"))
    except OSError as exc:
        raise ListenError(text(f"无法在接口 {iface} 上监听：{exc}",
                               f"cannot listen on {iface}: {exc}"))
