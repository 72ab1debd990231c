"""isoscan: network isolation compliance scanner.
Packages below import only lower layers (docs/architecture.md, tests/test_layers.py);
this module holds only the version."""

__version__ = "0.1.0"
