"""`isoscan demo`: the bundled lab, scanned from every vantage, judged, reported.

The demo is the lab's user, not part of the scanner: it builds the lab from
the bundled lab file (inventories/lab/demo.yaml in the source tree, installed
as the package data scanner/labs/demo.yaml), runs an outside canary listener on the canary
host, runs `isoscan scan` inside each probe's namespace exactly as a user
would on a real probe host, runs `isoscan host` inside the computers a fault
expects HOST-* findings of (issue 26), merges the bundles and the canary log into one
report, and compares what was found with the faults' `expect:` data.

Exit 0 only when every seeded fault was found and nothing else failed.
"""
from __future__ import annotations

import contextlib
import json
import os
import re
import shutil
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable, Iterable, Mapping, Sequence

from scanner.atomicio import write_text_atomic
from scanner.model import Severity, pick, text
from scanner.packagedata import data_file

DEMO_LAB = Path("inventories") / "lab" / "demo.yaml"     # in the source tree
LAB_PACKAGE = "scanner.labs"                              # the same folder, installed (pyproject)
SCAN_TIMEOUT = 300


class DemoError(Exception):
    """The demo cannot run here; the message says what to do (both languages)."""

    def __init__(self, message):
        super().__init__(pick(message, "en"))
        self.message = message


def find_lab_file(given: str | None = None) -> Path:
    """The demo lab file: given, else the source tree's, else the installed package data.

    Never the current folder's: `isoscan demo` behaves the same from any folder."""
    found = Path(given) if given else data_file(LAB_PACKAGE, str(DEMO_LAB.parent), DEMO_LAB.name)
    if found is not None and found.is_file():
        return found
    shown = given or DEMO_LAB
    raise DemoError(text(
        f"找不到演示实验网文件 {shown}（安装不完整：请重新运行 ./scripts/setup，或用 --lab-file 指定）",
        f"cannot find the demo lab file {shown} (the installation is incomplete: run "
        "./scripts/setup again, or name a lab file with --lab-file)"))


def preflight() -> None:
    """Say what is missing, with what to do about it, before anything is built."""
    if os.geteuid() != 0:
        raise DemoError(text(
            "演示需要 root：搭建实验网需要 CAP_NET_ADMIN（网络命名空间、网桥、iptables），"
            "探测需要 CAP_NET_RAW。请用 sudo isoscan demo 运行。",
            "the demo needs root: building the lab needs CAP_NET_ADMIN (network namespaces, "
            "bridges, iptables) and the probes need CAP_NET_RAW. Run: sudo isoscan demo"))
    missing = [tool for tool in ("ip", "nmap", "iptables") if shutil.which(tool) is None]
    if missing:
        raise DemoError(text(
            f"缺少程序：{', '.join(missing)}。请安装：apt-get install -y nmap iproute2 iptables"
            "（或运行 ./scripts/setup）",
            f"missing programs: {', '.join(missing)}. Install them: "
            "apt-get install -y nmap iproute2 iptables (or run ./scripts/setup)"))
    probe = subprocess.run(["ip", "netns", "list"], capture_output=True, text=True)
    if probe.returncode != 0:
        raise DemoError(text(
            "内核不支持网络命名空间（ip netns 失败）：需要 CONFIG_NET_NS、veth 和 bridge 支持，"
            "且不能在限制了这些功能的容器中运行。" + probe.stderr.strip(),
            "this kernel offers no network namespaces (ip netns failed): the lab needs "
            "CONFIG_NET_NS, veth and bridge support, outside a container that forbids them. "
            + probe.stderr.strip()))


@dataclass
class Expectation:
    fault: str
    check: str
    vantage: str
    ip: str | None
    mac: str | None
    device: str | None
    canary_only: bool
    found_by: str | None = None      # "scan" | "canary" | None (missed)
    port: int | None = None          # the service a finding names (ISO-LOGICAL)


@dataclass
class DemoResult:
    out_dir: Path
    faults: list[str] = field(default_factory=list)             # seeded fault ids
    vantages: dict[str, dict] = field(default_factory=dict)   # probe -> {exit, verdict, bundle}
    expectations: list[Expectation] = field(default_factory=list)
    unexpected: list[dict] = field(default_factory=list)
    report: Path | None = None
    merged_verdict: str | None = None
    tally: dict | None = None        # the report's one count (scanner.report.fixfirst.finding_tally)

    def faults_found(self) -> int:
        """Faults all of whose expected findings were found (a fault may expect several)."""
        return sum(1 for f in self.faults
                   if all(e.found_by for e in self.expectations if e.fault == f))

    @property
    def ok(self) -> bool:
        return (bool(self.expectations)
                and all(e.found_by for e in self.expectations)
                and not self.unexpected
                and all(v.get("bundle") for v in self.vantages.values()))


def expectations_of(faults) -> list[Expectation]:
    out = []
    for f in faults:
        for e in f.expect:
            if e.get("status") in ("pass", "error"):
                continue              # nothing to find: the unexpected list says the rest
            out.append(Expectation(
                fault=f.id, check=e["check"], vantage=e.get("vantage", ""),
                ip=_s(e.get("ip")), mac=_s(e.get("mac")), device=_s(e.get("device")),
                canary_only="canary" in str(e.get("note", "")), port=e.get("port")))
    return out


def _s(v) -> str | None:
    return None if v is None else str(v).lower()


def matches(e: Expectation, finding: Mapping) -> bool:
    """A failing finding of the expected check about the expected subject."""
    if finding.get("status") != "fail" or finding.get("check_id") != e.check:
        return False
    subj = finding.get("subject") or {}
    for want, have in ((e.ip, subj.get("ip")), (e.mac, subj.get("mac")),
                       (e.device, subj.get("device"))):
        if want is not None and _s(have) != want:
            return False
    if e.port is not None:      # the finding names the service: '3389/tcp' in its evidence
        named = re.compile(rf"(?<![0-9]){e.port}/(?:tcp|udp)\b")
        return any(named.search(str(ev)) for ev in finding.get("evidence") or ())
    return True


def reconcile(expect: list[Expectation], by_vantage: Mapping[str, Sequence[Mapping]],
              merged: Sequence[Mapping]) -> list[dict]:
    """Mark each expectation found (by its vantage's scan, else by the merged,
    canary-informed result); return the failing findings nobody expected."""
    for e in expect:
        if any(matches(e, f) for f in by_vantage.get(e.vantage, ())):
            e.found_by = "scan"
        elif any(matches(e, f) for f in merged):
            e.found_by = "canary" if e.canary_only else "merge"
    return [f for f in merged
            if f.get("status") == "fail" and f.get("severity") != Severity.INFO.value
            and not any(matches(e, f) for e in expect)]


def run(*, out_dir: Path, lab_file: Path, lang: str, keep: bool,
        say: Callable[[str], None], name: str | None = None) -> DemoResult:
    from scanner import lab as labmod
    from scanner.bundle import bundle_sha256, read_bundle
    from scanner.canary.listen import LabWitness
    from scanner.report.render import merge_report, render_report

    preflight()
    out_dir.mkdir(parents=True, exist_ok=True)
    result = DemoResult(out_dir=out_dir)
    _t = lambda zh, en: say(pick(text(zh, en), lang))  # noqa: E731
    for line in intro_lines(lang):
        say(line)

    _, spec, _ = labmod.load(lab_file)
    name = name or spec.name
    labmod.down(name)                            # a lab left up by an earlier --keep
    shown = _shown_lab(lab_file)
    _t(f"搭建实验网 {shown} …", f"building the lab {shown} …")
    t0 = time.monotonic()
    lab = labmod.up(lab_file, name=name)
    try:
        _t(f"实验网已就绪：{len(lab.hosts)} 台主机，{len(lab.faults)} 个预置故障，用时 "
           f"{time.monotonic() - t0:.1f} 秒",
           f"lab up: {len(lab.hosts)} hosts, {len(lab.faults)} seeded faults, "
           f"{time.monotonic() - t0:.1f} s")
        result.faults = [f.id for f in lab.faults]
        result.expectations = expectations_of(lab.faults)
        broken_here = {e.vantage for e in result.expectations}
        probes = sorted(h for h, v in lab.hosts.items() if v.kind == "probe")
        canaries = sorted(h for h, v in lab.hosts.items() if v.role == "canary")
        findings_by_vantage: dict[str, list] = {}
        bundles, digests = [], []
        with contextlib.ExitStack() as stack:
            # the outside witnesses listen for the whole scan (issue 8)
            witnesses = [stack.enter_context(LabWitness(lab, c, str(out_dir / f"canary-{c}.json")))
                         for c in canaries]
            for probe in probes:
                bundle_path = out_dir / f"bundle-{probe}.json"
                _t(f"从 {probe} 扫描 …", f"scanning from {probe} …")
                t1 = time.monotonic()
                # the full inbound sweep (every TCP port; a few seconds on the
                # lab's one public address) finds the high-port forward too
                r = lab.exec(probe, _isoscan("scan", "-i", *lab.files, "-o", str(bundle_path),
                                             "--lang", lang, "--quiet", "--inbound", "full"),
                             timeout=SCAN_TIMEOUT)
                info = {"exit": r.returncode, "seconds": round(time.monotonic() - t1, 1),
                        "bundle": None, "verdict": None}
                if bundle_path.is_file():
                    b = read_bundle(bundle_path)
                    bundles.append(b)
                    digests.append(bundle_sha256(bundle_path))
                    info.update(bundle=str(bundle_path), verdict=b["summary"]["verdict"])
                    findings_by_vantage[probe] = b["findings"]
                else:
                    info["stderr"] = r.stderr.strip()[-2000:]
                result.vantages[probe] = info
                expected = (info["verdict"] == "non-compliant" and probe in broken_here)
                _t(f"  {probe}：{_verdict(info['verdict'], lang)}（退出码 {r.returncode}，"
                   f"{info['seconds']} 秒）" + ("——此处有预置故障，符合预期" if expected else ""),
                   f"  {probe}: {_verdict(info['verdict'], lang)} (exit {r.returncode}, "
                   f"{info['seconds']} s)" + (" — expected: faults are seeded here" if expected else ""))
            # issue 26: `isoscan host` inside the computers a fault expects it of
            for host in sorted({e.vantage for e in result.expectations
                                if e.check.startswith("HOST-")}):
                _t(f"在 {host} 本机检查（isoscan host）…", f"checking {host} from inside (isoscan host) …")
                info = _host_run(lab, host, out_dir, lang)
                if info.get("bundle"):
                    b = read_bundle(info["bundle"])
                    bundles.append(b)
                    digests.append(bundle_sha256(info["bundle"]))
                    findings_by_vantage[host] = b["findings"]
                result.vantages[host] = info
                _t(f"  {host}：{_verdict(info['verdict'], lang)}（退出码 {info['exit']}，"
                   f"{info['seconds']} 秒）——此处有预置故障，符合预期",
                   f"  {host}: {_verdict(info['verdict'], lang)} (exit {info['exit']}, "
                   f"{info['seconds']} s) — expected: faults are seeded here")
        canary_logs = [w.log for w in witnesses if w.log is not None]
        merged = merge_report(bundles, lang, canary_logs, digests)
        html = render_report(bundles, lang, canary_logs, digests, merged=merged)
        result.report = out_dir / "report.html"
        write_text_atomic(result.report, html, fsync=False, prefix=".isoscan-report-")
        write_text_atomic(out_dir / "merged.json", json.dumps(merged, ensure_ascii=False, indent=1),
                          fsync=False, prefix=".isoscan-report-")
        result.merged_verdict = merged.get("summary", {}).get("verdict")
        from scanner.report.fixfirst import finding_tally
        result.tally = finding_tally(merged)
        result.unexpected = reconcile(result.expectations, findings_by_vantage,
                                      merged.get("findings", []))
    finally:
        if keep:
            _t(f"实验网保留运行（--keep）：isoscan lab exec HOST -- 命令；用 isoscan lab down {lab.name} 拆除",
               f"the lab stays up (--keep): isoscan lab exec HOST -- COMMAND; "
               f"isoscan lab down {lab.name} removes it")
        else:
            lab.down()
    return result


def _shown_lab(path: Path) -> str:
    """The lab file as a person reads it: the bundled one by its name (never the
    install path under the venv), another one as given."""
    bundled = data_file(LAB_PACKAGE, str(DEMO_LAB.parent), DEMO_LAB.name)
    try:
        same = bundled is not None and Path(bundled).resolve() == Path(path).resolve()
    except OSError:
        same = False
    return f"isoscan:{DEMO_LAB.name}" if same else str(path)
def _host_run(lab, host: str, out_dir: Path, lang: str) -> dict:
    """`isoscan host` inside lab host `host`. A lab host shares this machine's
    disk, whose logs and profiles are not the PC's: its own etc and var/log
    are a fresh, empty tree (--files-root)."""
    from scanner.bundle import read_bundle
    files = out_dir / "host-files"
    (files / "var" / "log").mkdir(parents=True, exist_ok=True)
    (files / "etc").mkdir(parents=True, exist_ok=True)
    (files / "var" / "log" / "kern.log").touch()
    path = out_dir / f"host-{host}.json"
    t1 = time.monotonic()
    r = lab.exec(host, _isoscan("host", "-i", *lab.files, "--device", host, "--files-root",
                                str(files), "-o", str(path), "--lang", lang, "--quiet"),
                 timeout=SCAN_TIMEOUT)
    info = {"exit": r.returncode, "seconds": round(time.monotonic() - t1, 1), "bundle": None,
            "verdict": None}
    if path.is_file():
        info.update(bundle=str(path), verdict=read_bundle(path)["summary"]["verdict"])
    else:
        info["stderr"] = r.stderr.strip()[-2000:]
    return info


def _isoscan(*args: str) -> list[str]:
    """This very isoscan, whatever PATH says inside the namespace."""
    return [sys.executable, "-m", "scanner.cli", *args]


def _verdict(v: str | None, lang: str) -> str:
    names = {"compliant": text("合规", "compliant"),
             "non-compliant": text("不合规", "non-compliant"),
             "incomplete": text("不完整", "incomplete"),
             None: text("无结果包", "no bundle")}
    return pick(names.get(v, text(str(v), str(v))), lang)


def intro_lines(lang: str) -> list[str]:
    """What the demo is, what its per-vantage verdicts mean, and how to switch languages."""
    t = lambda zh, en: pick(text(zh, en), lang)  # noqa: E731
    return [
        t("isoscan 演示：搭建一个故意违规的实验网（预置故障），从每个探测点扫描，生成报告。",
          "isoscan demo: a lab that is broken on purpose (seeded faults), scanned from every "
          "vantage, then reported."),
        t("每个探测点的结论“不合规”（退出码 1）正是预期结果；每个预置故障都被发现且没有其他违规时，"
          "演示通过（退出码 0）。",
          "Each vantage's verdict \"non-compliant\" (exit 1) is the expected result; the demo "
          "passes (exit 0) when every seeded fault is found and nothing else fails."),
        t("In English: isoscan demo --lang en", "中文输出：isoscan demo --lang zh-CN"),
    ]


def summary_lines(res: DemoResult, lang: str) -> Iterable[str]:
    t = lambda zh, en: pick(text(zh, en), lang)  # noqa: E731
    n_faults, n_expected = len(res.faults), len(res.expectations)
    yield t(f"预置故障 {n_faults} 个，预期 {n_expected} 条（一个故障可由多项检查发现；"
            "一项发现可满足多条预期，如一台主机的多个开放端口是同一项发现）：",
            f"{n_faults} seeded faults, {n_expected} expectations (a fault can be found by "
            "several checks; one finding can meet several, as one host's open ports are one "
            "finding):")
    for e in res.expectations:
        how = {"scan": t("扫描发现", "found by the scan"),
               "canary": t("外部哨兵发现", "found by the outside canary"),
               "merge": t("合并结果发现", "found in the merged result"),
               None: t("未发现", "MISSED")}[e.found_by]
        mark = "✔" if e.found_by else "✘"
        subj = " ".join(x for x in (e.device, e.ip, e.mac, f"{e.port}/tcp" if e.port else None) if x)
        yield f"  {mark} {e.fault:<20} {e.check:<17} {subj}  — {how}"
    if res.unexpected:
        yield t("意外的违规项（误报或实验网偏差）：", "unexpected failures (false positives or a lab drift):")
        for f in res.unexpected:
            s = f.get("subject") or {}
            yield f"  ✘ {f['check_id']} {s.get('ip') or ''} {s.get('mac') or ''} {f.get('segment') or ''}"
    yield t("各探测点结论（实验网故意违规：有预置故障的探测点“不合规”符合预期）：",
            "verdict per vantage (the lab is broken on purpose: non-compliant where faults "
            "are seeded is expected):")
    for probe, info in res.vantages.items():
        yield f"  {probe:<16} {_verdict(info['verdict'], lang)}"
        if info.get("stderr"):
            yield "    " + info["stderr"].replace("\n", "\n    ")
    if res.report:
        yield t(f"报告：{res.report}", f"report: {res.report}")
    if res.tally is not None:       # the count the report and the record give
        yield "  " + tally_line(res.tally, lang)
    found = sum(1 for e in res.expectations if e.found_by)
    counts = text(f"发现 {res.faults_found()}/{n_faults} 个预置故障（满足预期 {found}/{n_expected} 条）",
                  f"{res.faults_found()}/{n_faults} seeded faults found "
                  f"({found}/{n_expected} expectations met)")
    yield (t(f"结果：{counts['zh-CN']}，无意外违规 —— 通过（PASS）",
             f"result: {counts['en']}, nothing unexpected — PASS")
           if res.ok else
           t(f"结果：{counts['zh-CN']}，意外违规 {len(res.unexpected)} 项 —— 未通过（FAIL）",
             f"result: {counts['en']}, {len(res.unexpected)} unexpected — FAIL"))


def tally_line(tally: Mapping[str, int], lang: str) -> str:
    """The report's one count of findings, in the words of the report's "what to fix first"."""
    from scanner.report.strings import STRINGS
    S = STRINGS[lang]
    parts = [S["ff_tally_violations"].format(n=tally["violations"])]
    parts += [S["ff_tally_" + k].format(n=tally[k]) for k in ("notices", "errors", "waived")
              if tally.get(k)]
    return S["ff_tally_sep"].join(parts)
