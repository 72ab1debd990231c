"""The outside canary: tokens (plan layer), the DNS query reader, the passive listener
(a vantage). Judging a canary log against bundles is judge/crossbundle/canary.py.
tokens.py and dns.py import only model/; listen.py may import judge/ and below."""
