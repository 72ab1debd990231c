"""What probes saw: plain JSON-ready data, kept whole in the bundle.

Checks read observations and nothing else from the wire, so a stored bundle
can be re-judged later (a new check, a corrected mapping) without a new scan.

The shape (every address a string, every MAC normalised lower-case colon form):

    {
      "vantage": {"segment": "secret-lan", "interface": "eth0",
                  "ip": "10.10.0.5", "mac": "02:..", "ipv6": ["fe80::..", ...]},
      "privileges": {"ok": true, "error": null},      # root / CAP_NET_RAW
      "controls": {                                   # positive controls (fail closed)
        "ok": true, "error": null,
        "items": [{"kind": "arp", "target": "10.10.0.11", "ok": true,
                   "detail": "ARP reply from 10.10.0.11 at 02:.."}]
      },
      # every probe section below has "status": "ok" | "error" | "not-run",
      # "error": null | "why it could not run", plus its own data:
      "discovery":  {"status": .., "error": .., "method": "nmap -sn -PR",
                     "hosts": [{"ip": "10.10.0.11", "mac": "02:..", "via": "arp"}]},
      "forwarding": {"status": .., "error": .., "probes": [
                     {"via_ip": .., "via_mac": .., "dst": "203.0.113.10",
                      "dst_kind": "canary" | "segment", "dst_segment": "internet",
                      "proto": "icmp" | "tcp" | "udp", "port": 443 | null,
                      "ttl": 1 | 64,
                      "result": "time-exceeded" | "unreachable" | "answer" | "none",
                      "responder_ip": .., "responder_mac": .., "hop2": null | "ip",
                      "token": null | "..."}]},
      "egress":     {"status": .., "error": .., "probes": [
                     {"dst": .., "dst_kind": .., "dst_segment": .., "proto": ..,
                      "port": .., "result": "answer" | "refused" | "unreachable" | "none",
                      "responder_ip": .., "first_hop": null | "ip", "token": ..}]},
      "inbound":    {"status": .., "error": .., "probes": [
                     {"dst": .., "dst_segment": .., "proto": "tcp" | "udp",
                      "port": .., "state": "open" | "closed" | "filtered",
                      "banner": null | "..."}]},
      "dhcp":       {"status": .., "error": .., "offers": [
                     {"server_id": .., "src_ip": .., "src_mac": .., "yiaddr": ..,
                      "router": [..], "dns": [..], "lease": ..,
                      "subnet_mask": .., "hostname": null | "data", "domain": null | "data",
                      "count": 1}],
                     # also: "interface", "client_mac", "wait" (s), "discovers_sent",
                     # "truncated", "v6": {"status", "error", "src_ip", "solicits_sent"};
                     # offers carry "version": 4 | 6 (a missing version is 4); a
                     # DHCPv6 offer's server_id is the server's DUID, hex
                     # (see scanner/probes/dhcp.py)
                    },
      "ra":         {"status": .., "error": .., "adverts": [
                     {"src_ip": .., "src_mac": .., "router_lifetime": ..,
                      "prefixes": [{"prefix": .., "valid": .., "preferred": ..,
                                    "on_link": .., "autonomous": ..}],
                      "rdnss": [..],
                      "eth_src": .., "hop_limit": .., "managed": .., "other": ..,
                      "preference": .., "mtu": .., "rdnss_lifetime": .., "dnssl": [..],
                      "routes": [{"prefix": .., "lifetime": ..}],
                      "seen": ["solicited" | "passive"], "count": 1}],
                     # also: "interface", "src_ip" (of the solicitation), "wait" (s),
                     # "solicitations_sent", "truncated",
                     # "passive": {"status": "ok" | "error" | "not-run", "error": ..,
                     #             "seconds": ..}  (see scanner/probes/ra.py)
                    },
      "canary":     {"status": .., "error": .., "arrivals": [...]}   # from canary logs
      "canary_key": "64 hex digits"   # the per-scan HMAC key of the probes' tokens
    }

Additive fields the scan's probes also record (scanner/probes/*):
- "vantage": also "up" (the interface was up when the scan began); "plan": what
  was planned from this vantage (segment, classification, networks, control
  targets, remote targets, inbound targets) -- the scope of the scan.
- "controls.items": "kind": "arp" items also carry "device" and "macs" (every
  MAC that answered); on a non-classified vantage "kind": "canary" items say
  whether a canary answered the egress probes, with "first_hop".
- "discovery": also "networks"; "neighbours6": [{"ip", "mac", "via": "ndp",
  "scope": "link" | "segment" | "other"}] when the segment declares IPv6
  ("networks6"), or "neighbours6_error" when that probe failed. "hosts" are
  the IPv4 stations (ARP); the device checks judge both lists together, one
  station per MAC (scanner/judge/live.py hosts(), stations()): an IPv6-only
  station is judged like any other, and a failed IPv6 probe on a segment that
  declares IPv6 is an `error` of the device checks, never a pass.
  "notes" when nmap was replaced by the scapy ARP sweep. "every_mac": true when
  every MAC that answered for an address is in "hosts" (python-nmap keeps
  one: the forwarding listener's answers are added with "seen": "listener",
  or an ARP round for the registered addresses with "seen": "confirm");
  DEV-CONFLICT passes only then.
- "forwarding": also "method", "vias" (hosts probed through), "targets",
  "sent"; each probe "dst_name" (canary or device name); "ttl": 2 marks the
  second-round probes that found "hop2" (only behind hosts that answered
  time-exceeded at TTL 1).
- "forwarding": where the segment declares IPv6, the probe records also hold
  IPv6 ones (same fields, IPv6 "dst"/"via_ip"; "ttl" is the hop limit): sent
  through every host found by ND or ARP ("via_ip" its in-segment global
  address, else its link-local one), to the IPv6 canaries and one IPv6
  address of each other segment; "ipv6": {"status": "ok" | "not-run" |
  "error", "error", "src" (the vantage's declared or link-local address),
  "vias", "targets", "sent"}. A failed IPv6 round makes the section "error".
- "egress": also "interface" (every socket is bound to it and to the
  vantage's address); "elsewhere": [{"dst", "dev"}] targets this host's
  routing table would send out of another interface (not sent; the section
  is then "error"), "own_link": the same for targets on a segment this host
  has another address in (left out, nothing to judge); each probe also
  "dst_name" and "detail" (the socket's own words);
  "proto" is "dns" for the DNS query to port 53. Where the segment declares
  IPv6, also the IPv6 targets from the vantage's declared IPv6 address, and
  "ipv6": {"src", "targets", "note"} ("src" null: not probed, and why).
- "plan": also "remote6", the IPv6 targets; "claims", the registered IPv4
  addresses of the segments that must be isolated from this one.
- "forwarding": also "claims_asked" (how many of those were asked for by ARP
  on the link) and "claims": [{"ip", "segment", "device", "macs"}] (who
  answered for which); the probes sent for a claim (ICMP echo and TCP, full
  TTL, framed to the MAC that answered) carry "claim": true.
- "inbound": "status": "not-run" away from an internet vantage; also
  "method", "targets"; each probe "reason" (nmap's: syn-ack, reset,
  no-response, host-unreach from a router, ...). Every probed port is listed.
- "transfer_in": on the high side of a declared one-way transfer, what the
  passive listener saw arrive for this host: {"status", "error", "listened",
  "arrivals": [{"src_ip", "src_mac", "proto", "port", "token",
  "token_segment_tag", "token_via_mac"}]} (see scanner/probes/transfer.py);
  "not-run" elsewhere.
- "identity" (issue 13): what the stations discovery found on the vantage's
  own segment say they are: {"status", "error", "method", "targets",
  "ports": {"ssh", "tls", "udp"}, "identities": [{"ip", "mac", "kind",
  "value", "detail", "port", "strength", "note", "time"}], "clones",
  "asked_again", "udp_error", "started_at", "finished_at", "seconds"}; kinds and
  strengths in scanner/identity.py, the probe in scanner/probes/identity.py;
  "not-run" from an internet vantage. Judged across bundles by `report`
  (scanner/judge/crossbundle/identities.py), never a pass on its own.
- Section "error" strings are in the scan's --lang.

Tokens (scanner/canary/tokens.py): every forwarding and egress probe record keeps in
"token" the hex of the 33-byte token it carried (null when the probe carried
none); "canary_key" is the per-scan key that authenticates them. The outside
listener records what arrives without the key; `report` verifies arrivals
against the key of each bundle (scanner/judge/crossbundle/canary.py). Whoever holds the
bundle can mint tokens for that scan, so keep bundles as you keep the report.

A section that is missing is the same as "not-run". A check that needs a
section that did not run, or erred, reports `error` — never `pass`.
"""
from __future__ import annotations

from typing import Any, Mapping

OK = "ok"
ERROR = "error"
NOT_RUN = "not-run"


def section(obs: Mapping[str, Any], name: str) -> Mapping[str, Any]:
    """The named probe section, or a not-run stub."""
    s = obs.get(name)
    if not isinstance(s, Mapping):
        return {"status": NOT_RUN, "error": f"probe '{name}' did not run"}
    return s


def section_problem(obs: Mapping[str, Any], *names: str) -> str | None:
    """Why these sections cannot be judged, or None when all ran cleanly."""
    for name in names:
        s = section(obs, name)
        if s.get("status") != OK:
            return s.get("error") or f"probe '{name}' {s.get('status', NOT_RUN)}"
    return None


def controls_problem(obs: Mapping[str, Any]) -> str | None:
    """Why the positive control does not vouch for this vantage, or None.

    Isolation checks may pass only when the vantage has shown that its probes
    work: with privileges, and with something that must answer answering.
    """
    from scanner.observations.records import Controls, Privileges   # records import this module
    priv = Privileges.from_json(obs.get("privileges"))
    if not priv.ok:
        return priv.error or "privileges were not established"
    ctl = Controls.from_json(obs.get("controls"))
    if not ctl.ok:
        return ctl.error or "positive control did not succeed"
    return None
