"""The `isoscan` command: a thin click group.

Each command lives in its own module under scanner/commands/ and is imported
only when it is called, so `isoscan validate` never pays for scapy's import.
Exit codes are the SPEC §3 ones; click's own usage errors exit 2.
"""
from __future__ import annotations

import importlib

import click

from scanner import __version__

# command name -> "module:attribute" (a click.Command)
COMMANDS = {
    "validate": "scanner.commands.validate:validate",
    "checks": "scanner.commands.checks:checks",
    "scan": "scanner.commands.scan:scan",
    "report": "scanner.commands.report:report",
    "canary": "scanner.commands.canary:canary",
    "lab": "scanner.commands.lab:lab",
    "demo": "scanner.commands.demo:demo",
    "alert": "scanner.commands.alert:alert",
    "keys": "scanner.commands.keys:keys",
    "verify": "scanner.commands.verify:verify",
    "ingest": "scanner.commands.ingest:ingest",
    "diff": "scanner.commands.history:diff",
    "history": "scanner.commands.history:history",
    "stations": "scanner.commands.history:stations",
    "serve": "scanner.commands.serve:serve",
    "push": "scanner.commands.push:push",
    "inventory": "scanner.commands.inventory:inventory",
    "watch": "scanner.commands.watch:watch",
    "host": "scanner.commands.host:host",
    "init": "scanner.commands.init:init",
    "service": "scanner.commands.service:service",
}


class LazyGroup(click.Group):
    def list_commands(self, ctx):
        return sorted(COMMANDS)

    def get_command(self, ctx, name):
        target = COMMANDS.get(name)
        if target is None:
            return None
        module, attr = target.split(":")
        try:
            return getattr(importlib.import_module(module), attr)
        except ModuleNotFoundError as exc:
            if exc.name == module:   # the command is not built yet
                return None
            raise


@click.group(cls=LazyGroup, context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, prog_name="isoscan")
def main():
    """isoscan: network isolation compliance scanner (网络隔离合规检查)."""


if __name__ == "__main__":  # pragma: no cover
    main()
