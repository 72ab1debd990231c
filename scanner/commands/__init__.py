"""The command line: one click adapter per command, imported lazily by cli.py.
Commands import anything and share commands/common.py; nothing imports them,
and a command never imports another."""
