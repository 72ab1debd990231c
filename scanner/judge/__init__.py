"""Judging: the checks' entry points (registry), running them (run), the regulation mapping."""
