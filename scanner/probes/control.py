"""The positive control: before an isolation check may pass, the vantage
shows that its probes work.

- registered addresses of its own segment (and canaries on its link) answer
  ARP through the same raw socket path the forwarding probes use;
- on a non-classified segment, a canary answers the egress probes (through
  the ingress: the way out this segment is supposed to have).

Missing privileges, a down interface, nobody answering: the control fails,
the isolation checks report `error`, the verdict is incomplete (exit 3).
"""
from __future__ import annotations

from scanner.model import NON_CLASSIFIED, text
from scanner.scan.plan import Plan
from scanner.probes.discovery import arp_frames, arp_replies
from scanner.probes.wire import Burst, ProbeError, iface_up, require_l2, require_privileges

WAIT = 0.6


def arp_items(plan: Plan, wait: float = WAIT) -> list[dict]:
    require_privileges()
    require_l2(plan.vantage)
    v = plan.vantage
    wanted = {c.ip for c in plan.controls}
    if not wanted:
        return []
    seen: dict = {}

    def done(got):
        seen.update(arp_replies(got[mark[0]:], wanted))
        mark[0] = len(got)
        return wanted <= set(seen)
    mark = [0]
    with Burst(v.interface, f"arp and not ether src {v.mac}") as b:
        b.send(arp_frames(plan, sorted(wanted)))
        got = b.collect(wait, done=done)
    return arp_items_from(plan, arp_replies(got, wanted))


def arp_items_from(plan: Plan, seen: dict) -> list[dict]:
    """Control items from ip -> {MACs} of the ARP replies seen."""
    items = []
    for c in plan.controls:
        macs = sorted(seen.get(c.ip, ()))
        items.append({"kind": "arp", "target": c.ip, "device": c.name, "ok": bool(macs),
                      "macs": macs,
                      "detail": (f"ARP reply from {c.ip} at {', '.join(macs)}" if macs
                                 else f"no ARP reply from {c.ip} ({c.name})")})
    return items


def canary_items(plan: Plan, egress: dict) -> list[dict]:
    """Non-classified vantage: did a canary answer the egress probes?"""
    items = []
    for t in plan.remote:
        if t.kind != "canary":
            continue
        rows = [p for p in egress.get("probes", []) if p.get("dst") == t.ip]
        good = [p for p in rows if p.get("result") in ("answer", "refused")]
        hop = next((p.get("first_hop") for p in rows if p.get("first_hop")), None)
        items.append({"kind": "canary", "target": t.ip, "device": t.name, "ok": bool(good),
                      "first_hop": hop,
                      "detail": (f"canary {t.name} ({t.ip}) answered "
                                 + ", ".join(sorted({f"{p['proto']}{'/' + str(p['port']) if p.get('port') else ''}"
                                                     for p in good}))
                                 + (f" via {hop}" if hop else "")) if good else
                      f"canary {t.name} ({t.ip}) did not answer from this segment"})
    return items


def evaluate(plan: Plan, obs: dict, arp: list[dict] | None, arp_error) -> dict:
    """The `controls` section from what the control probes and egress saw."""
    priv = obs.get("privileges") or {}
    items = list(arp or [])
    problems = []
    if not priv.get("ok"):
        problems.append(priv.get("error") or text("缺少权限", "no privileges"))
    if not iface_up(plan.vantage.interface):
        problems.append(text(f"接口 {plan.vantage.interface} 未启用（down）",
                             f"interface {plan.vantage.interface} is down"))
    if arp_error is not None:
        problems.append(arp_error)
    elif not plan.controls:
        problems.append(text(f"网段 {plan.segment.name} 上没有可作正向对照的登记设备",
                             f"no registered device on {plan.segment.name} to serve as a positive control"))
    elif not any(i["ok"] for i in items):
        problems.append(text(f"网段 {plan.segment.name} 上没有任何登记设备应答 ARP",
                             f"no registered device of {plan.segment.name} answered ARP"))
    if plan.classification == NON_CLASSIFIED:
        eg = obs.get("egress") or {}
        if eg.get("status") != "ok":
            problems.append(text("出站探测未运行，无法确认金丝雀经入口可达",
                                 "egress probes did not run: the canary through the ingress is unproven"))
        else:
            cis = canary_items(plan, eg)
            items += cis
            if not cis:
                problems.append(text("清单未声明金丝雀，无法确认经入口可达互联网",
                                     "no canary declared: the way out through the ingress is unproven"))
            elif not any(i["ok"] for i in cis):
                problems.append(text("金丝雀未经入口应答：出站探测的有效性无法证明",
                                     "no canary answered through the ingress: the probes are unproven"))
    err = None
    uniq = []
    for p in problems:
        if p not in uniq:
            uniq.append(p)
    problems = uniq
    if problems:
        zh = "；".join(p["zh-CN"] if isinstance(p, dict) else str(p) for p in problems)
        en = "; ".join(p["en"] if isinstance(p, dict) else str(p) for p in problems)
        err = text(zh, en)
    return {"ok": not problems, "error": err, "items": items}


def safe_arp_items(plan: Plan):
    try:
        return arp_items(plan), None
    except ProbeError as exc:
        return [], exc.message
    except Exception as exc:
        return [], text(f"正向对照探测失败：{type(exc).__name__}: {exc}",
                        f"the positive-control probe failed: {type(exc).__name__}: {exc}")
