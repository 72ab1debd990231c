"""The built-in checks: plugins, one module per check (META + evaluate()), found
through the `isoscan.checks` entry points. They import scanner.model,
scanner.judge.live and scanner.observations; nothing in scanner/ imports them."""
