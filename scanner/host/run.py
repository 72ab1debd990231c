"""One run of the host vantage: inventory -> the host record -> which device
this is -> the reach test -> the HOST-* checks -> the bundle (the same shape
as a scan's: scanner.bundle.build_bundle), so signing, storing, pushing,
merging and reporting never care that it came from inside a computer.

Order and refusals (exit 2, nothing sent):
1. the inventory is loaded; INV-SCHEMA problems stop the run, except those
   of `media:` entries, which are reported (in the bundle too) while the rest
   is judged;
2. without a canary the run refuses, unless the reach test is skipped
   (--no-reach) or cannot run (--root);
3. the computer is found by --device, else by its MACs, else its addresses.
"""
from __future__ import annotations

import datetime as _dt
import uuid
from dataclasses import dataclass, field
from typing import Callable

from scanner.host.collect import collect, with_logs
from scanner.host.record import HostRecord, ReachRecord
from scanner.host.root import Root
from scanner.judge.run import EXIT_BY_VERDICT, run_checks
from scanner.model import Finding, Status, pick, text


class HostInputError(Exception):
    """Usage or input error: exit 2. `message` is a Text; `findings` may explain."""

    def __init__(self, message, findings=()):
        self.message = message
        self.findings = list(findings)
        super().__init__(pick(message, "en"))


@dataclass
class HostResult:
    exit_code: int
    bundle: dict
    findings: list[Finding] = field(default_factory=list)
    notes: list = field(default_factory=list)       # Texts the command prints on stderr
    record: HostRecord | None = None


def _now() -> str:
    return _dt.datetime.now(_dt.timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")


def load(paths) -> tuple:
    """(inventory, media problems as findings) or HostInputError."""
    from scanner.inventory.load import InputError, load_inventory
    try:
        loaded = load_inventory(list(paths))
    except InputError as exc:
        raise HostInputError(text(f"清单无法读取：{exc}", f"inventory cannot be read: {exc}"))
    bad = [f for f in loaded.findings if f.status == Status.FAIL]
    media_only = bad and set(loaded.problem_sections) == {"media"} and \
        loaded.problem_sections["media"] == len(bad)
    if loaded.inventory is None or (bad and not media_only):
        raise HostInputError(text("清单不符合格式（INV-SCHEMA），检查未开始",
                                  "the inventory does not follow the schema (INV-SCHEMA): "
                                  "nothing was checked"), loaded.findings)
    return loaded.inventory, list(loaded.findings)


def find_device(inv, rec: HostRecord, name: str | None):
    """(device, how it was found) or HostInputError."""
    if name:
        dev = inv.device(name)
        if dev is None:
            raise HostInputError(text(f"清单中没有设备 {name}", f"no device {name} in the inventory"))
        return dev, text(f"按 --device {name}", f"by --device {name}")
    hits = {}
    for mac in rec.identity.macs:
        got = inv.device_by_mac(mac)
        if got is not None:
            hits.setdefault(got[0].name, (got[0], f"MAC {mac}"))
    if not hits:
        for n in rec.interfaces:
            for a in n.addresses:
                got = inv.device_by_ip(a.split("/")[0])
                if got is not None and n.kind != "loopback":
                    hits.setdefault(got[0].name, (got[0], f"address {a.split('/')[0]}"))
    if len(hits) == 1:
        dev, how = next(iter(hits.values()))
        return dev, text(f"按 {how}", f"by {how}")
    if not hits:
        raise HostInputError(text(
            "本机的 MAC 与地址均未在清单中登记：请用 --device 指明本机的设备名",
            "none of this computer's MACs or addresses is in the inventory: name the device "
            "with --device"))
    raise HostInputError(text(f"本机的 MAC/地址对应清单中的多台设备（{', '.join(sorted(hits))}）：请用 --device 指明",
                              f"this computer's MACs/addresses match several devices "
                              f"({', '.join(sorted(hits))}): name it with --device"))


def host_checks(ids=None):
    from scanner.judge.registry import load_checks
    reg = load_checks(ids)
    checks = [c for c in reg.checks if "host" in c.meta.needs]
    problems = list(reg.problems)
    if ids is None:
        problems += [f for f in reg.missing_problems() if f.check_id.startswith("HOST-")]
    return checks, problems


def run_host(paths, *, device: str | None = None, root: str = "/", reach: bool = True,
             lang: str = "zh-CN", addresses: Callable | None = None,
             journalctl: str | None = None, only: list[str] | None = None,
             record: HostRecord | None = None, files_root: str | None = None) -> HostResult:
    started = _now()
    inv, schema = load(paths)
    r = Root(root)
    live = r.is_live
    notes = [text(f"清单的 media: 有问题，已报告；其余部分照常判定（{len(schema)} 处）",
                  f"the inventory's media: has problems, reported; the rest is judged "
                  f"({len(schema)})")] if schema else []
    if reach and live and not inv.canaries:
        raise HostInputError(text(
            "清单中没有外部探针（canaries），无法进行外联测试：拒绝运行。声明探针，或用 --no-reach 跳过外联测试",
            "the inventory declares no canary, so the reach test cannot run: refused. Declare "
            "a canary, or skip the test with --no-reach"))
    if addresses is None and live:
        from scanner.host import netlink
        addresses = netlink.addresses
    files = Root(files_root) if files_root else r
    rec = record or collect(r, journalctl=journalctl, addresses=addresses if live else None,
                            files=files, read_logs=False)
    dev, how = find_device(inv, rec, device)
    from scanner.host.device import home_segment
    seg = home_segment(inv, dev)
    main = _main_interface(dev, rec)
    from scanner.canary import tokens
    scan_id = str(uuid.uuid4())
    key = tokens.new_key()
    if not live:
        rr = ReachRecord(status="not-run", error=pick(text(
            f"--root {r.path}：离线的文件树不是运行中的系统，外联测试未进行",
            f"--root {r.path}: an offline tree is not a running system; the reach test was "
            f"not run"), lang), segment=seg)
    elif not reach:
        rr = ReachRecord(status="not-run", error=pick(text(
            "--no-reach：操作者跳过了外联测试", "--no-reach: the operator skipped the reach test"),
            lang), segment=seg)
    else:
        rr = None
    box: dict = {}
    if rr is None:      # the reach test waits on the wire while the logs are read
        import threading
        from scanner.host import reach as reach_test

        def _reach():
            try:
                box["rr"] = reach_test.run(inv, dev, rec, tokens.TokenMinter(scan_id, seg or "", key),
                                           only=only)
            except Exception as exc:       # the test failed: an error, never a pass
                box["rr"] = ReachRecord(status="error", error=f"{type(exc).__name__}: {exc}",
                                        segment=seg)
        t = threading.Thread(target=_reach, name="isoscan-host-reach", daemon=True)
        t.start()
    if record is None:
        rec = with_logs(rec, files, journalctl)
    # while the reach test waits on the wire: the checks (entry points) and the
    # bundle code are loaded
    checks, problems = host_checks()
    from scanner.bundle import build_bundle
    from scanner.probes import wire
    if rr is None:
        t.join()
        rr = box["rr"]
    if rr.status == "not-run":
        notes.append(text(f"外联测试未进行：{rr.error}", f"reach test skipped: {rr.error}"))
    if not live:
        notes.append(text("离线文件树：接口地址取自其 /proc（若有），不是运行中的内核",
                          "an offline tree: the addresses come from its /proc (where it has one), "
                          "not from a running kernel"))
    vantage = {"kind": "host", "segment": seg, "device": dev.name,
               "interface": main.name if main else None,
               "ip": next((a.split("/")[0] for a in main.addresses if ":" not in a), None)
               if main else None,
               "mac": main.mac if main else None, "root": r.path, "found_by": pick(how, lang)}
    obs = {"vantage": vantage, "host": rec.to_json(), "host_reach": rr.to_json(),
           "canary_key": tokens.key_to_json(key), "privileges": wire.privileges()}
    findings = list(schema) + problems + run_checks([(c.meta, c.evaluate) for c in checks],
                                                    inv, obs)
    bundle = build_bundle(inventory=inv, vantage=vantage, observations=obs, findings=findings,
                          started_at=started, finished_at=_now(), lang=lang, scan_id=scan_id)
    return HostResult(EXIT_BY_VERDICT[bundle["summary"]["verdict"]], bundle, findings, notes, rec)


def _main_interface(dev, rec: HostRecord):
    macs = {i.mac for i in dev.interfaces if i.mac}
    ips = {str(i.ip) for i in dev.interfaces if i.ip is not None}
    for n in rec.interfaces:
        if n.mac in macs or any(a.split("/")[0] in ips for a in n.addresses):
            return n
    return None
