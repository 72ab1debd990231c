"""isoscan: network isolation compliance scanner."""

__version__ = "0.1.0"
