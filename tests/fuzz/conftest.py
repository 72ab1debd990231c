"""Hypothesis keeps its caches (example database, scanned constants) outside
the working tree, in a temporary folder removed at exit: the fuzz tests leave
nothing behind."""
import atexit
import shutil
import tempfile

from hypothesis import configuration

_HOME = tempfile.mkdtemp(prefix="isoscan-hypothesis-")
configuration.set_hypothesis_home_dir(_HOME)
atexit.register(shutil.rmtree, _HOME, ignore_errors=True)
