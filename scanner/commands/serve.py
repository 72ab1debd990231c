"""`isoscan serve`: the unit's console (SPEC §10).

    isoscan serve --db URL [--spool DIR] [--host 127.0.0.1 --port 8080] [--config console.yaml]
    isoscan serve user add NAME --role admin|inspector|viewer [--password-file F]   (else stdin)
    isoscan serve token add PROBE [--db URL]      prints a new push token once
    isoscan serve token list | revoke ID
    isoscan serve user list | disable | enable | remove NAME
    isoscan serve waivers import waivers.yaml | export [-o waivers.yaml]

The web server needs the `console` extra (starlette, uvicorn, argon2-cffi,
pyotp); a probe never needs it.
"""
from __future__ import annotations

import sys

import click

from scanner.commands.common import console_config as _config
from scanner.commands.common import console_trust as _trust
from scanner.commands.common import db_option, fail
from scanner.commands.common import open_console_store as _open

NEEDS = ("starlette", "uvicorn", "argon2", "pyotp")


def need_console_extra(what: str = "serve") -> None:
    import importlib.util
    missing = [m for m in NEEDS if importlib.util.find_spec(m) is None]
    if missing:
        fail(what, f"the console needs {', '.join(missing)}, which are not installed: "
                   f"{sys.executable} -m pip install 'isoscan[console]' "
                   "(a probe does not need them; only the collecting host does)")


DEFAULT_KEY = "/var/lib/isoscan/console-ed25519.key"


def _signer(cfg, cmd="serve"):
    """The console's own key (console.yaml signing_key; else made once at
    $ISOSCAN_STATE_DIR or /var/lib/isoscan/console-ed25519.key, 0600): it signs
    the evidence zips the console hands out. Kept in a file, never in the
    database a probe's credentials can read."""
    import os
    from scanner.evidence.keys import KeyFileError, load_private_key, new_key_pair
    path = cfg.signing_key
    if not path:
        state = os.environ.get("ISOSCAN_STATE_DIR")
        path = os.path.join(state, "console-ed25519.key") if state else DEFAULT_KEY
        if not os.path.lexists(path):
            try:
                os.makedirs(os.path.dirname(path), mode=0o700, exist_ok=True)
                new_key_pair(path, "isoscan console")
            except (OSError, KeyFileError) as exc:
                fail(cmd, f"the console's signing key {path} cannot be made ({exc}); "
                          "set signing_key: in console.yaml")
    try:
        return load_private_key(path)
    except KeyFileError as exc:
        fail(cmd, f"signing_key: {exc}")


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
    signer = _signer(cfg)
    app = build_app(store, cfg, trust, sp, signer)
    if sp is not None:
        sp.start()
    click.echo(f"isoscan serve: http://{host}:{port}/ (store {store.url.split('@')[-1]}"
               f"{', spool ' + spool if spool else ''})", err=True)
    click.echo(f"isoscan serve: evidence zips are signed by {signer.fingerprint} "
               f"({signer.path}; its public key beside it)", err=True)
    try:
        server(app, host, port, cfg).run()
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


@token.command("list")
@db_option
@click.pass_context
def token_list(ctx, db):
    """Every token: id, probe, segments, made, by, revoked (never the token itself)."""
    store = _open(db or (ctx.obj or {}).get("db"), "serve token list")
    from scanner.serve.accounts import list_tokens
    try:
        for t in list_tokens(store):
            segs = ",".join(t["segments"]) if t["segments"] else "*"
            state = f"revoked {t['revoked_at']}" if t["revoked_at"] else "valid"
            click.echo(f"{t['id']}\t{t['probe']}\t{segs}\t{t['created_at']}\t"
                       f"{t['created_by'] or '-'}\t{state}")
    finally:
        store.close()


@token.command("revoke")
@click.argument("token_id", type=int)
@db_option
@click.pass_context
def token_revoke(ctx, token_id, db):
    """Revoke token TOKEN_ID (see `token list`): its pushes are refused from now on."""
    store = _open(db or (ctx.obj or {}).get("db"), "serve token revoke")
    from scanner.serve.accounts import audit, list_tokens, revoke_token
    try:
        if token_id not in {t["id"] for t in list_tokens(store)}:
            fail("serve token revoke", f"no token {token_id} (isoscan serve token list)")
        revoke_token(store, token_id)
        audit(store, who="cli", role=None, remote="", method="CLI", what="serve token revoke",
              status=200, detail="token revoked", target=f"token:{token_id}")
    finally:
        store.close()
    click.echo(f"token {token_id}: revoked", err=True)


def _user_change(ctx, db, cmd, name, fn, detail):
    store = _open(db or (ctx.obj or {}).get("db"), cmd)
    from scanner.serve.accounts import AccountError, audit
    try:
        fn(store, name)
        audit(store, who="cli", role=None, remote="", method="CLI", what=cmd, status=200,
              detail=detail, target=name)
    except AccountError as exc:
        fail(cmd, str(exc))
    finally:
        store.close()
    click.echo(f"user {name}: {detail}", err=True)


@user.command("disable")
@click.argument("name")
@db_option
@click.pass_context
def user_disable(ctx, name, db):
    """Disable a user: every session of theirs ends, no login until enabled."""
    from scanner.serve.accounts import disable_user
    _user_change(ctx, db, "serve user disable", name, disable_user, "disabled; sessions ended")


@user.command("enable")
@click.argument("name")
@db_option
@click.pass_context
def user_enable(ctx, name, db):
    from scanner.serve.accounts import disable_user
    _user_change(ctx, db, "serve user enable", name,
                 lambda s, n: disable_user(s, n, False), "enabled")


@user.command("remove")
@click.argument("name")
@db_option
@click.pass_context
def user_remove(ctx, name, db):
    """Remove a user and end every session of theirs."""
    from scanner.serve.accounts import remove_user
    _user_change(ctx, db, "serve user remove", name, remove_user, "removed; sessions ended")


@user.command("list")
@db_option
@click.pass_context
def user_list(ctx, db):
    store = _open(db or (ctx.obj or {}).get("db"), "serve user list")
    from scanner.serve.accounts import list_users
    try:
        for u in list_users(store):
            click.echo(f"{u['name']}\t{u['role']}\t{'disabled' if u['disabled'] else 'active'}\t"
                       f"{u['sessions']} session(s)\t{'totp' if u['totp'] else '-'}")
    finally:
        store.close()


@serve.group("waivers")
def waivers():
    """Waivers kept in the store (豁免): import from / export to waivers.yaml."""


@waivers.command("import")
@click.argument("path", type=click.Path(dir_okay=False, exists=True))
@db_option
@click.pass_context
def waivers_import(ctx, path, db):
    """Add every waiver of a waivers.yaml to the store (refused as report refuses it)."""
    store = _open(db or (ctx.obj or {}).get("db"), "serve waivers import")
    from scanner.serve.accounts import audit
    from scanner.serve.waiverstore import WaiverStoreError, import_yaml
    from scanner.waivers import WaiverError
    try:
        n = import_yaml(store, path, by="cli")
        audit(store, who="cli", role=None, remote="", method="CLI", what="serve waivers import",
              status=200, detail=f"{n} waivers imported from {path}", target=path)
    except (WaiverError, WaiverStoreError) as exc:
        fail("serve waivers import", str(exc))
    finally:
        store.close()
    click.echo(f"{n} waivers imported", err=True)


@waivers.command("export")
@click.option("-o", "--output", type=click.Path(dir_okay=False), default=None,
              help="Write here (else standard output).")
@db_option
@click.pass_context
def waivers_export(ctx, output, db):
    """The store's waivers (not revoked) as waivers.yaml."""
    store = _open(db or (ctx.obj or {}).get("db"), "serve waivers export")
    from scanner.serve.waiverstore import export_yaml
    try:
        text = export_yaml(store)
    finally:
        store.close()
    if output:
        from scanner.atomicio import open_atomic
        with open_atomic(output, prefix=".isoscan-waivers-") as fh:
            fh.write(text.encode("utf-8"))
    else:
        click.echo(text, nl=False)
