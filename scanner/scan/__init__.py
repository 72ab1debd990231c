"""Scanning from one vantage: who am I (vantage), what to probe (plan, the scope guard), running the probes (engine), progress."""
