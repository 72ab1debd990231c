"""`isoscan canary listen`: the outside witness (SPEC §3). Exit 0 · 2."""
from __future__ import annotations

import sys

import click

from scanner.model import pick, text


def _say(t, lang: str) -> None:
    click.echo(pick(t, lang), err=True)


@click.group()
def canary():
    """Outside canary (外部哨兵): record tagged probes that leave the unit."""


@canary.command()
@click.option("-o", "--output", default="hits.json", show_default=True,
              help="canary log to write (JSON, isoscan.canary/1); '-' for stdout")
@click.option("--interface", "interfaces", multiple=True,
              help="interface to capture on (repeatable; default: the default route's)")
@click.option("--duration", type=click.FloatRange(min=0), default=None,
              help="stop after S seconds (default: until SIGINT/SIGTERM)")
@click.option("--zone", default=None,
              help="DNS zone delegated to this canary: its queries are recorded and answered")
@click.option("--max-arrivals", type=click.IntRange(min=1), default=10_000, show_default=True,
              help="records kept at most (later arrivals are only counted)")
@click.option("--lang", type=click.Choice(["zh-CN", "en"]), default="zh-CN", show_default=True)
@click.option("--quiet", is_flag=True, help="print nothing while listening")
@click.option("--sign", "sign_key", default=None, metavar="KEY",
              help="sign the final log with the canary's private key (isoscan keys new)")
@click.option("--chain-state", "chain_state", default=None,
              help="the canary's chain state file (default /var/lib/isoscan/chain/canary-<address>.json)")
def listen(output, interfaces, duration, zone, max_arrivals, lang, quiet, sign_key=None,
           chain_state=None):
    """Record every tagged probe that arrives (needs no key; --sign signs the log)."""
    from scanner.canary.listen import ListenError, listen as run
    finish = signer = None
    if sign_key:    # checked before capturing
        from scanner.evidence.scanhook import sign_bundle, signer_for
        signer = signer_for(sign_key, chain_state, lang)

        def finish(log):
            return sign_bundle(signer, log, lang)

    def arrival(rec):
        if not quiet:
            _say(text(f"到达：{rec['proto']} 来自 {rec['src']} → {rec['dst']} 剩余TTL {rec['ttl']}",
                      f"arrival: {rec['proto']} from {rec['src']} to {rec['dst']}, TTL left {rec['ttl']}"),
                 lang)

    def ready():
        if not quiet:
            _say(text("哨兵正在监听（Ctrl-C 停止并写入记录）",
                      "canary listening (Ctrl-C stops and writes the log)"), lang)

    try:
        log = run(output, interfaces=interfaces, duration=duration, zone=zone,
                  max_arrivals=max_arrivals, on_arrival=arrival, ready=ready, finish=finish)
    except ListenError as exc:
        _say(text(f"错误：{exc}（需要 root 或 CAP_NET_RAW）", f"error: {exc} (needs root or CAP_NET_RAW)"), lang)
        sys.exit(2)
    except OSError as exc:
        _say(text(f"错误：无法写入 {output}：{exc}", f"error: cannot write {output}: {exc}"), lang)
        if signer is not None:
            signer.abandon()
        sys.exit(2)
    if signer is not None:
        from scanner.evidence.scanhook import commit
        commit(signer, lang)
    if not quiet:
        n, d = len(log["arrivals"]), log["stats"]["dropped"]
        _say(text(f"已写入 {output}：{n} 条记录，超出上限丢弃 {d} 条",
                  f"wrote {output}: {n} arrivals, {d} dropped at the cap"), lang)
    sys.exit(0)
