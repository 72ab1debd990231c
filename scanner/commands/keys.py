"""`isoscan keys new|show`: signing keys for bundles and canary logs (docs/SPEC.md §8).

Exit codes: 0 · 2 (a key that cannot be made or read; one line on stderr).
"""
from __future__ import annotations

import sys

import click

from scanner.model import LANGS, pick, text


@click.group("keys")
def keys():
    """Signing keys (签名密钥): Ed25519 key pairs for bundles and canary logs."""


@keys.command("new")
@click.option("--out", "out", required=True, type=click.Path(dir_okay=False),
              help="The private key file to create (mode 0600); the public key goes beside "
                   "it (.key -> .pub).")
@click.option("--name", "name", default=None,
              help="The unit's name for the key (kept in the .pub line), e.g. 'secret-lan probe'.")
@click.option("--alg", "alg", type=click.Choice(("ed25519", "sm2")), default="ed25519",
              show_default=True,
              help="ed25519, or sm2: SM2 signatures over SM3 digests (国密, by OpenSSL 3).")
@click.option("--lang", type=click.Choice(LANGS), default="zh-CN", show_default=True)
def new(out, name, lang, alg="ed25519"):
    """Make a key pair, Ed25519 or SM2 (生成密钥对)."""
    from scanner.evidence.keys import KeyFileError, new_key_pair, short_fingerprint
    try:
        priv, pub, fp = new_key_pair(out, name, "sm2-sm3" if alg == "sm2" else "ed25519")
    except KeyFileError as exc:
        click.echo(f"isoscan keys: {exc}", err=True)
        sys.exit(2)
    click.echo(pick(text(f"私钥：{priv}（权限 0600，勿外传）\n公钥：{pub}\n指纹：{fp}\n"
                         f"短指纹：{short_fingerprint(fp)}",
                         f"private key: {priv} (mode 0600, keep it here)\npublic key: {pub}\n"
                         f"fingerprint: {fp}\nshort: {short_fingerprint(fp)}"), lang))


@keys.command("show")
@click.argument("path", type=click.Path())
def show(path):
    """Print the fingerprint of a private or public key file (显示指纹)."""
    from scanner.evidence.keys import (KeyFileError, load_private_key, load_public_keys,
                                       short_fingerprint)
    try:
        with open(path, "rb") as fh:
            private = b"PRIVATE KEY" in fh.read(4096)
    except OSError as exc:
        click.echo(f"isoscan keys: {path}: cannot be read ({exc.strerror or exc})", err=True)
        sys.exit(2)
    try:
        ks = [load_private_key(path).public] if private else load_public_keys(path)
    except KeyFileError as exc:
        click.echo(f"isoscan keys: {exc}", err=True)
        sys.exit(2)
    from scanner.formats.text import clean
    for k in ks:
        click.echo(clean(f"{k.fingerprint}  {short_fingerprint(k.fingerprint)}  {k.name}".rstrip()))
