"""The inbound probe's reading of nmap's output (no network)."""
from scanner.probes.inbound import extra_states, port_spec

XML = b"""<?xml version="1.0"?><nmaprun><host><status state="up"/>
<address addr="198.51.100.1" addrtype="ipv4"/><address addr="02:00:00:00:FF:01" addrtype="mac"/>
<ports><extraports state="closed" count="5">
<extrareasons reason="reset" count="5" proto="tcp" ports="1,3,21-23"/></extraports>
<port protocol="tcp" portid="443"><state state="open" reason="syn-ack"/></port></ports></host>
<host><address addr="198.51.100.2" addrtype="ipv4"/><ports><extraports state="filtered" count="2">
<extrareasons reason="no-response" count="2" proto="tcp" ports="80,x-9"/></extraports></ports></host>
</nmaprun>"""


def test_folded_ports_are_read_back():
    """nmap folds same-state ports into <extraports>; python-nmap drops them,
    which read closed ports (an answer: the unit was reached) as filtered."""
    got = extra_states(XML)
    assert got["198.51.100.1"] == {("tcp", p): "closed" for p in (1, 3, 21, 22, 23)}
    assert got["198.51.100.2"] == {("tcp", 80): "filtered"}      # a malformed range is skipped
    assert extra_states(b"<not xml") == {} and extra_states(None) == {}


def test_port_spec_folds_ranges():
    assert port_spec([443, 1, 2, 3, 80, 81]) == "1-3,80-81,443"
    assert port_spec(range(1, 65536)) == "1-65535"
