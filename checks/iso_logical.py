"""ISO-LOGICAL: from an internet vantage a service of a non-classified
segment answers that is not declared `exposed` (SPEC §4).

Only an open port is an answer from inside: "closed" and "filtered" are not,
and an ICMP unreachable from a router on the way (which the inbound probe
reports as filtered) is not an answer either.

The inbound positive control: every declared exposed service must answer
(open) from the internet vantage, and a declared service that could not be
probed (a private address this vantage has no route to) or did not answer
makes the check an `error`, as does a run in which no probe was answered at
all. A pass states its coverage: which addresses, which ports, when, from
where; and whether a full sweep of every port backs it (`full_sweep_problem`).
"""
from __future__ import annotations

from scanner.judge.live import (NOTHING_PROBED, conclude, dst_segment, join,
                                norm_ip, not_from, problem, section, subject,
                                vantage_segment)
from scanner.judge.sweep import FULL_SWEEP_MAX_AGE_DAYS  # noqa: F401 (part of this check's rule)
from scanner.judge.sweep import count as _count
from scanner.judge.sweep import full_sweep_problem, sweep_reached
from scanner.model import NON_CLASSIFIED, CheckMeta, Severity, fail, text

META = CheckMeta(
    id="ISO-LOGICAL",
    severity=Severity.HIGH,
    title=text("非涉密网络向互联网开放了未声明的服务",
               "Non-classified network exposes an undeclared service to the internet"),
    needs=("inbound",),
    # seen from the internet: the address probed is the destination, no MAC is known
    # (a MAC joined in later by the report must not make the same finding a new one)
    fingerprint=("subject.ip",),
    remediation=text(
        "在边界防火墙上关闭该服务的互联网访问（含端口转发）；确需开放的，经审批后在清单的 exposed 中声明。",
        "Block internet access to the service at the boundary firewall (port forwards "
        "included); if it must be reachable, have it approved and declare it under the "
        "segment's `exposed`."),
    description=text(
        "从互联网位置探测本单位的公网地址（及可路由到的非涉密地址）的端口：凡开放而未在 exposed 中声明的服务均为违规；"
        "已声明的服务必须应答，否则无法证明探测到达了本单位。",
        "From an internet vantage, probes the unit's public addresses (and the non-classified "
        "addresses routed from there): every open service not declared under `exposed` "
        "fails; every declared service must answer, or the probes are not shown to reach "
        "the unit."),
)

def declared_services(inv) -> dict[tuple[str, str, int], object]:
    """(address probed from the internet, proto, port) -> its Exposed entry."""
    out = {}
    for seg in inv.segments:
        for e in seg.exposed:
            for proto, ports in (("tcp", e.tcp), ("udp", e.udp)):
                for port in ports:
                    out.setdefault((str(e.probed), proto, int(port)), e)
    return out


def _service(p) -> tuple[str, str]:
    """'（服务：ssh，标识：OpenSSH 9.2）' / ' (service ssh; banner: OpenSSH 9.2)'."""
    name = " ".join(str(p.get("service") or "").split())[:40]
    banner = " ".join(str(p.get("banner") or "").split())[:80]
    zh = "，".join(x for x in (f"服务：{name}" if name else "", f"标识：{banner}" if banner else "") if x)
    en = "; ".join(x for x in (f"service {name}" if name else "", f"banner: {banner}" if banner else "") if x)
    return (f"（{zh}）" if zh else "", f" ({en})" if en else "")


def _port(p) -> str:
    """'8291/tcp', the way an inspector reads a port."""
    return f"{p.get('port')}/{str(p.get('proto') or '?').lower()}"


def _where(inv, ip: str, kind) -> tuple[str, str]:
    s = subject(inv, ip)
    who = f" {s.device}" if s.device else ""
    if kind == "public":
        return f"公网地址 {ip}{who and '（' + who.strip() + '）'}", f"public address {ip}{who and ' (' + who.strip() + ')'}"
    return f"{ip}{who}", f"{ip}{who}"


def _target(inv, e, port: int) -> tuple[str, str]:
    """' → dmz-web 10.20.0.30:443' for a declared port forward, else ''."""
    if e is None or e.public is None or e.to is None:
        return "", ""
    name = subject(inv, str(e.to)).device
    to = f"{name + ' ' if name else ''}{e.to}:{e.to_port or port}"
    return f" → {to}", f" → {to}"


def _port_order(port: str) -> tuple:
    num, _, proto = port.partition("/")
    return (proto, int(num) if num.isdigit() else 0)


def _coverage(cov, probes, quiet) -> object:
    addrs = list(dict.fromkeys([*(cov.get("public") or ()), *(cov.get("routed") or ())])) or \
        sorted({norm_ip(p.get("dst")) for p in probes} - {None})
    n = len(probes) + sum(_count(q.get(k)) for q in quiet for k in ("closed", "filtered"))
    ports_zh = "全部 65535 个 TCP 端口" if cov.get("tcp") == "all" else \
        f"常用 TCP 端口（前 {cov.get('tcp_ports') or '?'} 个，含已声明端口）"
    ports_en = "all 65,535 TCP ports" if cov.get("tcp") == "all" else \
        f"the top TCP ports ({cov.get('tcp_ports') or '?'}, declared ones included)"
    udp = [str(u) for u in cov.get("udp") or ()]
    swept = [str(x) for x in cov.get("swept") or ()]
    when = cov.get("started_at") or "?"
    src = cov.get("from") or "?"
    how = _choice(cov.get("choice"))
    return text(
        f"覆盖范围：{when} 自 {src} 探测 {len(addrs)} 个地址（{join(addrs)}）的{ports_zh}"
        f"{'，UDP ' + join(udp) if udp else ''}，共 {n} 个端口"
        f"{'；并在 ' + join(swept) + ' 中查找未登记的主机（常用端口）' if swept else ''}"
        f"{how['zh-CN'] if how else ''}",
        f"coverage: {n} ports probed at {when} from {src}: {ports_en}"
        f"{', UDP ' + join(udp) if udp else ''} on {len(addrs)} addresses ({join(addrs)})"
        f"{'; ' + join(swept) + ' swept for stations nobody registered (top ports)' if swept else ''}"
        f"{how['en'] if how else ''}")


def _pass_line(cov) -> object:
    """One line saying which inbound pass found it (every port or the top
    ones) and why that pass, or None when the bundle does not say."""
    how = _choice(cov.get("choice"))
    if how is None:
        return None
    every = cov.get("tcp") == "all"
    return text(f"入站探测：{'全部 65535 个 TCP 端口' if every else '常用 TCP 端口与已声明端口'}{how['zh-CN']}",
                f"inbound pass: {'all 65,535 TCP ports' if every else 'the top and declared TCP ports'}"
                f"{how['en']}")


def _choice(choice) -> object:
    """Which pass this was, and why: forced by --inbound, or chosen by the
    default (auto) from the full sweep's estimated time and its budget."""
    if not isinstance(choice, dict):
        return None
    chose, asked = choice.get("chose"), choice.get("asked")
    if asked in ("quick", "full"):
        return text(f"（由 --inbound {asked} 指定）", f" (forced with --inbound {asked})")
    if asked != "auto" or chose not in ("quick", "full"):
        return None
    est, budget = choice.get("estimate_s"), choice.get("budget_s")
    if chose == "full":
        return text(f"（默认：全端口扫描预计 {est} 秒，在 {budget} 秒的时间预算内，故扫描全部端口）",
                    f" (default: the full sweep, estimated at {est} s, fits the {budget} s budget, "
                    "so every port was swept)")
    return text(f"（默认：全端口扫描预计 {est} 秒，超出 {budget} 秒的时间预算，故只扫描常用端口与已声明端口；"
                "请定期运行 --inbound full）",
                f" (default: the full sweep, estimated at {est} s, exceeds the {budget} s budget, "
                "so only the top and declared ports were probed; run --inbound full regularly)")


def evaluate(inv, obs):
    seg, err = vantage_segment(META, inv, obs)
    if err is not None:
        yield err
        return
    if not seg.is_internet:
        yield not_from(META, seg, text("逻辑隔离只能从互联网位置检验",
                                       "logical isolation is judged from an internet vantage"))
        return
    if not any(s.classification == NON_CLASSIFIED for s in inv.segments):
        yield not_from(META, seg, text("清单中没有非涉密网段", "the inventory declares no non-classified segment"))
        return
    inbound = section(obs, "inbound")
    cov = inbound.get("coverage") if isinstance(inbound.get("coverage"), dict) else {}
    policy = obs.get("policy") if isinstance(obs.get("policy"), dict) else {}
    declared = declared_services(inv)
    probes = []
    for p in inbound.get("probes") or ():
        target = dst_segment(inv, p) if isinstance(p, dict) else None
        if target is not None and target.classification == NON_CLASSIFIED:
            probes.append(p)
    quiet = [q for q in inbound.get("filtered") or () if isinstance(q, dict)
             and (t := dst_segment(inv, q)) is not None and t.classification == NON_CLASSIFIED]
    groups: dict = {}
    open_ports: dict = {}            # dst -> its undeclared open services ("8291/tcp")
    allowed, answered = [], set()
    for p in probes:
        dst = norm_ip(p.get("dst"))
        try:
            key = (dst, str(p.get("proto") or "").lower(), int(p.get("port")))
        except (TypeError, ValueError):
            key = (dst, "", -1)
        if p.get("state") in ("open", "closed"):
            answered.add(dst)
        if p.get("state") != "open":
            continue
        zh_s, en_s = _service(p)
        zh_w, en_w = _where(inv, dst, p.get("dst_kind"))
        if key in declared:
            zh_t, en_t = _target(inv, declared[key], key[2])
            allowed.append((f"{dst} {_port(p)}{zh_t}", f"{dst} {_port(p)}{en_t}", key))
            continue
        open_ports.setdefault(dst, []).append(_port(p))
        groups.setdefault(dst, []).append(text(
            f"从互联网可访问{zh_w}的 {_port(p)}{zh_s}（开放），该服务未在 exposed 中声明",
            f"{_port(p)}{en_s} on {en_w} is open from the internet and not declared exposed"))
    answered.update(norm_ip(q.get("dst")) for q in quiet if _count(q.get("closed")))
    said, warning = full_sweep_problem(cov, policy)
    how = _pass_line(cov)
    fails = [fail(META, (*ev, *((how,) if how else ()), *((warning,) if warning else ())),
                  segment=seg.name,
                  subject=subject(inv, ip, ports=sorted(open_ports[ip], key=_port_order)))
             for ip, ev in groups.items()]
    why = problem(obs, *META.needs) or (None if probes or quiet else NOTHING_PROBED)
    if why is None:
        why = _control_problem(probes, declared, {k for *_, k in allowed}, answered, cov)
    if why is None and warning is not None and policy.get("strict"):
        why = text(f"严格模式：{warning['zh-CN']}", f"strict mode: {warning['en']}")
    summary = [text("从互联网探测本单位，仅已声明的服务开放",
                    "the unit probed from the internet: only declared services answered"),
               _coverage(cov, probes, quiet)]
    if allowed:
        summary.append(text(f"已声明且开放：{join(sorted(a for a, _, _ in allowed))}",
                            f"declared and open: {join(sorted(b for _, b, _ in allowed))}"))
    mute = _silent_udp(probes, declared, {k for *_, k in allowed})
    if mute:
        summary.append(text(
            f"已声明的 UDP 服务 {join(mute)} 未应答（UDP 服务可以不应答探测，无法据此证明可达）",
            f"declared UDP service {join(mute)} gave no reply (a UDP service need not answer "
            "a probe: its reach is not shown)"))
    if said is not None:
        summary.append(said)
    if warning is not None:
        summary.append(warning)
    yield from conclude(META, seg, fails, why, summary)


def _silent_declared(probes, declared, open_declared, proto: str) -> list[str]:
    probed = {(norm_ip(p.get("dst")), str(p.get("proto") or "").lower(), p.get("port"))
              for p in probes}
    return sorted(f"{ip}:{port}/{pr}" for (ip, pr, port) in declared
                  if pr == proto and (ip, pr, port) in probed
                  and (ip, pr, port) not in open_declared)


def _silent_udp(probes, declared, open_declared) -> list[str]:
    return _silent_declared(probes, declared, open_declared, "udp")


def _control_problem(probes, declared, open_declared, answered, cov):
    """The inbound positive control: why the probes are not shown to reach the
    unit, or None. Every declared TCP service must have answered (open) --
    a UDP service need not answer a probe, so its silence is said, not held
    against the unit; with none answering, at least one probe must have been
    answered (open or closed). A declared service that could not be probed
    (an unrouted private address, IPv6) leaves the control unmet."""
    unprobed6 = [str(x) for x in cov.get("unprobed_ipv6") or ()]
    if unprobed6:
        return text(
            f"已声明的 IPv6 服务 {join(unprobed6)} 未被探测（入站探测仅限 IPv4）：IPv6 上的逻辑隔离未被证明",
            f"declared IPv6 service {join(unprobed6)} was not probed (the inbound probes are "
            "IPv4 only): logical isolation over IPv6 is not shown")
    unrouted = [str(x) for x in cov.get("unrouted_exposed") or ()]
    if unrouted:
        return text(
            f"已声明的服务 {join(unrouted)} 位于本位置无路由可达的内部地址，未能探测："
            "请在 exposed 中声明其公网地址（public:，端口转发用 to:）",
            f"declared service {join(unrouted)} is at an internal address this vantage has no "
            "route to, so it could not be probed: declare the public address it is published "
            "at (public:, and to: for a port forward)")
    silent = _silent_declared(probes, declared, open_declared, "tcp")
    if silent:
        return text(f"已声明的服务 {join(silent)} 未应答：入站探测可能未到达本单位",
                    f"declared service {join(silent)} did not answer: the inbound probes may "
                    "not reach the unit")
    if not answered:
        return text("所有入站探测均无应答（全部被过滤或不可达）：无法证明探测到达了本单位",
                    "every inbound probe went unanswered (all filtered or unreachable): the "
                    "probes are not shown to reach the unit")
    return None


__all__ = ["META", "evaluate", "declared_services", "full_sweep_problem", "sweep_reached"]
