"""Judging: the registry of checks (entry points), running them, the fail-closed gate
and wording live checks share (live.py), regulations, priority, crossbundle/.
May import probes/, the plan, documents/, observations, inventory/, model/; never checks/."""
