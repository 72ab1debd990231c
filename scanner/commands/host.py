"""`isoscan host`: the host vantage, run on the classified computer itself.

    isoscan host -i INVENTORY [--device NAME] [-o FILE] [--sign KEY] [--db URL]
                 [--push URL] [--root DIR] [--lang ...] [--no-reach] [--watch]

Exit codes are scan's (SPEC §3): 0 compliant · 1 non-compliant · 2 usage or
input error (nothing was sent) · 3 incomplete. The bundle is written, signed,
stored and pushed by the same code as `isoscan scan`'s.
"""
from __future__ import annotations

import json
import sys

import click

from scanner.formats.text import clean
from scanner.model import LANGS, pick, text


def _say(lang, t, err=True):
    click.echo(clean(pick(t, lang)), err=err)


@click.command("host")
@click.option("-i", "--inventory", "inventory", multiple=True, required=True,
              type=click.Path(), help="Inventory file or folder (repeatable) / 清单文件或目录")
@click.option("--device", "device", default=None,
              help="This computer's device name in the inventory (default: found by its MACs "
                   "and addresses) / 本机在清单中的设备名")
@click.option("-o", "--output", "output", type=click.Path(dir_okay=False),
              help="Write the result bundle (JSON) here / 结果包输出路径")
@click.option("--root", "root", type=click.Path(file_okay=False, exists=True), default="/",
              show_default=True,
              help="Read sys, proc, etc and var/log under DIR (a mounted disk, read-only); the "
                   "live parts are skipped / 读取 DIR 下的离线文件树（只读）")
@click.option("--files-root", "files_root", type=click.Path(file_okay=False, exists=True),
              default=None,
              help="Read etc and var/log under DIR while sys, proc and the network are this "
                   "system's (a lab host shares its machine's disk)")
@click.option("--lang", "lang", type=click.Choice(LANGS), default="zh-CN", show_default=True)
@click.option("--no-reach", "no_reach", is_flag=True,
              help="Skip the reach test (违规外联 probes to the canaries); the result says so")
@click.option("--watch", "watch", is_flag=True,
              help="Keep running: re-check within 2 s when an interface or address appears, "
                   "and alert (see isoscan alert)")
@click.option("--alerts", "alerts_file", type=click.Path(dir_okay=False), default=None,
              help="The alert channels for --watch (the file `isoscan alert` reads)")
@click.option("--outbox", "outbox", type=click.Path(), default=None,
              help="Where --watch keeps alerts it could not deliver yet (a file, or a folder "
                   "for host-watch.jsonl); default: the alerts file's outbox")
@click.option("-q", "--quiet", is_flag=True, help="Only the verdict line")
@click.option("--sign", "sign_key", type=click.Path(dir_okay=False), default=None, metavar="KEY",
              help="Sign the bundle with this private key / 用此私钥签名结果包")
@click.option("--chain-state", "chain_state", type=click.Path(dir_okay=False), default=None,
              help="The chain state file of --sign")
@click.option("--db", "db", default=None, metavar="URL",
              help="Also store the bundle in this store (SQLite file or postgresql://...)")
@click.option("--push", "push_url", default=None, metavar="URL",
              help="Also send the bundle to the unit's console (isoscan serve)")
@click.option("--token-file", "token_file", type=click.Path(dir_okay=False), default=None,
              help="The push token for --push (default $ISOSCAN_PUSH_TOKEN)")
def host(inventory, device, output, root, files_root, lang, no_reach, watch, alerts_file, outbox, quiet,
         sign_key, chain_state, db, push_url, token_file):
    """Check this computer from inside: wireless, network cards, forwarding,
    removable media, and whether it reaches the outside (违规外联).

    在涉密计算机本机检查：无线设备、网卡、转发、移动存储介质与违规外联
    （退出码 0 合规 · 1 不合规 · 2 输入错误 · 3 不完整）。
    """
    from scanner.commands.common import (print_summary as _summary, push_bundle as _push,
                                         store_bundle as _store, write_private as _write)
    from scanner.host.run import HostInputError, run_host

    if watch:
        from scanner.host.watch import watch_forever
        sys.exit(watch_forever(list(inventory), device=device, lang=lang, alerts_file=alerts_file,
                               outbox=outbox, quiet=quiet, no_reach=no_reach,
                               files_root=files_root))
    signer = None
    if sign_key:   # the key is checked before anything is sent
        from scanner.evidence.scanhook import signer_for
        signer = signer_for(sign_key, chain_state, lang)
    try:
        result = run_host(list(inventory), device=device, root=root, reach=not no_reach,
                          lang=lang, files_root=files_root)
    except KeyboardInterrupt:
        _say(lang, text("检查被中断：结果不完整", "interrupted: the result is incomplete"))
        sys.exit(3)
    except HostInputError as exc:
        _say(lang, text("isoscan host：", "isoscan host: "))
        _say(lang, exc.message)
        for f in exc.findings[:50]:
            where = f"{f.location}: " if f.location else ""
            click.echo(clean(f"  {where}{f.check_id}: " + "; ".join(pick(e, lang) for e in f.evidence)),
                       err=True)
        sys.exit(2)
    except Exception as exc:   # a crash must not read as a verdict
        import traceback
        traceback.print_exc()
        _say(lang, text(f"内部错误，无法判定（{type(exc).__name__}: {exc}）",
                        f"internal error, nothing could be judged ({type(exc).__name__}: {exc})"))
        sys.exit(3)
    for n in result.notes:
        _say(lang, n)
    if not quiet and result.record is not None:
        _say(lang, _coverage(result.record, result.bundle["observations"].get("host_reach") or {}))
    for f in result.findings:
        if f.check_id == "INV-SCHEMA":
            click.echo(clean(f"  {f.location or ''}: INV-SCHEMA: "
                             + "; ".join(pick(e, lang) for e in f.evidence)), err=True)
    bundle = result.bundle
    if signer is not None:
        from scanner.evidence.scanhook import sign_bundle
        bundle = sign_bundle(signer, bundle, lang, written=bool(output))
    if output:
        data = json.dumps(bundle, ensure_ascii=False, separators=(",", ":"))
        try:
            _write(output, data)
        except OSError as exc:
            _say(lang, text(f"无法写入 {output}：{exc}", f"cannot write {output}: {exc}"))
            if signer is not None:
                signer.abandon()
            sys.exit(2)
        if signer is not None:
            from scanner.evidence.scanhook import commit
            commit(signer, lang)
    _summary(bundle, lang, quiet)
    if db and not _store(bundle, db, lang):
        sys.exit(2)
    if push_url and not _push(bundle, push_url, token_file, lang):
        sys.exit(2)
    sys.exit(result.exit_code)


def _coverage(rec, reach) -> dict:
    """What was looked at, in one line (the coverage a pass rests on)."""
    via = ", ".join(reach.get("interfaces") or ()) or "-"
    logs = len(rec.logs_read)
    return text(f"检查范围：{len(rec.interfaces)} 个接口，{len(rec.radios)} 个无线设备，"
                f"{len(rec.storage)} 个 USB 存储设备，{logs} 个日志（{rec.log_lines} 行），"
                f"{len(rec.profiles)} 个已保存的网络配置；外联测试经 {via}",
                f"looked at: {len(rec.interfaces)} interfaces, {len(rec.radios)} radios, "
                f"{len(rec.storage)} USB storage devices, {logs} logs ({rec.log_lines} lines), "
                f"{len(rec.profiles)} saved profiles; reach test through {via}")

