"""Judging across bundles: what the canaries saw of every vantage (canary.py) and
the identities seen from several vantages (identities.py). Reads bundle dicts,
canary logs and inventory views; imports judge/, documents/, model/ and below."""
