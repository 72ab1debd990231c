"""HOST-EGRESS: the computer reaches nothing outside (违规外联), proven by
the reach test through every interface.

From inside the computer, tokened TCP and UDP probes go to the inventory's
canaries through every interface that has an address (each socket bound to
it, SO_BINDTODEVICE) and by the default route. An answer is a 违规外联
proven: critical, naming the interface. A refusal in the canary's name may be
the canary or a firewall on the way (the computer's own included): `error`.
A pass needs the positive control (the computer reached its own gateway or
probe) and at least one probe sent; otherwise `error`. A test the operator
skipped (--no-reach, or --root: no running system) is `skipped`, and says so.
"""
from __future__ import annotations

from checks._host import gate, homed, reach, routable
from scanner.model import CheckMeta, Severity, Subject, error, fail, passed, skipped, text

META = CheckMeta(
    id="HOST-EGRESS",
    severity=Severity.CRITICAL,
    title=text("计算机可访问外部网络（违规外联）", "A computer reaches the outside (unauthorised outbound connection)"),
    needs=("host", "host_reach"),
    remediation=text(
        "立即断开该接口或路径（拔出共享网络的手机、4G 模块，关闭第二块网卡），"
        "检查防火墙与路由；按违规外联事件上报并查明外联期间传输的数据。",
        "Cut the interface or path now (unplug the tethered phone or the 4G modem, disable the "
        "second card), check the firewall and routes; report it as an unauthorised outbound "
        "connection and find out what was sent while it was open."),
    description=text(
        "在计算机内部经每个有地址的接口（SO_BINDTODEVICE 绑定）与默认路由，向清单中的外部探针发送带令牌的 TCP 与 UDP 探测；"
        "任何应答即违规外联。先以本网段网关或探针作正向对照，对照失败则无法判定。",
        "From inside the computer, tokened TCP and UDP probes to the inventory's canaries "
        "through every interface with an address (bound with SO_BINDTODEVICE) and by the "
        "default route; any answer is an unauthorised connection. A positive control (the "
        "own segment's gateway or probe) comes first; without it nothing passes."),
)

REACHED = ("answer",)
# A refusal (TCP RST, port unreachable) from the canary's address: the canary
# itself (reached), or a firewall on the way that rejects in its name -- this
# computer's own included (iptables REJECT in OUTPUT). From inside a computer
# that cannot be told apart: an `error` to look into, never a pass.
REFUSED = ("refused",)


def evaluate(inv, obs):
    yield from homed(inv, obs, _evaluate(inv, obs))


def _evaluate(inv, obs):
    rec, dev, why = gate(META, inv, obs)
    if why is not None:
        yield why
        return
    r = reach(obs)
    subj = Subject(device=dev.name)
    if r.status == "not-run":
        yield skipped(META, text(f"外联测试未进行：{r.error or '未运行'}",
                                 f"the reach test was skipped: {r.error or 'not run'}"), subject=subj)
        return
    reached = [p for p in r.probes if p.result in REACHED]
    by_via: dict[str, list] = {}
    for p in reached:
        by_via.setdefault(p.via, []).append(p)
    for via, ps in by_via.items():
        nic = rec.nic(via)
        label = nic.label() if nic is not None else "默认路由" if via == "default" else via
        en_label = nic.label() if nic is not None else "the default route" if via == "default" else via
        ip = next((a.split("/")[0] for a in (nic.addresses if nic else ()) if routable(a)), None)
        lines = [text(
            f"经 {label} 到达外部探针 {p.canary or p.dst}（{p.dst}:{p.port}/{p.proto}，"
            f"应答；令牌 …{(p.token or '')[-16:]}）",
            f"through {en_label} the canary {p.canary or p.dst} was reached ({p.dst}:{p.port}/"
            f"{p.proto}, answered; token ...{(p.token or '')[-16:]})") for p in ps[:8]]
        yield fail(META, lines, subject=Subject(ip=ip, mac=nic.mac if nic else None,
                                                device=dev.name,
                                                destination=f"{ps[0].dst}:{ps[0].port}/{ps[0].proto}"))
    answered = set(by_via)
    refused: dict[str, list] = {}
    for p in r.probes:
        if p.result in REFUSED and p.via not in answered:
            refused.setdefault(p.via, []).append(p)
    for via, ps in refused.items():
        nic = rec.nic(via)
        label = nic.label() if nic is not None else "默认路由" if via == "default" else via
        en_label = nic.label() if nic is not None else "the default route" if via == "default" else via
        ip = next((a.split("/")[0] for a in (nic.addresses if nic else ()) if routable(a)), None)
        dsts = ", ".join(sorted({f"{p.dst}:{p.port}/{p.proto}" for p in ps}))
        yield error(META, text(
            f"经 {label} 发往外部探针的探测被拒绝（{dsts}）：可能是探针本身拒绝（即已到达，违规外联），"
            "也可能是途中或本机防火墙以探针地址拒绝；请查明",
            f"the probes through {en_label} to the canary were refused ({dsts}): either the "
            f"canary itself refused (it was reached: an unauthorised connection) or a firewall on "
            f"the way, this computer's own included, rejected them in its name; find out which"),
            subject=Subject(ip=ip, mac=nic.mac if nic else None, device=dev.name))
    if reached or refused:
        return
    if r.status != "ok":
        yield error(META, text(f"无法判定：外联测试出错（{r.error}）",
                               f"could not be judged: the reach test failed ({r.error})"), subject=subj)
        return
    if not r.control_ok:
        tried = ", ".join(f"{c.what} {c.target} via {c.via}" for c in r.controls) or "none"
        yield error(META, text(f"无法判定：正向对照失败，本机未能到达本网段网关或探针（{tried}），"
                               "外联探测无应答不能证明隔离",
                               f"could not be judged: the positive control failed, the computer "
                               f"did not reach its own gateway or probe ({tried}); silence of the "
                               f"probes proves nothing"), subject=subj)
        return
    if not r.probes:
        yield error(META, text("无法判定：没有发出任何外联探测（清单中没有外部探针？）",
                               "could not be judged: no probe was sent (no canary in the inventory?)"),
                    subject=subj)
        return
    untested = [n for n in rec.interfaces
                if n.kind != "loopback" and (n.up or n.operstate == "up")
                and n.name not in r.interfaces and any(routable(a) for a in n.addresses)]
    if untested:             # an IPv6-only way out, or one that came up after the test
        yield error(META, [text(
            f"无法判定：接口 {n.label()} 已启用且有地址 {', '.join(n.addresses)}，但外联测试未经它探测"
            f"（仅 IPv6？测试后才启用？）",
            f"could not be judged: {n.label()} is up with {', '.join(n.addresses)} but the "
            f"reach test did not probe through it (IPv6 only? up after the test?)")
            for n in untested], subject=subj)
        return
    dsts = sorted({f"{p.dst}:{p.port}/{p.proto}" for p in r.probes})
    proxies = [text(f"注意：系统配置了代理 {x.name}={x.value}（{x.source}），外联测试不经代理，请核实",
                    f"note: a proxy is configured, {x.name}={x.value} ({x.source}); the reach "
                    f"test does not go through proxies, check it") for x in rec.proxies[:5]]
    yield passed(META, [text(
        f"经 {', '.join(r.interfaces)} 向 {', '.join(dsts)} 发出的 {len(r.probes)} 个带令牌探测均无应答"
        f"（正向对照：{', '.join(c.target for c in r.controls if c.ok)} 可达）",
        f"{len(r.probes)} tokened probes through {', '.join(r.interfaces)} to {', '.join(dsts)} got "
        f"no answer (positive control: {', '.join(c.target for c in r.controls if c.ok)} reached)")]
        + proxies, subject=subj)
