"""`isoscan serve`: the unit's console (SPEC §10).

    isoscan serve --db URL [--spool DIR] [--host 127.0.0.1 --port 8080] [--config console.yaml]
    isoscan serve user add NAME --role admin|inspector|viewer [--password-file F]   (else stdin)
    isoscan serve token add PROBE [--db URL]      prints a new push token once

The web server needs the `console` extra (starlette, uvicorn, argon2-cffi,
itsdangerous); a probe never needs it.
"""
from __future__ import annotations

import sys

import click

from scanner.commands.common import console_config as _config
from scanner.commands.common import console_trust as _trust
from scanner.commands.common import db_option, fail
from scanner.commands.common import open_console_store as _open

NEEDS = ("starlette", "uvicorn", "argon2", "itsdangerous")


def need_console_extra(what: str = "serve") -> None:
    import importlib.util
    missing = [m for m in NEEDS if importlib.util.find_spec(m) is None]
    if missing:
        fail(what, f"the console needs {', '.join(missing)}, which are not installed: "
                   f"{sys.executable} -m pip install 'isoscan[console]' "
                   "(a probe does not need them; only the collecting host does)")


@click.group("serve", invoke_without_command=True)
@db_option
@click.option("--spool", "spool", type=click.Path(file_okay=False), default=None,
              help="A folder of bundles that arrive as files (one-way transfer, media).")
@click.option("--host", default="127.0.0.1", show_default=True)
@click.option("--port", default=8080, show_default=True, type=click.IntRange(0, 65535))
@click.option("--config", "config", type=click.Path(dir_okay=False), default=None,
              help="console.yaml (SPEC §10.4)")
@click.pass_context
def serve(ctx, db, spool, host, port, config):
    """The unit's console: collects bundles, shows the unit's state (单位检查控制台)."""
    if ctx.invoked_subcommand is not None:
        ctx.obj = {"db": db}
        return
    need_console_extra()
    cfg = _config(config)
    trust = _trust(cfg)
    store = _open(db)
    from scanner.serve.accounts import audit
    sp = None
    if spool:
        from scanner.serve.spool import Spool, SpoolError

        def note(name, outcome, detail):
            audit(store, who="spool", role=None, remote="", method="SPOOL",
                  what=name, status={"stored": 201, "already": 409, "rejected": 400}.get(outcome, 500),
                  detail=detail)
        try:
            sp = Spool(spool, store, cfg, trust, on_result=note)
        except SpoolError as exc:
            fail("serve", str(exc))
    from scanner.serve.app import build_app, server
    app = build_app(store, cfg, trust, sp)
    if sp is not None:
        sp.start()
    click.echo(f"isoscan serve: http://{host}:{port}/ (store {store.url.split('@')[-1]}"
               f"{', spool ' + spool if spool else ''})", err=True)
    try:
        server(app, host, port).run()
    finally:
        if sp is not None:
            sp.stop()
        store.close()


@serve.group("user")
def user():
    """Console users (控制台用户)."""


@user.command("add")
@click.argument("name")
@click.option("--role", type=click.Choice(("admin", "inspector", "viewer")), required=True)
@click.option("--password-file", type=click.Path(dir_okay=False), default=None,
              help="Read the password from this file (else from standard input); never argv.")
@db_option
@click.pass_context
def user_add(ctx, name, role, password_file, db):
    """Add a user or set a user's role and password (first line of stdin or the file)."""
    need_console_extra("serve user add")
    if password_file:
        try:
            with open(password_file, encoding="utf-8") as fh:
                pw = fh.readline().rstrip("\r\n")
        except OSError as exc:
            fail("serve user add", f"{password_file}: cannot be read ({exc.strerror or exc})")
    else:
        if sys.stdin.isatty():
            import getpass
            pw = getpass.getpass("password: ")
        else:
            pw = sys.stdin.readline().rstrip("\r\n")
    store = _open(db or (ctx.obj or {}).get("db"), "serve user add")
    from scanner.serve.accounts import AccountError, add_user
    try:
        add_user(store, name, role, pw)
    except AccountError as exc:
        fail("serve user add", str(exc))
    finally:
        store.close()
    click.echo(f"user {name}: {role}", err=True)


@serve.group("token")
def token():
    """Probe push tokens (探针令牌)."""


@token.command("add")
@click.argument("probe")
@click.option("--segment", "segments", multiple=True,
              help="The token may push only bundles of a vantage on this segment (repeatable)")
@db_option
@click.pass_context
def token_add(ctx, probe, segments, db):
    """A new bearer token for PROBE, printed once on stdout (only its hash is kept)."""
    store = _open(db or (ctx.obj or {}).get("db"), "serve token add")
    from scanner.serve.accounts import AccountError, new_token
    try:
        click.echo(new_token(store, probe, by="cli", segments=segments))
    except AccountError as exc:
        fail("serve token add", str(exc))
    finally:
        store.close()
