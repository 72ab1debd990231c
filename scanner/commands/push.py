"""`isoscan push FILE... --url URL [--token-file F]`: send bundles and canary
logs to a console (SPEC §10.1). Without a token the bundles must be signed by a
key the console trusts. Exit codes: 0 every file stored (or stored already),
1 a file was refused (the others were sent), 2 usage error or unreachable."""
from __future__ import annotations

import sys

import click


@click.command("push")
@click.argument("files", nargs=-1, required=True, type=click.Path())
@click.option("--url", required=True, help="The console, e.g. https://collector.example/")
@click.option("--token-file", type=click.Path(dir_okay=False), default=None,
              help="The probe's token (first line); default $ISOSCAN_PUSH_TOKEN, else none "
                   "(signed bundles).")
@click.option("-q", "--quiet", is_flag=True)
def push(files, url, token_file, quiet):
    """Send bundles to the unit's console (上报结果)."""
    from scanner.serve.client import PushError, push_file, read_token
    try:
        token = read_token(token_file)
    except PushError as exc:
        click.echo(f"isoscan push: {exc}", err=True)
        sys.exit(2)
    refused = 0
    for f in files:
        try:
            r = push_file(url, f, token)
        except PushError as exc:
            click.echo(f"isoscan push: {f}: {exc}", err=True)
            if exc.status is None:
                sys.exit(2)
            refused += 1
            continue
        if not quiet:
            what = "already stored" if r.get("already_stored") else "stored"
            click.echo(f"{f}: {r.get('kind')} {r.get('scan_id') or ''} {what}", err=True)
    sys.exit(1 if refused else 0)
