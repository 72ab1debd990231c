"""Probes: the only code that touches the wire (nmap, scapy); each writes its
observation section. May import the plan (scan/plan.py, scan/vantage.py),
canary tokens, model/ and below; never judge/, scan/engine or anything above."""
