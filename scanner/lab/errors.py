"""The one error the lab raises: a clear, one-paragraph reason."""
from __future__ import annotations


class LabError(Exception):
    """The lab could not be built, found or torn down (CLI exit 2)."""
