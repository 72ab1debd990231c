"""What `scan --sign` and `canary listen --sign` do, kept out of the commands:
load the key before anything is sent, sign, move the chain on once written."""
from __future__ import annotations

import sys

import click

from scanner.evidence.keys import KeyFileError, load_private_key
from scanner.evidence.sign import ChainState, SignError, Signer
from scanner.model import pick, text


def _fail(lang: str, zh: str, en: str) -> None:
    click.echo(pick(text(zh, en), lang), err=True)
    sys.exit(2)


def signer_for(key_path: str, chain_state: str | None, lang: str) -> Signer:
    """The signer of KEY (exit 2 with one line when the key is unusable)."""
    try:
        key = load_private_key(key_path)
    except KeyFileError as exc:
        _fail(lang, f"无法使用签名密钥：{exc}", f"cannot sign: {exc}")
    return Signer(key, ChainState(chain_state) if chain_state else None)


def sign_bundle(signer: Signer, doc: dict, lang: str, written: bool = True) -> dict:
    try:
        out = signer.sign(doc)
    except SignError as exc:
        _fail(lang, f"无法签名：{exc}", f"cannot sign: {exc}")
    if not written:     # nothing is kept, so the chain does not move on
        signer.abandon()
    return out


def commit(signer: Signer, lang: str) -> None:
    try:
        signer.commit()
    except SignError as exc:
        _fail(lang, f"结果包已写入并签名，但链状态无法更新：{exc}",
              f"the bundle is written and signed, but the chain state was not updated: {exc}")
