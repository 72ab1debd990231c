"""Judging what the outside canary saw: bundles + canary logs -> findings.

Pure: no I/O. ``judge_arrivals(bundles, canary_logs, inventory)`` verifies
every arrival against the per-scan key of each bundle
(``observations["canary_key"]``, scanner/canary/tokens.py) and judges:

- a token from a **classified** vantage that arrived outside fails
  ISO-BRIDGE when a host on the segment carried it (the token's via MAC names
  the host, the inventory names the device) and ISO-PHYSICAL when it left
  by the vantage's own stack ("direct"), although the scan itself saw nothing;
- a token from a **non-classified** vantage that arrived from an address that
  is not one of the declared ingress's internet addresses fails ING-SINGLE
  (naming the carrying host, or the exit address for the vantage's own
  probes); one that arrived untranslated from an address inside the unit
  cannot tell its exit and is an ``error``;
- a canary log that saw nothing at all from a non-classified vantage whose
  probes were sent to it (the positive control) makes that vantage's
  ING-SINGLE an ``error`` (verdict incomplete), as does a bundle that carried
  no tokens when canary logs are given; a classified vantage whose tokens
  never arrived passes only when the same log proves it was listening (some
  non-classified vantage's token arrived there and the log is complete).

How arrivals are matched to probes: a token in a payload or a DNS name is
verified by its HMAC (the strong match). A TCP SYN carries no token: its
sequence number is matched to the forwarding probes' ``tcp_seq_for`` (32 bits
of the HMAC, also strong). A SYN whose sequence number is not ours but whose
source and destination port match an egress probe's (the kernel chose the
sequence number) is a weak match: it is shown in ``outside_view``, never
fails anything by itself, and keeps a classified vantage from passing (error).

``outside_view(...)`` gives the report's "what the outside saw" table data.
``attribute(arrival, sources)`` is the per-arrival hook of
scanner/report/merge.py.
"""
from __future__ import annotations

import datetime as _dt
from collections import defaultdict
from typing import Any, Iterable, Mapping, Sequence

from scanner.canary import tokens as T
from scanner.model.net import norm_ip, norm_mac, unmapped
from scanner.judge.registry import installed_ids, load_checks, not_installed
from scanner.model import (CLASSIFIED, INTERNET, NON_CLASSIFIED, CheckMeta, Finding,
                           Subject, error, fail, passed, text)

EVIDENCE_LIMIT = 10
TIME_SLACK = 30.0           # seconds around a scan in which a weak TCP match may fall


CANARY_CHECKS = ("ISO-PHYSICAL", "ISO-BRIDGE", "ING-SINGLE")
HOST_CHECK = "HOST-EGRESS"     # a computer's reach test (issue 26): only host vantages need it


def _metas() -> dict[str, CheckMeta]:
    """The METAs of the checks canary arrivals are judged for, from the registry
    (the installed entry points), the one place check metadata comes from."""
    reg = load_checks([cid for cid in (*CANARY_CHECKS, HOST_CHECK) if cid in installed_ids()])
    return {c.id: c.meta for c in reg.checks}


def _not_installed(missing: Sequence[str]) -> list[Finding]:
    """Fail closed: arrivals that cannot be judged for a check not installed are an error."""
    return [not_installed(cid, text("外部哨兵记录无法据此检查判定",
                                    "the canary arrivals cannot be judged for it"))
            for cid in missing]


# -- the inventory, from whatever the caller has ----------------------------------

class _Inv:
    """What judging needs of an inventory: segments' classification and
    ingress, devices by MAC, the ingress's internet addresses. Built from a
    model Inventory, a report "inventory view" or a raw SPEC §2 document."""

    def __init__(self, inventory: Any):
        self.segments: dict[str, dict] = {}
        self.devices: list[dict] = []
        if inventory is None:
            return
        if hasattr(inventory, "segments") and not isinstance(inventory, Mapping):
            for s in inventory.segments:
                self.segments[s.name] = {"classification": s.classification, "ingress": s.ingress,
                                         "networks": [str(n) for n in s.networks]}
            for d in inventory.devices:
                self.devices.append({"name": d.name, "interfaces": [
                    {"segment": i.segment, "ip": str(i.ip) if i.ip is not None else None,
                     "mac": _mac(i.mac)} for i in d.interfaces]})
            return
        if isinstance(inventory, Mapping):
            segs = inventory.get("segments")
            if isinstance(segs, Mapping):               # report_merge.inventory_view()
                seg_iter = list(segs.values())
            else:
                seg_iter = segs if isinstance(segs, list) else []
            for s in seg_iter:
                if isinstance(s, Mapping) and isinstance(s.get("name"), str):
                    self.segments[s["name"]] = {
                        "classification": _s(s.get("classification")),
                        "ingress": _s(s.get("ingress")),
                        "networks": [str(n) for n in _seq(s.get("networks"))]}
            for d in _seq(inventory.get("devices")):
                if not isinstance(d, Mapping):
                    continue
                ifs = d.get("interfaces") if isinstance(d.get("interfaces"), list) else [d]
                self.devices.append({"name": _s(d.get("name")), "interfaces": [
                    {"segment": _s(i.get("segment")), "ip": _s(i.get("ip")),
                     "mac": _mac(i.get("mac"))}
                    for i in ifs if isinstance(i, Mapping)]})

    @property
    def known(self) -> bool:
        return bool(self.segments)

    def classification(self, segment: str | None) -> str | None:
        s = self.segments.get(segment or "")
        return s.get("classification") if s else None

    def device_by_mac(self, mac: str | None) -> tuple[str | None, str | None]:
        """(device name, its IP) for a MAC, preferring an interface with an IP."""
        mac = _mac(mac)
        if mac is None:
            return None, None
        for d in self.devices:
            for i in d["interfaces"]:
                if i["mac"] == mac:
                    return d["name"], i["ip"]
        return None, None

    def ingress(self, segment: str | None) -> tuple[str | None, set[str]]:
        """(ingress device name, its addresses on internet segments)."""
        s = self.segments.get(segment or "")
        name = s.get("ingress") if s else None
        addrs: set[str] = set()
        for d in self.devices:
            if d["name"] == name:
                for i in d["interfaces"]:
                    if i["ip"] and self.classification(i["segment"]) == INTERNET \
                            and _norm_ip(i["ip"]) is not None:
                        addrs.add(_norm_ip(i["ip"]))
        return name, addrs

    def inside_unit(self, ip: str | None) -> bool:
        """ip lies in a declared segment that is not the internet."""
        if not ip:
            return False
        try:
            from netaddr import IPAddress, IPNetwork
            a = IPAddress(ip)
            for s in self.segments.values():
                if s.get("classification") == INTERNET:
                    continue
                for n in s.get("networks") or []:
                    net = IPNetwork(n)
                    if net.version == a.version and a in net:
                        return True
        except Exception:
            return False
        return False


# -- small helpers ------------------------------------------------------------------

def _s(v: Any) -> str | None:
    return None if v is None else str(v)


def _mac(v: Any) -> str | None:
    return norm_mac(v, strict=True)


def _norm_ip(v: Any) -> str | None:
    return unmapped(norm_ip(v, strict=True))


def _ts(v: Any) -> float | None:
    if not isinstance(v, str):
        return None
    try:
        return _dt.datetime.fromisoformat(v.replace("Z", "+00:00")).timestamp()
    except ValueError:
        return None


def _seq(v: Any) -> list:
    """A list from a log or bundle, or [] (tampered data is data, not a crash)."""
    return v if isinstance(v, list) else []


def _int(v: Any) -> int | None:
    return v if isinstance(v, int) and not isinstance(v, bool) else None


def _logs(canary_logs: Iterable[Any] | None, inventory: Any = None) -> list[tuple[str, Mapping]]:
    """(name, log) for each usable log; a path-keyed dict or a list is accepted.

    A log without a name is named after the declared canary whose address it
    listened on, else after its (non link-local) addresses."""
    out = []
    if canary_logs is None:
        return out
    if isinstance(canary_logs, Mapping) and "arrivals" not in canary_logs:
        items = list(canary_logs.items())
    elif isinstance(canary_logs, Mapping):
        items = [("canary log", canary_logs)]
    else:
        items = [(None, lg) for lg in canary_logs]
    for i, (name, lg) in enumerate(items):
        if isinstance(lg, Mapping) and isinstance(lg.get("arrivals"), list):
            label = (name or _s(lg.get("name")) or _s(lg.get("canary"))
                     or _canary_name(lg, inventory) or _log_label(lg, i))
            if label in {n for n, _ in out}:
                label = f"{label} #{i + 1}"
            out.append((label, lg))
    return out


def _canary_name(lg: Mapping, inventory: Any) -> str | None:
    """The declared canary a log listened as (by address), if any."""
    addrs = _log_addresses(lg)
    canaries = getattr(inventory, "canaries", None)
    if canaries is None and isinstance(inventory, Mapping):
        canaries = inventory.get("canaries")
    for c in canaries if isinstance(canaries, (list, tuple)) else []:
        name = c.get("name") if isinstance(c, Mapping) else getattr(c, "name", None)
        addr = c.get("address") if isinstance(c, Mapping) else getattr(c, "address", None)
        if name and _norm_ip(str(addr)) in addrs:
            return str(name)
    return None


def _log_label(lg: Mapping, i: int) -> str:
    addrs = {a for a in _log_addresses(lg) if not a.startswith("fe80:")}
    return f"canary {', '.join(sorted(addrs))}" if addrs else f"canary log {i + 1}"


def _log_addresses(lg: Mapping) -> set[str]:
    out = set()
    for i in _seq(lg.get("interfaces")):
        if isinstance(i, Mapping):
            out |= {a for a in (_norm_ip(x) for x in _seq(i.get("addresses"))) if a}
    return out


# -- one vantage: its key, its probes ---------------------------------------------

class _Vantage:
    def __init__(self, b: Mapping, index: int):
        obs = b.get("observations") if isinstance(b.get("observations"), Mapping) else {}
        v = b.get("vantage") if isinstance(b.get("vantage"), Mapping) else {}
        if not v and isinstance(obs.get("vantage"), Mapping):
            v = obs["vantage"]
        self.index = index
        self.scan_id = _s(b.get("scan_id")) or ""
        self.segment = _s(v.get("segment"))
        self.ip = _s(v.get("ip"))
        self.mac = _mac(v.get("mac"))
        self.kind = _s(v.get("kind"))                # "host": isoscan host (issue 26)
        self.device = _s(v.get("device"))
        host = obs.get("host") if isinstance(obs.get("host"), Mapping) else {}
        self.nic_mac = {n.get("name"): _mac(n.get("mac")) for n in _seq(host.get("interfaces"))
                        if isinstance(n, Mapping)}
        self.label = b.get("label") or (f"{self.segment} {self.ip}" if self.ip
                                        else (self.segment or f"vantage {index + 1}"))
        self.key = T.key_from_json(obs.get("canary_key"))
        self.started = _ts(b.get("started_at"))
        self.finished = _ts(b.get("finished_at"))
        self.records: dict[str, dict] = {}           # token hex -> probe record
        self.seq: dict[int, dict] = {}               # TCP seq -> probe record
        self.sport: dict[tuple[int, int], list[dict]] = defaultdict(list)   # weak
        self.sent_to: set[str] = set()               # destinations of direct tagged probes
        for sec in ("forwarding", "egress", "host_reach"):
            s = obs.get(sec)
            probes = s.get("probes") if isinstance(s, Mapping) else None
            for p in _seq(probes):
                if not isinstance(p, Mapping) or not isinstance(p.get("token"), str):
                    continue
                info = T.verify(p["token"], self.key) if self.key else None
                if info is None or not info.names(self.scan_id, self.segment or ""):
                    continue
                rec = {"section": sec, "probe": p, "info": info}
                self.records[info.raw.hex()] = rec
                if info.proto == "tcp":
                    if sec == "forwarding":
                        self.seq[T.tcp_seq_for(info.raw)] = rec
                    else:
                        self.sport[(T.tcp_sport_for(info.raw), info.port)].append(rec)
                if sec == "egress" and _norm_ip(p.get("dst")):
                    self.sent_to.add(_norm_ip(p.get("dst")))

    @property
    def tagged(self) -> bool:
        return self.key is not None and bool(self.records)

    def match(self, a: Mapping) -> tuple[dict, str] | None:
        """(probe record, "token" | "seq" | "port") for an arrival, or None."""
        tok = a.get("token")
        if isinstance(tok, str) and self.key is not None:
            info = T.verify(tok, self.key)
            if info is not None and info.names(self.scan_id, self.segment or ""):
                rec = self.records.get(info.raw.hex()) or {"section": None, "probe": {},
                                                          "info": info}
                return rec, "token"
        if a.get("proto") == "tcp":
            seq = _int(a.get("tcp_seq"))
            if seq is not None and seq in self.seq:
                return self.seq[seq], "seq"
            sport, dport = _int(a.get("sport")), _int(a.get("dport"))
            if sport is not None and (sport, dport) in self.sport and self._in_window(a):
                return self.sport[(sport, dport)][0], "port"
        return None

    def _in_window(self, a: Mapping) -> bool:
        t = _ts(a.get("time"))
        if t is None or self.started is None:
            return False
        end = self.finished if self.finished is not None else self.started
        return self.started - TIME_SLACK <= t <= end + TIME_SLACK


def _join(bundles: Sequence[Mapping], logs: list[tuple[str, Mapping]]):
    """Vantages, and for each (vantage index) the strong and weak matches."""
    vantages = [_Vantage(b, i) for i, b in enumerate(bundles) if isinstance(b, Mapping)]
    strong: dict[int, list[tuple[str, Mapping, dict, str]]] = defaultdict(list)
    weak: dict[int, list[tuple[str, Mapping, dict, str]]] = defaultdict(list)
    unmatched: dict[str, int] = defaultdict(int)
    for name, lg in logs:
        for a in lg["arrivals"]:
            if not isinstance(a, Mapping):
                unmatched[name] += 1
                continue
            hit = None
            for v in vantages:
                m = v.match(a)
                if m is not None:
                    hit = (v, m)
                    if m[1] != "port":
                        break
            if hit is None:
                unmatched[name] += 1
                continue
            v, (rec, how) = hit
            (weak if how == "port" else strong)[v.index].append((name, a, rec, how))
    return vantages, strong, weak, unmatched


# -- evidence lines -------------------------------------------------------------------

def _host(ip: str | None, mac: str | None, device: str | None) -> str:
    parts = [p for p in (ip, mac) if p]
    inner = ", ".join(parts)
    if device:
        return f"{device} ({inner})" if inner else device
    return inner or "?"


def _probe(info) -> str:
    return f"{info.proto.upper()}/{info.port}" if info.port else info.proto.upper()


def _line(log: str, a: Mapping, rec: dict, how: str, carrier: str | None) -> dict:
    info = rec["info"]
    src, dst, ttl = _s(a.get("src")) or "?", _s(a.get("dst")) or "?", a.get("ttl")
    when = _s(a.get("time")) or "?"
    n = a.get("count") if _int(a.get("count")) else 1
    how_zh = {"token": "令牌经 HMAC 验证", "seq": "TCP 序列号与探测一致",
              "port": "仅源端口一致"}[how]
    how_en = {"token": "token verified by its HMAC", "seq": "TCP sequence number matches the probe",
              "port": "source port only"}[how]
    via_zh = f"经 {carrier} 转发的" if carrier else "本机直接发出的"
    via_en = f"sent through {carrier}" if carrier else "sent by the vantage itself"
    times = f" ×{n}" if n and n > 1 else ""
    return text(
        f"外部探针 {log}（{dst}）收到{via_zh} {_probe(info)} 探测{times}，到达源地址 {src}，"
        f"剩余 TTL {ttl}，时间 {when}（{how_zh}）",
        f"{log} ({dst}) received the {_probe(info)} probe {via_en}{times} from source address "
        f"{src}, TTL left {ttl}, at {when} ({how_en})")


def _limited(lines: list) -> tuple:
    if len(lines) <= EVIDENCE_LIMIT:
        return tuple(lines)
    more = len(lines) - EVIDENCE_LIMIT
    return tuple(lines[:EVIDENCE_LIMIT]) + (text(f"……另有 {more} 条到达记录",
                                                 f"... and {more} more arrivals"),)


# -- the judgement ---------------------------------------------------------------------

def judge_arrivals(bundles: Sequence[Mapping], canary_logs: Iterable[Any] | None,
                   inventory: Any) -> list[Finding]:
    """Findings from what the canaries saw (see the module docstring).

    bundles: bundle dicts (SPEC §5); canary_logs: canary log dicts
    (isoscan.canary/1), a list or a {name: log} dict; inventory: a model
    Inventory, report_merge.inventory_view() or a raw SPEC §2 dict.
    Returns [] when no canary log is given.
    """
    logs = _logs(canary_logs, inventory)
    if not logs:
        return []
    M = _metas()
    missing = [cid for cid in CANARY_CHECKS if cid not in M]
    if missing:
        return _not_installed(missing)
    inv = _Inv(inventory)
    vantages, strong, weak, _unmatched = _join(bundles, logs)
    # logs proven to be listening: a non-classified vantage's token arrived there
    vouched: set[str] = set()
    for v in vantages:
        if inv.classification(v.segment) == NON_CLASSIFIED:
            vouched |= {name for name, *_ in strong.get(v.index, [])}
    # only a log that says it is complete vouches (a log without the field, or
    # a tampered one, proves nothing: fail closed)
    complete = {name for name, lg in logs if lg.get("complete") is True}

    out: list[Finding] = []
    for v in vantages:
        if v.kind == "host":          # issue 26: a computer's own reach test
            hits = strong.get(v.index, [])
            out += (_host_reached(M[HOST_CHECK], v, hits) if HOST_CHECK in M
                    else _not_installed([HOST_CHECK]) if hits else [])
            continue
        cls = inv.classification(v.segment)
        if cls in (INTERNET,) or (cls is None and not v.segment):
            continue
        hits = strong.get(v.index, [])
        if cls is None:
            meta = M["ISO-PHYSICAL"]
            if hits or inv.known is False:
                out.append(error(meta, text(
                    f"无法判定外部探针记录：清单中没有网段 {v.segment}（位置 {v.label}）",
                    f"canary arrivals cannot be judged: the inventory has no segment "
                    f"{v.segment} (vantage {v.label})"), segment=v.segment))
            continue
        if cls == CLASSIFIED:
            out += _classified(M, inv, v, hits, weak.get(v.index, []), logs, vouched,
                               complete)
        elif cls == NON_CLASSIFIED:
            out += _non_classified(M, inv, v, hits, logs, complete)
    return out


def _host_reached(META: CheckMeta, v: _Vantage, hits) -> list[Finding]:
    """HOST-EGRESS from the canary's side: a token of the computer's reach
    test that arrived outside proves the 违规外联 (the interface it left by is
    the probe record's `via`). Nothing arrived: the host bundle's own
    HOST-EGRESS stands."""
    if not hits:
        return []
    by_via: dict[str, list] = defaultdict(list)
    for name, a, rec, how in hits:
        by_via[_s(rec["probe"].get("via")) or "?"].append((name, a, rec, how))
    out = []
    for via, items in sorted(by_via.items()):
        where = f"{v.device or v.label} {via}"
        lines = [_line(n, a, r, h, where) for n, a, r, h in items]
        out.append(fail(META, _limited(lines), segment=v.segment,
                        subject=Subject(ip=_s(items[0][2]["probe"].get("src")),
                                        mac=v.nic_mac.get(via), device=v.device)))
    return out


def _no_tokens(meta, v) -> Finding:
    why = ("扫描结果未携带令牌密钥" if v.key is None else "扫描的探测均未携带有效令牌")
    why_en = ("the bundle has no canary key" if v.key is None
              else "none of the scan's probes carried a valid token")
    return error(meta, text(
        f"无法把外部探针记录与位置 {v.label} 的扫描对应：{why}",
        f"the canary logs cannot be joined with the scan from {v.label}: {why_en}"),
        segment=v.segment, subject=Subject(ip=v.ip, mac=v.mac))


def _classified(M, inv, v, hits, weak, logs, vouched, complete) -> list[Finding]:
    out: list[Finding] = []
    if not v.tagged:
        return [_no_tokens(M["ISO-PHYSICAL"], v)]
    by_host: dict[str, list] = defaultdict(list)
    for name, a, rec, how in hits:
        by_host[rec["info"].via_mac].append((name, a, rec, how))
    for via, items in sorted(by_host.items()):
        if via == T.DIRECT:
            lines = [_line(n, a, r, h, None) for n, a, r, h in items]
            out.append(fail(M["ISO-PHYSICAL"], _limited(lines), segment=v.segment,
                            subject=Subject(ip=v.ip, mac=v.mac,
                                            device=inv.device_by_mac(v.mac)[0])))
            continue
        device, dev_ip = inv.device_by_mac(via)
        ip = _s(items[0][2]["probe"].get("via_ip")) or dev_ip
        carrier = _host(ip, via, device)
        lines = [_line(n, a, r, h, carrier) for n, a, r, h in items]
        out.append(fail(M["ISO-BRIDGE"], _limited(lines), segment=v.segment,
                        subject=Subject(ip=ip, mac=via, device=device)))
    if hits:
        return out
    if weak:
        # a SYN that matches this vantage's own TCP probe by port only (the kernel
        # chose its sequence number): maybe a leak, maybe noise; never a pass
        lines = [_line(n, a, r, h, None) for n, a, r, h in weak]
        return [error(M["ISO-PHYSICAL"], _limited([text(
            "外部探针收到与本位置 TCP 探测源端口一致的连接请求，但无法验证（序列号非令牌）",
            "a canary received a SYN that matches this vantage's TCP probe by port only "
            "and cannot be verified (the sequence number is not a token)")] + lines),
            segment=v.segment, subject=Subject(ip=v.ip, mac=v.mac))]
    # nothing arrived from this vantage: a pass only where a log proves it listened
    good = [name for name, lg in logs if name in vouched and name in complete
            and _covers(lg, v)]
    if good:
        ev = text(f"外部探针 {', '.join(good)} 在扫描期间正常接收其他位置的探测，"
                  f"但未收到来自本涉密位置的任何令牌（{len(v.records)} 个带令牌的探测）",
                  f"{', '.join(good)} received other vantages' probes during the scan but no "
                  f"token from this classified vantage ({len(v.records)} tagged probes)")
        for cid in ("ISO-PHYSICAL", "ISO-BRIDGE"):
            out.append(passed(M[cid], ev, segment=v.segment))
    return out


def _covers(lg: Mapping, v: _Vantage) -> bool:
    """The log's capture spans the scan (unknown times: not proven)."""
    s, f = _ts(lg.get("started_at")), _ts(lg.get("finished_at"))
    if s is None or f is None or v.started is None:
        return False
    end = v.finished if v.finished is not None else v.started
    return s <= v.started + 1 and f >= end - 1


def _non_classified(M, inv, v, hits, logs, complete) -> list[Finding]:
    meta = M["ING-SINGLE"]
    if not v.tagged:
        return [_no_tokens(meta, v)]
    ingress, ingress_ips = inv.ingress(v.segment)
    out: list[Finding] = []
    if not ingress_ips:
        return [error(meta, text(
            f"无法判定出口：网段 {v.segment} 声明的接入网关 {ingress or '（无）'} 没有互联网地址",
            f"the exit cannot be judged: the declared ingress {ingress or '(none)'} of "
            f"{v.segment} has no internet address"), segment=v.segment)]
    good, second, untranslated = [], defaultdict(list), []
    for item in hits:
        name, a, rec, how = item
        src = _norm_ip(a.get("src"))
        if src in ingress_ips:
            good.append(item)
        elif inv.inside_unit(src):
            untranslated.append(item)
        else:
            second[(rec["info"].via_mac, src)].append(item)
    for (via, src), items in sorted(second.items(), key=lambda kv: (kv[0][0], kv[0][1] or "")):
        if via == T.DIRECT:
            subj, carrier = Subject(ip=src), None
        else:
            device, dev_ip = inv.device_by_mac(via)
            ip = _s(items[0][2]["probe"].get("via_ip")) or dev_ip
            subj, carrier = Subject(ip=ip, mac=via, device=device), _host(ip, via, device)
        lines = [text(f"出口地址 {src} 不是声明的接入网关 {ingress} 的互联网地址（{', '.join(sorted(ingress_ips))}）",
                      f"exit address {src} is not an internet address of the declared ingress "
                      f"{ingress} ({', '.join(sorted(ingress_ips))})")]
        lines += [_line(n, a, r, h, carrier) for n, a, r, h in items]
        out.append(fail(meta, _limited(lines), segment=v.segment, subject=subj))
    if untranslated:
        lines = [text("到达的源地址是单位内部地址（未经地址转换），无法据此判断出口",
                      "the source address is inside the unit (not translated): the exit "
                      "cannot be told from it")]
        lines += [_line(n, a, r, h, None) for n, a, r, h in untranslated]
        out.append(error(meta, _limited(lines), segment=v.segment))
    # the positive control: each log this vantage sent tagged probes to saw some of them
    seen_logs = {name for name, *_ in hits}
    for name, lg in logs:
        addrs = _log_addresses(lg)
        expected = bool(addrs & v.sent_to) if addrs else bool(v.sent_to)
        if expected and name not in seen_logs:
            why_zh = "" if name in complete else "（该记录达到上限，有丢弃）"
            why_en = "" if name in complete else " (the log hit its cap and dropped arrivals)"
            out.append(error(meta, text(
                f"阳性对照失败：外部探针 {name} 未收到来自位置 {v.label} 的任何探测{why_zh}，"
                f"无法证明出口判定有效",
                f"positive control failed: {name} saw nothing from {v.label}{why_en}; the "
                f"exit judgement cannot be vouched for"), segment=v.segment))
    # a pass says "nothing left by another exit": only a complete log that
    # listened through the whole scan can say it (else an arrival from a
    # second exit may have been dropped at the cap, or sent while it was down)
    unsure = [name for name, lg in logs
              if (bool(_log_addresses(lg) & v.sent_to) if _log_addresses(lg) else bool(v.sent_to))
              and (name not in complete or not _covers(lg, v))]
    if good and not out and unsure:
        out.append(error(meta, text(
            f"外部探针记录 {', '.join(unsure)} 不完整（有丢弃）或未覆盖整个扫描时段，"
            f"无法证明没有经其他出口到达的探测",
            f"the canary log(s) {', '.join(unsure)} are incomplete (arrivals dropped) or did "
            f"not listen through the whole scan: they cannot show that nothing left by "
            f"another exit"), segment=v.segment))
    if good and not out:
        lines = [text(f"全部到达均来自声明的接入网关 {ingress} 的互联网地址",
                      f"every arrival came from an internet address of the declared ingress {ingress}")]
        lines += [_line(n, a, r, h, None if r["info"].via_mac == T.DIRECT else r["info"].via_mac)
                  for n, a, r, h in good]
        out.append(passed(meta, _limited(lines), segment=v.segment))
    return out


# -- the report's table and the merge hook -------------------------------------------

def outside_view(bundles: Sequence[Mapping], canary_logs: Iterable[Any] | None,
                 inventory: Any = None) -> dict:
    """Per vantage, what the outside saw, by exit address (plain data).

    {"logs": [{"name", "addresses", "started_at", "finished_at", "complete",
               "arrivals", "unmatched"}],
     "vantages": [{"label", "segment", "classification", "scan_id",
                   "rows": [{"exit", "is_ingress", "arrivals", "probes": {"ICMP": 2},
                             "via": ["ws-005 (10.10.0.15, 02:..)" | "direct"],
                             "match": "verified" | "port only"}]}]}
    """
    logs = _logs(canary_logs, inventory)
    inv = _Inv(inventory)
    vantages, strong, weak, unmatched = _join(bundles, logs)
    out = {"logs": [{"name": name, "addresses": sorted(_log_addresses(lg)),
                     "started_at": _s(lg.get("started_at")),
                     "finished_at": _s(lg.get("finished_at")),
                     "complete": lg.get("complete") is True,
                     "arrivals": len(lg["arrivals"]), "unmatched": unmatched.get(name, 0)}
                    for name, lg in logs],
           "vantages": []}
    for v in vantages:
        _, ingress_ips = inv.ingress(v.segment)
        rows: dict[tuple, dict] = {}
        for kind, table in (("verified", strong), ("port only", weak)):
            for _name, a, rec, _how in table.get(v.index, []):
                src = _norm_ip(a.get("src")) or _s(a.get("src")) or "?"
                row = rows.setdefault((src, kind), {
                    "exit": src, "is_ingress": (src in ingress_ips) if ingress_ips else None,
                    "arrivals": 0, "probes": {}, "via": [], "match": kind})
                n = _int(a.get("count")) or 1
                row["arrivals"] += n
                p = _probe(rec["info"])
                row["probes"][p] = row["probes"].get(p, 0) + n
                via = rec["info"].via_mac
                if via != T.DIRECT:
                    device, dev_ip = inv.device_by_mac(via)
                    via = _host(_s(rec["probe"].get("via_ip")) or dev_ip, via, device)
                if via not in row["via"] and len(row["via"]) < 20:
                    row["via"].append(via)
        out["vantages"].append({"label": v.label, "segment": v.segment, "scan_id": v.scan_id,
                                "classification": inv.classification(v.segment),
                                "tagged": v.tagged,
                                "rows": sorted(rows.values(), key=lambda r: (r["match"], r["exit"]))})
    return out


_ATTR_CACHE: dict = {}


def attribute(arrival: Mapping, sources: Sequence[Mapping]) -> str | None:
    """The label of the vantage whose probe this arrival is (strong match), or None.

    `sources` are report_merge's per-bundle sources (scan_id, vantage,
    label, observations, started_at, finished_at).
    """
    held = _ATTR_CACHE.get("sources")
    if held is not sources or len(sources) != _ATTR_CACHE.get("n"):
        _ATTR_CACHE.update(sources=sources, n=len(sources), vantages=[
            _Vantage(s, i) for i, s in enumerate(sources) if isinstance(s, Mapping)])
    vs = _ATTR_CACHE["vantages"]
    if not isinstance(arrival, Mapping):
        return None
    for v in vs:
        m = v.match(arrival)
        if m is not None and m[1] != "port":
            return v.label
    return None


def judge_arrivals_json(bundles: Sequence[Mapping], canary_logs: Iterable[Any] | None,
                        inventory: Any, lang: str = "zh-CN") -> list[dict]:
    """judge_arrivals() as finding dicts (SPEC §5 form) in one language, for merging."""
    return [f.to_json(lang) for f in judge_arrivals(bundles, canary_logs, inventory)]
