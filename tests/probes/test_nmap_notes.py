"""nmap's timing note is no error; anything else it says on stderr is (issue 24:
on a loaded /20 the note made the forwarding section an error)."""
import pytest

from scanner.probes.wire import ProbeError, check_nmap


class _Scanner:
    def __init__(self, errors):
        self.errors = errors

    def scaninfo(self):
        return {"error": self.errors}


def test_rttvar_note_is_not_an_error():
    check_nmap(_Scanner(["RTTVAR has grown to over 2.3 seconds, decreasing to 2.0\n"
                         "RTTVAR has grown to over 2.3 seconds, decreasing to 2.0\n"]))


def test_any_other_line_is():
    with pytest.raises(ProbeError) as e:
        check_nmap(_Scanner(["RTTVAR has grown to over 2.3 seconds, decreasing to 2.0\n"
                             "Failed to open device eth9\n"]))
    assert "Failed to open device eth9" in str(e.value) and "RTTVAR" not in str(e.value)
