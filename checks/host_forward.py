"""HOST-FORWARD: a computer does not route between its interfaces.

Forwarding on (net.ipv4.ip_forward, an interface's conf/<if>/forwarding,
IPv6 forwarding) makes the computer a router: with a second way out (a
phone, a second card) it joins the networks. Critical on a classified
computer, high elsewhere.
"""
from __future__ import annotations

from checks._host import classification, gate, homed, problems_finding
from scanner.model import CLASSIFIED, CheckMeta, Severity, Subject, error, fail, passed, text

META = CheckMeta(
    id="HOST-FORWARD",
    severity=Severity.CRITICAL,
    title=text("计算机开启了接口间转发", "Forwarding on between a computer's interfaces"),
    needs=("host",),
    remediation=text(
        "关闭转发（sysctl net.ipv4.ip_forward=0、net.ipv6.conf.all.forwarding=0，并删除 /etc/sysctl.d 中的相应设置）；"
        "查明开启的原因（共享上网、虚拟机桥接）。",
        "Turn forwarding off (sysctl net.ipv4.ip_forward=0, net.ipv6.conf.all.forwarding=0, and "
        "remove the setting from /etc/sysctl.d); find out why it was on (internet sharing, "
        "a virtual machine's bridge)."),
    description=text(
        "读取 /proc/sys/net 的转发开关（全局与各接口）与 sysctl 配置（/etc/sysctl.conf、sysctl.d）。",
        "Reads the forwarding switches under /proc/sys/net (global and per interface) and the "
        "sysctl configuration (/etc/sysctl.conf, sysctl.d)."),
)


def evaluate(inv, obs):
    yield from homed(inv, obs, _evaluate(inv, obs))


def _evaluate(inv, obs):
    rec, dev, why = gate(META, inv, obs)
    if why is not None:
        yield why
        return
    sev = Severity.CRITICAL if classification(inv, dev) == CLASSIFIED else Severity.HIGH
    subj = Subject(device=dev.name)
    on = [n for n in rec.interfaces if n.kind != "loopback" and (n.forwarding or n.forwarding6)]
    lines = []
    if rec.ip_forward:
        lines.append(text("IPv4 转发已开启（net.ipv4.ip_forward = 1）",
                          "IPv4 forwarding is on (net.ipv4.ip_forward = 1)"))
    if rec.ipv6_forward:
        lines.append(text("IPv6 转发已开启（net.ipv6.conf.all.forwarding = 1）",
                          "IPv6 forwarding is on (net.ipv6.conf.all.forwarding = 1)"))
    for n in on:
        fam = "/".join(x for x, y in (("IPv4", n.forwarding), ("IPv6", n.forwarding6)) if y)
        lines.append(text(f"接口 {n.label()} 的 {fam} 转发已开启",
                          f"{fam} forwarding is on for {n.label()}"))
    lines += [text(f"系统配置在启动时开启转发：{c}", f"the system's configuration turns forwarding on "
                                                     f"at boot: {c}") for c in rec.forward_configured]
    if lines:
        yield fail(META, lines, severity=sev, subject=subj)
    bad = problems_finding(META, rec, dev, "routes")
    yield from bad
    if lines or bad:
        return
    if rec.ip_forward is None:
        yield error(META, text("无法判定：未能读取 /proc/sys/net/ipv4/ip_forward（离线磁盘没有 /proc？）",
                               "could not be judged: /proc/sys/net/ipv4/ip_forward could not be "
                               "read (an offline disk has no /proc?)"), subject=subj)
        return
    yield passed(META, text(f"{dev.name} 的 IPv4/IPv6 转发均已关闭（全局与 {len(rec.interfaces)} 个接口）",
                            f"IPv4 and IPv6 forwarding are off on {dev.name} (globally and on "
                            f"{len(rec.interfaces)} interfaces)"), subject=subj)
