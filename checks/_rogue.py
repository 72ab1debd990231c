"""What NET-DHCP and NET-IPV6-RA share: judging the senders of a rogue service.

Both checks read one section of answers (DHCP offers, router adverts), group
them by sender (source IP + source MAC), decide per sender whether it is one
the vantage segment declares, and fail each sender that is not; a pass needs
the probe to have run cleanly (scanner/probes/dhcp.py, scanner/probes/ra.py).
The rule of each check (its wording, what aggravates a fail) stays in its
module; this module holds the plumbing around it. Not a check (no META).
"""
from __future__ import annotations

from typing import Any, Callable, Iterable, Mapping

from scanner.judge.live import (host_label, interfaces_with_ip, not_from, problem,
                                subject, vantage_segment)
from scanner.model import CheckMeta, Finding, Inventory, Segment, Severity, Text, fail
from scanner.observations import section

DECLARED, IMPERSONATED, UNDECLARED = "declared", "impersonated", "undeclared"


def vantage(meta: CheckMeta, inv: Inventory, obs: Mapping[str, Any],
            internet: Text) -> tuple[Segment | None, Finding | None]:
    """The vantage segment, or the one finding to report instead: an error when
    the vantage is unknown, `skipped` (why: `internet`) on the internet, which
    is not the unit's to declare."""
    seg, err = vantage_segment(meta, inv, obs)
    if err is not None:
        return None, err
    if seg.is_internet:
        return None, not_from(meta, seg, internet)
    return seg, None


def declared_set(addresses: Iterable[Any] | None) -> set[str] | None:
    """The segment's declared addresses as strings; None when it declares none
    at all (every sender there is undeclared, as with an empty list)."""
    return None if addresses is None else {str(a) for a in addresses}


def listed(v: Any) -> list:
    return list(v) if isinstance(v, (list, tuple)) else []


def device_macs(inv: Inventory, ip: str) -> set[str]:
    """Every MAC of every device that has an interface with this address."""
    return {j.mac for d, _ in interfaces_with_ip(inv, ip) for j in d.interfaces if j.mac}


def match_declared(inv: Inventory, declared: set[str], src_ip: str | None,
                   macs: set[str]) -> tuple[str, set[str]]:
    """How a sender (its source address, the MACs it sent from) stands to the
    declared addresses: (DECLARED | IMPERSONATED | UNDECLARED, registered MACs).

    Declared by its address, unless that address is registered to a device
    whose MACs do not include the ones it sent from (IMPERSONATED; the
    registered MACs are returned); or declared because every MAC it sent from
    belongs to a device with a declared address (a service answers from its
    link-local address, an inventory declares its global one)."""
    if src_ip in declared:
        reg = device_macs(inv, src_ip)
        if reg and macs and not macs <= reg:
            return IMPERSONATED, reg
        return DECLARED, reg
    if macs and any(macs <= device_macs(inv, d) for d in declared):
        return DECLARED, set()
    return UNDECLARED, set()


def judge_senders(meta: CheckMeta, inv: Inventory, seg: Segment, answers: Iterable[dict], *,
                  reasons: Callable[[str | None, str | None, list[dict]], list],
                  aggravate: Callable[[list[dict]], tuple[Severity, list]],
                  describe: Callable[[dict], Text]) -> tuple[list[Finding], list[str]]:
    """One fail per sender (src_ip, src_mac) of `answers` that has reasons.

    reasons(src_ip, src_mac, its answers): why it is not declared ([]: it is).
    aggravate(its answers): (severity, further evidence) of a sender that fails.
    describe(answer): the evidence line of one answer.
    Returns (fails, labels of the declared senders seen): when both are empty,
    no sender answered at all."""
    senders: dict[tuple, list[dict]] = {}
    for a in answers:
        senders.setdefault((a["src_ip"], a["src_mac"]), []).append(a)
    fails: list[Finding] = []
    declared_seen: list[str] = []
    for (src_ip, src_mac), theirs in senders.items():
        why = reasons(src_ip, src_mac, theirs)
        if not why:
            declared_seen.append(host_label(src_ip, src_mac))
            continue
        severity, more = aggravate(theirs)
        evidence = [describe(a) for a in theirs] + why + more
        fails.append(fail(meta, evidence, segment=seg.name, severity=severity,
                          subject=subject(inv, src_ip, src_mac)))
    return fails, declared_seen


def wait_text(sec: Mapping[str, Any]) -> str:
    """The probe's wait window in seconds, for a summary ('?' when not recorded)."""
    wait = sec.get("wait")
    return f"{wait:g}" if isinstance(wait, (int, float)) else "?"


def pass_problem(obs: Mapping[str, Any], name: str, key: str) -> Text | str | None:
    """Why a pass is not earned: the probe of section `name` (or the vantage)
    had a problem, or the section's `key` is not a list of answers."""
    why = problem(obs, name)
    items = section(obs, name).get(key)
    if why is None and (not isinstance(items, list)
                        or any(not isinstance(a, Mapping) for a in items)):
        why = f"the {name} section's {key} are not a list of {key} (malformed observations)"
    return why
