"""Typed observation records: one frozen dataclass per section (the framing every
check reads first: vantage, privileges, controls, each probe section's status,
and discovery's stations), each with

    r = Controls.from_json(obs.get("controls"))   # lenient: the ONE place that forgives
    r.to_json()                                   # the JSON the bundle holds

`from_json` takes whatever a bundle holds (an older isoscan's, a hand-edited or a
hostile one) and never raises: a value of the wrong type becomes the field's
default, and every default fails closed (ok False, status "not-run", no items).
Keys it does not know are kept in `extra`, and `to_json` writes them back, so a
well-formed section reads and writes back equal (tests/observations/).

The JSON Schema of these records (`json_schema()`) is printed in docs/SPEC.md,
and a test keeps the two equal. Sections without a record yet keep their dict
shape, documented in scanner/observations/__init__.py.
"""
from __future__ import annotations

from dataclasses import dataclass, field, fields
from typing import Any, ClassVar, Mapping

from scanner.observations import NOT_RUN, OK

# field kinds: "str", "text" (a string or {"zh-CN", "en"}), "bool", "int", "number", "strs" (a list of strings), a Record
# class (an object), or ("list", Record) (a list of objects)


def _clean(kind, v: Any, present: bool):
    if kind == "str":
        return v if isinstance(v, str) else None
    if kind == "text":       # a reason: one string, or the same in both languages
        if isinstance(v, str):
            return v
        if isinstance(v, Mapping) and v and all(isinstance(x, str) for x in v.values()):
            return dict(v)
        return None
    if kind == "bool":
        return v if isinstance(v, bool) else None
    if kind == "int":
        return v if isinstance(v, int) and not isinstance(v, bool) else None
    if kind == "number":
        return v if isinstance(v, (int, float)) and not isinstance(v, bool) else None
    if kind == "strs":
        return tuple(x for x in v if isinstance(x, str)) if isinstance(v, list) else ()
    if isinstance(kind, tuple):                      # ("list", Record)
        return tuple(kind[1].from_json(x) for x in v if isinstance(x, Mapping)) \
            if isinstance(v, list) else ()
    return kind.from_json(v) if present else None    # a nested Record


def _dump(kind, v: Any):
    if kind == "strs":
        return list(v)
    if isinstance(kind, tuple):
        return [x.to_json() for x in v]
    if isinstance(v, Record):
        return v.to_json()
    return v


class Record:
    """What every record shares: FIELDS (json key -> kind), `extra`, `given`."""
    FIELDS: ClassVar[dict] = {}
    ABOUT: ClassVar[str] = ""

    @classmethod
    def from_json(cls, data: Any):
        d = data if isinstance(data, Mapping) else {}
        values = {}
        for key, kind in cls.FIELDS.items():
            cleaned = _clean(kind, d.get(key), key in d)
            values[key] = cleaned if cleaned is not None else cls._default(key)
        extra = {k: v for k, v in d.items() if k not in cls.FIELDS}
        given = tuple(k for k in d if k in cls.FIELDS)
        return cls(**values, extra=extra, given=given)

    @classmethod
    def _default(cls, key):
        f = next(f for f in fields(cls) if f.name == key)
        return f.default_factory() if callable(f.default_factory) else f.default

    def to_json(self) -> dict:
        keys = self.given if self.given is not None else tuple(self.FIELDS)
        out = {k: _dump(self.FIELDS[k], getattr(self, k)) for k in keys}
        out.update(self.extra)
        return out


@dataclass(frozen=True)
class Vantage(Record):
    ABOUT: ClassVar[str] = "where the scan stood"
    FIELDS: ClassVar[dict] = {"segment": "str", "interface": "str", "ip": "str", "mac": "str",
                              "ipv6": "strs", "up": "bool"}
    segment: str | None = None
    interface: str | None = None
    ip: str | None = None
    mac: str | None = None
    ipv6: tuple[str, ...] = ()
    up: bool | None = None
    extra: dict = field(default_factory=dict, compare=False, repr=False)
    given: tuple | None = field(default=None, compare=False, repr=False)


@dataclass(frozen=True)
class Privileges(Record):
    ABOUT: ClassVar[str] = "root / CAP_NET_RAW established"
    FIELDS: ClassVar[dict] = {"ok": "bool", "error": "text"}
    ok: bool = False
    error: str | dict | None = None
    extra: dict = field(default_factory=dict, compare=False, repr=False)
    given: tuple | None = field(default=None, compare=False, repr=False)


@dataclass(frozen=True)
class ControlItem(Record):
    ABOUT: ClassVar[str] = "one positive control: something that must answer"
    FIELDS: ClassVar[dict] = {"kind": "str", "target": "str", "ok": "bool", "detail": "str",
                              "device": "str", "macs": "strs", "first_hop": "str"}
    kind: str | None = None
    target: str | None = None
    ok: bool = False
    detail: str | None = None
    device: str | None = None
    macs: tuple[str, ...] = ()
    first_hop: str | None = None
    extra: dict = field(default_factory=dict, compare=False, repr=False)
    given: tuple | None = field(default=None, compare=False, repr=False)


@dataclass(frozen=True)
class Controls(Record):
    ABOUT: ClassVar[str] = "the positive controls of this vantage (fail closed)"
    FIELDS: ClassVar[dict] = {"ok": "bool", "error": "text", "items": ("list", ControlItem)}
    ok: bool = False
    error: str | dict | None = None
    items: tuple[ControlItem, ...] = ()
    extra: dict = field(default_factory=dict, compare=False, repr=False)
    given: tuple | None = field(default=None, compare=False, repr=False)


@dataclass(frozen=True)
class Section(Record):
    ABOUT: ClassVar[str] = "the head of every probe section: did it run"
    FIELDS: ClassVar[dict] = {"status": "str", "error": "text"}
    status: str = NOT_RUN
    error: str | dict | None = None
    extra: dict = field(default_factory=dict, compare=False, repr=False)
    given: tuple | None = field(default=None, compare=False, repr=False)

    @property
    def ran(self) -> bool:
        return self.status == OK


@dataclass(frozen=True)
class Station(Record):
    ABOUT: ClassVar[str] = "a station discovery saw (IPv4 by ARP, IPv6 by ND)"
    FIELDS: ClassVar[dict] = {"ip": "str", "mac": "str", "via": "str", "seen": "str",
                              "scope": "str"}
    ip: str | None = None
    mac: str | None = None
    via: str | None = None
    seen: str | None = None
    scope: str | None = None
    extra: dict = field(default_factory=dict, compare=False, repr=False)
    given: tuple | None = field(default=None, compare=False, repr=False)


@dataclass(frozen=True)
class Discovery(Record):
    ABOUT: ClassVar[str] = "who answered on the vantage's own link"
    FIELDS: ClassVar[dict] = {"status": "str", "error": "text", "method": "str",
                              "hosts": ("list", Station), "neighbours6": ("list", Station),
                              "neighbours6_error": "text", "every_mac": "bool"}
    status: str = NOT_RUN
    error: str | dict | None = None
    method: str | None = None
    hosts: tuple[Station, ...] = ()
    neighbours6: tuple[Station, ...] = ()
    neighbours6_error: str | dict | None = None
    every_mac: bool | None = None
    extra: dict = field(default_factory=dict, compare=False, repr=False)
    given: tuple | None = field(default=None, compare=False, repr=False)


RECORDS = (Vantage, Privileges, ControlItem, Controls, Section, Station, Discovery)

# observation key -> its record (the probe sections without a record of their own
# are read through Section: their status and error)
TOP = {"vantage": Vantage, "privileges": Privileges, "controls": Controls,
       "discovery": Discovery}
SECTIONS = ("discovery", "forwarding", "egress", "inbound", "dhcp", "ra", "identity",
            "transfer_in", "canary")


def section_head(obs: Mapping[str, Any], name: str) -> Section:
    """The head of a probe section; a missing or malformed one is not-run."""
    s = obs.get(name) if isinstance(obs, Mapping) else None
    if not isinstance(s, Mapping):
        return Section(status=NOT_RUN, error=f"probe '{name}' did not run")
    return Section.from_json(s)


# --------------------------------------------------------------------------
# the JSON Schema of the records (docs/SPEC.md prints it; a test keeps them equal)

def _kind_schema(kind) -> dict:
    if kind == "str":
        return {"type": ["string", "null"]}
    if kind == "text":
        return {"type": ["string", "object", "null"], "additionalProperties": {"type": "string"}}
    if kind == "bool":
        return {"type": ["boolean", "null"]}
    if kind == "int":
        return {"type": ["integer", "null"]}
    if kind == "number":
        return {"type": ["number", "null"]}
    if kind == "strs":
        return {"type": "array", "items": {"type": "string"}}
    if isinstance(kind, tuple):
        return {"type": "array", "items": {"$ref": f"#/$defs/{kind[1].__name__}"}}
    return {"$ref": f"#/$defs/{kind.__name__}"}


def json_schema() -> dict:
    defs = {r.__name__: {"description": r.ABOUT, "type": "object",
                         "properties": {k: _kind_schema(v) for k, v in r.FIELDS.items()},
                         "additionalProperties": True}
            for r in RECORDS}
    top = {k: {"$ref": f"#/$defs/{r.__name__}"} for k, r in TOP.items()}
    for name in SECTIONS:
        top.setdefault(name, {"$ref": "#/$defs/Section"})
    return {"$schema": "https://json-schema.org/draft/2020-12/schema",
            "$id": "isoscan.observations/1", "type": "object",
            "properties": top, "additionalProperties": True, "$defs": defs}
