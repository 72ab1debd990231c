"""`isoscan verify FILE... --trust KEYS`: signatures and chains (docs/SPEC.md §8).

FILE is a signed bundle or canary log, or an evidence package (.zip of
`report --evidence`). Exit codes: 0 every file is validly signed by a trusted
key and every chain is whole · 1 otherwise · 2 bad input (a file that cannot
be read or is not JSON, a bad trust file, a refused package member, usage).
"""
from __future__ import annotations

import json
import sys

import click

from scanner.model import LANGS, pick, text

LABELS = {
    "valid": text("有效", "valid"), "untrusted": text("密钥不受信任", "UNTRUSTED KEY"),
    "invalid": text("签名无效", "INVALID SIGNATURE"), "unsigned": text("未签名", "UNSIGNED"),
    "whole": text("完整", "whole"), "broken": text("不完整", "BROKEN"),
}


def _say(line: str) -> None:
    from scanner.formats.text import clean     # file names and key names are data
    click.echo(clean(line))


def _print_results(results, chains, lang) -> None:
    for r in results:
        where = ""
        if r.chain:
            where = pick(text(f"；链 {r.chain} #{r.sequence}", f"; chain {r.chain} #{r.sequence}"), lang)
        _say(f"{r.name}: {pick(LABELS[r.status], lang)} — {pick(r.detail, lang)}{where}")
    for c in chains:
        span = f"#{c.links[0][0]}–#{c.links[-1][0]}" if c.links else ""
        _say(pick(text(f"链 {c.chain}：{pick(LABELS[c.status], lang)}（{span}，{len(c.links)} 个文件）",
                       f"chain {c.chain}: {pick(LABELS[c.status], lang)} ({span}, "
                       f"{len(c.links)} documents)"), lang))
        for p in c.problems:
            _say("  ! " + pick(p, lang))
        for n in c.notes:
            _say("  - " + pick(n, lang))


@click.command("verify")
@click.argument("files", nargs=-1, required=True, type=click.Path())
@click.option("--trust", "trust_paths", multiple=True, type=click.Path(),
              help="Trusted public keys: a folder of *.pub or a file of key lines (repeatable). "
                   "For an evidence package, the package's own keys/ when not given.")
@click.option("--chain-state", "states", multiple=True, type=click.Path(dir_okay=False),
              help="A probe's chain state file (repeatable): its newest signed bundle must be "
                   "among the files (shows a deleted or replaced last bundle).")
@click.option("--format", "fmt", type=click.Choice(("text", "json")), default="text",
              show_default=True)
@click.option("--lang", type=click.Choice(LANGS), default="zh-CN", show_default=True)
def verify(files, trust_paths, fmt, lang, states=()):
    """Verify signatures and chains of bundles, canary logs, evidence packages (验证签名与链)."""
    from scanner.evidence.keys import KeyFileError, load_trust
    from scanner.evidence.package import is_zip, verify_package
    from scanner.evidence.verify import (VerifyInputError, all_good, check_chains,
                                         read_document, verify_document)

    def bad(msg: str):
        click.echo(f"isoscan verify: {msg}", err=True)
        sys.exit(2)

    trust = None
    if trust_paths:
        try:
            trust = load_trust(list(trust_paths))
        except KeyFileError as exc:
            bad(str(exc))
    packages = [f for f in files if is_zip(f)]
    plain = [f for f in files if f not in packages]
    if plain and trust is None:
        bad(pick(text("验证结果包或哨兵记录需要 --trust（受信任公钥的目录或文件）",
                      "--trust KEYS is needed for bundles and canary logs (a folder or file "
                      "of trusted public keys)"), lang))
    results, out_json, good = [], {"files": [], "chains": [], "packages": []}, True
    try:
        for f in plain:
            results.append(verify_document(read_document(f), trust, f))
        reps = [verify_package(p, trust) for p in packages]
    except VerifyInputError as exc:
        bad(str(exc))
    chains = check_chains(results)
    if states:
        from scanner.evidence.sign import ChainState, SignError
        from scanner.evidence.verify import check_against_state
        for sp in states:
            try:
                st = ChainState(sp).read()
            except SignError as exc:
                bad(str(exc))
            if not st:
                bad(f"{sp}: no such chain state file")
            # the state is checked wherever its chain is: loose files, packages, or
            # (nowhere) as a broken chain of its own
            held = [rep for rep in reps if any(c.chain == st.get("chain") for c in rep.chains)]
            for rep in held:
                check_against_state(rep.chains, rep.results, st, sp)
            if not held or any(c.chain == st.get("chain") for c in chains):
                check_against_state(chains, results, st, sp)
    good = all_good(results, chains) if (results or chains) else True
    if fmt == "text":
        _print_results(results, chains, lang)
    out_json["files"] = [r.to_json(lang) for r in results]
    out_json["chains"] = [c.to_json(lang) for c in chains]
    for rep in reps:
        good = good and rep.ok
        if fmt == "text":
            _say(pick(text(f"== 证据包 {rep.name}：{'通过' if rep.ok else '未通过'}",
                           f"== evidence package {rep.name}: {'verified' if rep.ok else 'NOT verified'}"),
                      lang))
            if rep.signer:
                who = (trust or {}).get(rep.signer)
                _say("  + " + pick(text(
                    f"报告与 {len(rep.results)} 个输入的清单由 {rep.signer}" + (f"（{who.name}）" if who and who.name else "") + " 签名",
                    f"the report and the sums of {len(rep.results)} inputs are signed by {rep.signer}"
                    + (f" ({who.name})" if who and who.name else "")), lang))
            for p in rep.problems:
                _say("  ! " + pick(p, lang))
            if rep.trust_note:
                _say("  - " + pick(text("所用公钥：证据包自带（keys/）；请与单位登记的指纹核对，或给出 --trust",
                                        rep.trust_note), lang))
            _print_results(rep.results, rep.chains, lang)
        out_json["packages"].append({
            "file": rep.name, "ok": rep.ok, "problems": [pick(p, lang) for p in rep.problems],
            "trust": "package" if rep.trust_note else "given", "signed_by": rep.signer,
            "files": [r.to_json(lang) for r in rep.results],
            "chains": [c.to_json(lang) for c in rep.chains]})
    out_json["ok"] = good
    if fmt == "json":
        click.echo(json.dumps(out_json, ensure_ascii=False, indent=1))
    sys.exit(0 if good else 1)
