"""XFER-ONEWAY: a declared one-way transfer device (单向导入) carries data only
in its declared direction (SPEC §4).

Judged from the high side (the transfer's `to` segment), for every transfer
into it:
* the forbidden direction (to -> from, and to -> the internet) must be
  closed: the forwarding probes sent through the device's high-side MAC
  toward the low side's address and the canaries must get no answer. An
  answer from beyond it is packets crossing: critical. Its TTL-1
  time-exceeded is no breach (it must forward, and the TTL check comes before
  its firewall). Where no probe went through it toward the low side or the
  internet, that could not be tested: `error`;
* the declared direction should work: the low-side vantage's probes go
  through the device toward a high-side address with a token naming the
  sender's segment and the MAC it was handed to; the high-side vantage
  listens for them for its whole scan ("transfer_in"). An arrival proves the
  transfer works; without one the working direction is unproven, a notice
  (severity info), never a fail.
"""
from __future__ import annotations

from scanner.judge.live import (INTERNET, a_probe, dst_label, dst_segment, host_label, join,
                                norm_mac, not_from, outside_class, problem, section,
                                vantage_segment)
from scanner.canary import tokens
from scanner.model import (CheckMeta, Severity, Subject, error, fail, passed, text)

META = CheckMeta(
    id="XFER-ONEWAY",
    severity=Severity.CRITICAL,
    title=text("单向导入设备反向或向互联网放行", "One-way transfer lets data the forbidden way"),
    needs=("discovery", "forwarding", "transfer_in"),
    remediation=text(
        "立即断开该单向导入设备并检查其配置：只允许从低密级网段向涉密网段的新建流量，"
        "禁止任何反向流量及通往互联网的流量；查明已外流的数据并按泄密隐患处置。",
        "Disconnect the transfer device and check its configuration now: only new flows "
        "from the low side into the classified side may pass, nothing back and nothing to "
        "the internet; find out what left and handle it as a potential leak."),
    description=text(
        "从高密级一侧经单向导入设备（二层地址指向它）向低密级网段和外部探针探测：任何应答即数据反向穿越（严重）；"
        "其 TTL=1 超时不构成违规。低密级一侧经该设备发往高密级地址的带令牌探测由高密级一侧监听，"
        "到达即证明声明方向可用，未能证明时仅提示。",
        "From the high side, probes handed to the transfer device toward the low side and the "
        "canaries: any answer is data crossing the forbidden way (critical); its TTL-1 "
        "time-exceeded is no breach. The low side's tokened probes through it toward a "
        "high-side address are listened for on the high side: an arrival proves the declared "
        "direction works; unproven is a notice."),
)


def _sides(inv, t, seg):
    d = inv.device(t.device)
    if d is None:
        return None, None, None
    high = next((i for i in d.interfaces if i.segment == seg.name and i.mac), None)
    low = next((i for i in d.interfaces if i.segment == t.from_segment), None)
    return d, high, low


def _arrived(obs, t, low):
    want_tag = tokens.tag(t.from_segment).hex()
    low_mac = norm_mac(low.mac) if low is not None else None
    return [a for a in section(obs, "transfer_in").get("arrivals") or ()
            if isinstance(a, dict) and a.get("token_segment_tag") == want_tag
            and (low_mac is None or norm_mac(a.get("token_via_mac")) == low_mac)]


def _one(inv, obs, seg, t):
    d, high, low = _sides(inv, t, seg)
    if d is None or high is None:
        return [error(META, text(f"无法判定：单向导入设备 {t.device} 在 {seg.name} 上没有登记 MAC",
                                 f"could not be judged: transfer device {t.device} has no registered "
                                 f"MAC on {seg.name}"), segment=seg.name)]
    me = host_label(str(high.ip) if high.ip is not None else None, high.mac)
    subj = Subject(ip=str(high.ip) if high.ip is not None else None, mac=high.mac, device=d.name)
    probes = [p for p in section(obs, "forwarding").get("probes") or ()
              if isinstance(p, dict) and not p.get("claim")
              and norm_mac(p.get("via_mac")) == high.mac]
    back = [p for p in probes if (s := dst_segment(inv, p)) is not None and s.name == t.from_segment]
    out = [p for p in probes if outside_class(inv, p) == INTERNET]
    crossed = [p for p in back + out if p.get("result") == "answer"]
    if crossed:
        return [fail(META, [text(
            f"数据包反向穿越：{dst_label(inv, p)['zh-CN']} 应答了经 {d.name}（{me}）发出的 {p.get('proto')} 探测",
            f"packets cross the forbidden way: {dst_label(inv, p)['en']} answered {a_probe(p)} "
            f"sent through {d.name} ({me})") for p in crossed], segment=seg.name, subject=subj)]
    missing = ([f"toward {t.from_segment}"] if not back else []) + \
              (["toward the internet (canaries)"] if not out and inv.canaries else [])
    why = problem(obs, "discovery", "forwarding")
    if why is None and missing:
        why = text(f"没有经 {d.name}（{me}）的探测：{join(missing)}（该设备未在本网段应答？）",
                   f"no probe went through {d.name} ({me}) {join(missing)} (did it not answer "
                   f"on this segment?)")
    if why is not None:
        return [error(META, text(f"无法判定 {d.name}（{me}）的禁止方向是否关闭：{why['zh-CN']}",
                                 f"could not be judged whether the forbidden direction of {d.name} "
                                 f"({me}) is closed: {why['en']}"), segment=seg.name, subject=subj)]
    fwd = any(p.get("result") == "time-exceeded" for p in probes)
    lines = [text(
        f"禁止方向已关闭：经 {d.name}（{me}）向 {t.from_segment} 与互联网发出的 {len(back) + len(out)} 个探测均无应答"
        + ("（设备按设计转发，TTL=1 超时不构成违规）" if fwd else ""),
        f"the forbidden direction is closed: {len(back) + len(out)} probes through {d.name} ({me}) "
        f"toward {t.from_segment} and the internet got no answer"
        + (" (it forwards by design; its TTL-1 time-exceeded is no breach)" if fwd else ""))]
    got = _arrived(obs, t, low)
    if got:
        a = got[0]
        lines.append(text(
            f"声明方向可用：来自 {t.from_segment} 的带令牌探测经 {d.name} 到达本机（源 {a.get('src_ip')}，{a.get('proto')}）",
            f"the declared direction works: a tokened probe from {t.from_segment} handed to "
            f"{d.name} arrived here (from {a.get('src_ip')}, {a.get('proto')})"))
        return [passed(META, lines, segment=seg.name, subject=subj)]
    sec = section(obs, "transfer_in")
    reason = (text("本次扫描未监听" + (f"（{sec.get('error')}）" if sec.get("error") else ""),
                   "this scan did not listen" + (f" ({sec.get('error')})" if sec.get("error") else ""))
              if sec.get("status") != "ok" else
              text(f"监听 {sec.get('listened')} 秒内没有来自 {t.from_segment} 的探测到达（低密级一侧未同时扫描？）",
                   f"no probe from {t.from_segment} arrived in {sec.get('listened')} s of listening "
                   f"(was the low side not scanned at the same time?)"))
    lines.append(text(f"声明方向（{t.from_segment} → {seg.name}）可用性未获证明：{reason['zh-CN']}",
                      f"the declared direction ({t.from_segment} -> {seg.name}) is unproven: {reason['en']}"))
    return [fail(META, lines, severity=Severity.INFO, segment=seg.name, subject=subj)]


def evaluate(inv, obs):
    seg, err = vantage_segment(META, inv, obs)
    if err is not None:
        yield err
        return
    into = [t for t in inv.transfers if t.to_segment == seg.name]
    if not into:
        low = [t.device for t in inv.transfers if t.from_segment == seg.name]
        yield not_from(META, seg, text(
            f"本网段是单向导入 {join(low)} 的低密级一侧，由高密级一侧判定；本位置经其发出的探测用于证明声明方向" if low
            else "没有声明进入本网段的单向导入",
            f"this segment is the low side of {join(low)}, judged from the high side; this "
            f"vantage's probes through it prove the declared direction" if low
            else "no one-way transfer into this segment is declared"))
        return
    for t in into:
        yield from _one(inv, obs, seg, t)
