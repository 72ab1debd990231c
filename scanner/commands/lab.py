"""`isoscan lab up|down|status|exec`: a real test network of namespaces.

Exit codes (SPEC §3): 0 done; 2 the lab could not be built, found or torn
down, or a usage error. `lab exec` passes on the command's own exit code.
"""
from __future__ import annotations

import json
import sys

import click


def _say(line: str, err: bool = False) -> None:
    """One line of text output; names and fault ids come from lab files and
    state folders, so terminal controls in them are shown escaped."""
    from scanner.formats.text import clean
    click.echo(clean(line), err=err)


# what a newcomer meets, and what to do about it
_HINTS = (
    (("Operation not permitted", "Permission denied"),
     "the lab needs root: CAP_NET_ADMIN and CAP_SYS_ADMIN to make network namespaces, "
     "bridges and iptables rules (sudo isoscan lab ...) / 实验网需要 root 权限"),
    (("Operation not supported", "Unknown device type", "not found in the kernel"),
     "this kernel lacks what the lab needs: network namespaces (CONFIG_NET_NS), veth and "
     "bridge support (modules veth, bridge), nf_tables for iptables; containers may forbid "
     "them / 内核缺少网络命名空间、veth 或网桥支持"),
    (("No such file or directory: 'ip'", "No such file or directory: 'iptables",
      "No such file or directory: 'dnsmasq'", "No such file or directory: 'radvd'"),
     "a system tool is missing: apt-get install -y iproute2 iptables dnsmasq-base radvd "
     "(or ./scripts/setup) / 缺少系统工具"),
)


def _fail(exc: Exception) -> None:
    msg = str(exc)
    for i, line in enumerate(msg.splitlines() or [""]):
        _say(f"isoscan lab: {line}" if i == 0 else line, err=True)
    for needles, hint in _HINTS:
        if any(n in msg for n in needles):
            _say(f"isoscan lab: {hint}", err=True)
    sys.exit(2)


@click.group("lab")
def lab():
    """Build and tear down test networks of Linux namespaces (实验网).

    \b
    isoscan lab up inventories/lab/demo.yaml [--faults ID,...|--clean]
    isoscan lab exec probe-office -- isoscan scan -i inventories/lab/demo.yaml
    isoscan lab status
    isoscan lab down [NAME]
    """


@lab.command("up")
@click.argument("paths", nargs=-1, required=True, type=click.Path())
@click.option("--faults", "faults_opt", metavar="ID,...",
              help="Seed only these faults (default: every fault of the file).")
@click.option("--clean", is_flag=True, help="Seed no fault (the unit as declared).")
@click.option("--name", help="Lab name (default: lab.name of the file).")
@click.option("--format", "fmt", type=click.Choice(("text", "json")), default="text")
def up(paths, faults_opt, clean, name, fmt):
    """Build the lab of a lab file (an inventory plus a `lab:` section)."""
    from scanner import lab as L
    if clean and faults_opt:
        _fail(click.UsageError("--clean and --faults exclude each other / 两个选项互斥"))
    faults = [] if clean else ([f.strip() for f in faults_opt.split(",") if f.strip()]
                               if faults_opt is not None else None)
    try:
        built = L.up(list(paths), faults=faults, name=name)
    except L.LabError as exc:
        _fail(exc)
    if fmt == "json":
        click.echo(json.dumps({"name": built.name, "prefix": built.prefix,
                               "hosts": {h.name: h.ns for h in built.hosts.values()},
                               "faults": [f.id for f in built.faults],
                               "timings": built.timings}, ensure_ascii=False, indent=1))
        return
    _say(f"实验网 {built.name} 已建立 / lab {built.name} is up: "
               f"{len(built.hosts)} hosts, {len(built.switches)} segments, "
               f"built in {built.timings.get('build_s', '?')} s")
    for h in built.hosts.values():
        legs = ", ".join(f"{l.segment} {l.ip or '-'} {l.mac or ''}".strip() for l in h.legs)
        _say(f"  {h.name:<20} {h.role:<7} {legs}")
    _say("faults / 故障: " + (", ".join(f"{f.id} ({f.kind})" for f in built.faults)
                                   or "none / 无"))


@lab.command("down")
@click.argument("name", required=False)
def down(name):
    """Tear down lab NAME (default: every lab that is up). Idempotent."""
    from scanner import lab as L
    try:
        gone = L.down(name)
    except (L.LabError, OSError) as exc:
        _fail(exc)
    _say(("removed / 已拆除: " + ", ".join(gone)) if gone else "nothing to remove / 无需拆除")


@lab.command("status")
@click.option("--format", "fmt", type=click.Choice(("text", "json")), default="text")
def status(fmt):
    """List the labs that are up."""
    from scanner import lab as L
    labs = L.status()
    if fmt == "json":
        click.echo(json.dumps(labs, ensure_ascii=False, indent=1))
        return
    if not labs:
        click.echo("no lab is up / 没有运行中的实验网")
    for s in labs:
        _say(f"{s['name']}: {s['status']}, {s['namespaces_present']}/{s['namespaces']} "
                   f"namespaces, {s['processes_alive']}/{s['processes']} processes, "
                   f"faults: {', '.join(str(f) for f in s['faults']) or 'none'}")


@lab.command("exec", context_settings={"ignore_unknown_options": True})
@click.option("--lab", "lab_name", help="Which lab (needed when several are up).")
@click.argument("host")
@click.argument("command", nargs=-1, required=True, type=click.UNPROCESSED)
def exec_(lab_name, host, command):
    """Run COMMAND on HOST of a lab:  isoscan lab exec HOST -- COMMAND..."""
    import os
    from scanner import lab as L
    from scanner.lab import netns
    try:
        ns = L.attach(lab_name).netns(host)
    except L.LabError as exc:
        _fail(exc)
    argv = netns.exec_argv(ns, list(command))
    sys.stdout.flush()
    os.execvp(argv[0], argv)
