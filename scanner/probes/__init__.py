"""Probes: the only code that touches the wire (nmap, scapy)."""
