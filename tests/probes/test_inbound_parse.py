"""The inbound probe's reading of nmap's output (no network)."""
from scanner.probes.inbound import Folded, port_spec

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
    got = Folded(XML)
    assert [p for p in range(1, 30) if got.state("198.51.100.1", "tcp", p) == "closed"] == \
        [1, 3, 21, 22, 23]
    assert got.state("198.51.100.1", "tcp", 443) is None          # listed as a port of its own
    assert got.state("198.51.100.2", "tcp", 80) == "filtered"     # a malformed range is skipped
    assert got.state("198.51.100.2", "udp", 80) is None
    assert Folded(b"<not xml").state("198.51.100.1", "tcp", 1) is None
    assert Folded(None).state("198.51.100.1", "tcp", 1) is None


def test_a_full_sweep_folded_stays_small():
    """65,535 closed ports of 256 addresses: ranges, not a dict entry per port."""
    import tracemalloc
    hosts = "".join(f'<host><address addr="198.51.100.{i}" addrtype="ipv4"/><ports>'
                    f'<extraports state="closed" count="65535"><extrareasons reason="reset" '
                    f'count="65535" proto="tcp" ports="1-65535"/></extraports></ports></host>'
                    for i in range(256))
    tracemalloc.start()
    got = Folded(f"<nmaprun>{hosts}</nmaprun>")
    peak = tracemalloc.get_traced_memory()[1]
    tracemalloc.stop()
    assert got.state("198.51.100.255", "tcp", 50022) == "closed"
    assert peak < 20 * 2**20, peak


def test_port_spec_folds_ranges():
    assert port_spec([443, 1, 2, 3, 80, 81]) == "1-3,80-81,443"
    assert port_spec(range(1, 65536)) == "1-65535"
