"""Which changes are worth telling someone: regressions only (pure, no I/O).

Three kinds of alert:

- ``new-finding``: a finding failing now that did not fail in the previous
  result (a Change of kind ``new``), of severity ``min_severity`` or above
  (default ``low``: a failing ``info`` finding is a notice, SPEC §5); also a
  service newly open on an address that already failed (ISO-LOGICAL is one
  finding per address: Change.opened names the ports, the key carries them);
- ``verdict-worse``: the verdict moved up the order
  ``compliant < incomplete < non-compliant``. compliant → incomplete is worse
  (part of the rules is no longer judged); non-compliant → incomplete is not
  (it is not a regression, and the new findings it may hide alert on their own);
  with no previous verdict nothing is compared;
- ``vantage-silent``: a vantage that was expected to report every N hours has
  no report newer than that (a scan that silently stopped is itself a finding).

Persisting, resolved and not-assessed changes never alert (not-assessed shows
as a worse verdict, incomplete, and a silent vantage).

Each alert has a `key` that names it for the outbox: a new finding once per
current result (`new-finding:<fingerprint>:<result id>`: the same pair of
results run twice alerts once; a finding resolved and back later alerts
again), a verdict change once per current result, a silent vantage once per
silence (`vantage-silent:<vantage>:<its last report time>`).
"""
from __future__ import annotations

import datetime as _dt
from dataclasses import asdict, dataclass, field
from typing import Iterable, Mapping, Protocol, Sequence

from scanner.model import text

KINDS = ("new-finding", "verdict-worse", "vantage-silent", "watch")   # watch: isoscan watch's events (alerts/watchsink.py)
VERDICT_RANK = {"compliant": 0, "incomplete": 1, "non-compliant": 2}
SEVERITIES = ("critical", "high", "medium", "low", "info")
SEVERITY_RANK = {s: i for i, s in enumerate(SEVERITIES)}      # 0 is the worst
SEVERITY_ZH = {"critical": "严重", "high": "高", "medium": "中", "low": "低", "info": "提示"}
VERDICT_ZH = {"compliant": "合规", "incomplete": "未完成", "non-compliant": "不合规"}


class ChangeLike(Protocol):
    """The shape of scanner.store's Change (the store helper's diff): what the
    rules read. Anything with these attributes will do."""
    kind: str            # 'new' | 'resolved' | 'persisting' | 'not-assessed'
    fingerprint: str
    check: str
    segment: str | None
    severity: str
    subject: Mapping | None
    title: object        # a str or {"zh-CN": ..., "en": ...}


@dataclass(frozen=True)
class Change:
    """The fields of scanner.store.changes.Change the rules read (the tests build
    these; `isoscan alert` passes the store's own)."""
    kind: str
    fingerprint: str
    check: str
    segment: str | None
    severity: str
    subject: Mapping | None = None
    title: object = ""


@dataclass(frozen=True)
class VantageSeen:
    """A vantage the config expects, when it last reported (None: never, as
    far as the inputs tell) and how often it should."""
    name: str                       # e.g. "office-lan" or "office-lan 10.20.0.5"
    last_report: _dt.datetime | None
    every_s: int


@dataclass(frozen=True)
class Alert:
    kind: str                       # one of KINDS
    key: str                        # what the outbox remembers
    severity: str
    segment: str | None
    title: Mapping[str, str]        # {"zh-CN": ..., "en": ...}
    text: Mapping[str, str]
    time: str                       # ISO 8601 UTC, when it was raised
    fingerprint: str | None = None
    check: str | None = None
    subject: Mapping | None = None
    details: Mapping = field(default_factory=dict)

    def to_json(self) -> dict:
        out = asdict(self)
        out["title"], out["text"] = dict(self.title), dict(self.text)
        return out

    @classmethod
    def from_json(cls, d: Mapping) -> "Alert":
        return cls(**{k: d.get(k) for k in ("kind", "key", "severity", "segment", "title",
                                            "text", "time", "fingerprint", "check", "subject")},
                   details=d.get("details") or {})


def iso(t: _dt.datetime) -> str:
    return t.astimezone(_dt.timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")


def _title(t: object, lang: str) -> str:
    if isinstance(t, Mapping):
        return str(t.get(lang) or t.get("en") or next(iter(t.values()), ""))
    return str(t or "")


def _named(check: str, title: object, lang: str) -> str:
    """'ISO-LOGICAL 非涉密网络向互联网开放了未声明的服务': the id and the title in `lang`."""
    return " ".join(x for x in (check, _title(title, lang).strip()) if x)


def _subject_words(s: Mapping | None) -> str:
    """Where the finding is, as every output says it (scanner.judge.priority.where):
    device, address, MAC, the open ports, the destination a leak reached."""
    from scanner.judge.priority import where
    return where({"subject": s}) if isinstance(s, Mapping) else ""


def _zh_verdict(v: str | None) -> str:
    return VERDICT_ZH.get(v or "", str(v))


def worse(previous: str | None, current: str | None) -> bool:
    if previous not in VERDICT_RANK or current not in VERDICT_RANK:
        return previous in VERDICT_RANK and current is not None   # an unknown verdict is worse
    return VERDICT_RANK[current] > VERDICT_RANK[previous]


def compute(changes: Iterable[ChangeLike], previous_verdict: str | None,
            current_verdict: str | None, vantages: Sequence[VantageSeen] = (),
            *, now: _dt.datetime, result_id: str, min_severity: str = "low",
            titles: Mapping[str, Mapping[str, str]] | None = None,
            zone=None) -> list[Alert]:
    """The alerts for one run. `result_id` names the current result (its
    scan_id) so that a finding that comes back after a fix alerts again.
    `titles` (check id → {"zh-CN", "en"}, from the checks' META) gives both
    languages where a change carries its title in one. `zone` (the unit's,
    scanner.localtime.unit_zone) is how the texts show a time; `time` stays UTC."""
    from scanner.localtime import local_iso
    at = iso(now)
    cut = SEVERITY_RANK.get(min_severity, SEVERITY_RANK["low"])
    out: list[Alert] = []
    for c in changes:
        opened = tuple(getattr(c, "opened", ()) or ())
        if c.kind != "new" and not opened:
            continue
        sev = c.severity if c.severity in SEVERITY_RANK else "critical"   # unknown: loudest
        if SEVERITY_RANK[sev] > cut:
            continue
        seg = c.segment or "—"
        t = (titles or {}).get(c.check) or c.title
        if opened:       # a service newly open on an address that already failed
            subject = {**dict(c.subject), "ports": list(opened)}
            subj = _subject_words(subject) or "—"
            out.append(Alert(
                kind="new-finding", key=f"new-finding:{c.fingerprint}:{'+'.join(opened)}:{result_id}",
                severity=sev, segment=c.segment,
                title=text(f"新开放：{_named(c.check, t, 'zh-CN')}", f"newly open: {_named(c.check, t, 'en')}"),
                text=text(f"新开放 {_named(c.check, t, 'zh-CN')}（{SEVERITY_ZH[sev]}）：{subj}（网段 {seg}）",
                          f"newly open {_named(c.check, t, 'en')} ({sev}): {subj} (segment {seg})"),
                time=at, fingerprint=c.fingerprint, check=c.check, subject=subject,
                details={"opened": list(opened)}))
            continue
        subj = _subject_words(c.subject) or "—"
        out.append(Alert(
            kind="new-finding", key=f"new-finding:{c.fingerprint}:{result_id}",
            severity=sev, segment=c.segment,
            title=text(f"新发现：{c.check} {_title(t, 'zh-CN')}".strip(),
                       f"new finding: {c.check} {_title(t, 'en')}".strip()),
            text=text(f"新发现 {_named(c.check, t, 'zh-CN')}（{SEVERITY_ZH[sev]}）：{subj}（网段 {seg}）",
                      f"new {_named(c.check, t, 'en')} ({sev}): {subj} (segment {seg})"),
            time=at, fingerprint=c.fingerprint, check=c.check,
            subject=dict(c.subject) if isinstance(c.subject, Mapping) else None))
    if previous_verdict is not None and worse(previous_verdict, current_verdict):
        sev = "high" if current_verdict == "non-compliant" else "medium"
        out.append(Alert(
            kind="verdict-worse", key=f"verdict-worse:{previous_verdict}->{current_verdict}:{result_id}",
            severity=sev, segment=None,
            title=text(f"结论变差：{_zh_verdict(previous_verdict)} → {_zh_verdict(current_verdict)}",
                       f"verdict worse: {previous_verdict} → {current_verdict}"),
            text=text(f"合规结论由“{_zh_verdict(previous_verdict)}”变为“{_zh_verdict(current_verdict)}”",
                      f"the compliance verdict went from {previous_verdict} to {current_verdict}"),
            time=at, details={"previous": previous_verdict, "current": current_verdict}))
    for v in vantages:
        last = v.last_report
        if last is not None and (now - last).total_seconds() <= v.every_s:
            continue
        since = iso(last) if last is not None else "never"
        shown = local_iso(last, zone) if last is not None else None
        hours = f"{v.every_s / 3600:g}"
        out.append(Alert(
            kind="vantage-silent", key=f"vantage-silent:{v.name}:{since}",
            severity="high", segment=v.name.split(" ")[0],
            title=text(f"探针沉默：{v.name}", f"vantage silent: {v.name}"),
            text=text(f"探针 {v.name} 超过 {hours} 小时未报告扫描结果（最近一次："
                      f"{shown or '从未'}）",
                      f"vantage {v.name} has not reported a scan for more than {hours} h "
                      f"(last report: {shown or 'never'})"),
            time=at, details={"last_report": since, "expected_every_s": v.every_s}))
    return out
