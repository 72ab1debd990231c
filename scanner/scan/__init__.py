"""Scanning from one vantage: who am I (vantage), what to probe (plan, the scope
guard), running the probes and judging (engine), progress. plan.py and vantage.py
import only model/ and inventory/; engine.py may import probes/, judge/ and below."""
