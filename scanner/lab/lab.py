"""A running lab, as callers use it: names, hosts, faults, exec."""
from __future__ import annotations

import os
import subprocess
from dataclasses import dataclass
from typing import Mapping, Sequence

from scanner.lab import netns, state
from scanner.lab.errors import LabError


@dataclass(frozen=True)
class LabLeg:
    ifname: str
    segment: str
    ips: tuple[str, ...]
    mac: str | None
    note: str = ""

    @property
    def ip(self) -> str | None:
        return self.ips[0] if self.ips else None


@dataclass(frozen=True)
class LabHost:
    name: str
    ns: str
    role: str                 # device | canary | fault
    kind: str
    legs: tuple[LabLeg, ...]
    tcp: tuple[int, ...] = ()
    udp: tuple[int, ...] = ()

    def leg_on(self, segment: str) -> LabLeg | None:
        return next((l for l in self.legs if l.segment == segment), None)

    @property
    def ip(self) -> str | None:
        return self.legs[0].ip if self.legs else None


@dataclass(frozen=True)
class LabFault:
    id: str
    kind: str
    params: Mapping
    expect: tuple[Mapping, ...]


class Lab:
    """A lab that is up (built by `up`, or found again by `attach(name)`)."""

    def __init__(self, st: dict):
        self._st = st
        self.name: str = st["name"]
        self.prefix: str = st["prefix"]
        self.files: list[str] = list(st.get("files") or [])
        self.hosts: dict[str, LabHost] = {
            n: LabHost(n, h["ns"], h["role"], h["kind"],
                       tuple(LabLeg(l["ifname"], l["segment"], tuple(l["ips"]), l["mac"],
                                    l.get("note", "")) for l in h["legs"]),
                       tuple(h.get("tcp", ())), tuple(h.get("udp", ())))
            for n, h in st["hosts"].items()}
        self.faults: list[LabFault] = [
            LabFault(f["id"], f["kind"], f["params"], tuple(f["expect"]))
            for f in st.get("faults", [])]
        self.switches: dict[str, str] = {s: v["ns"] for s, v in st.get("switches", {}).items()}
        self.timings: dict = dict(st.get("timings") or {})

    def __repr__(self) -> str:
        return f"<Lab {self.name} hosts={len(self.hosts)} faults={[f.id for f in self.faults]}>"

    def __enter__(self) -> "Lab":
        return self

    def __exit__(self, *exc) -> None:
        self.down()

    def fault(self, fault_id: str) -> LabFault | None:
        return next((f for f in self.faults if f.id == fault_id), None)

    def expectations(self) -> list[dict]:
        """Every seeded fault's expectations, flat: {fault, kind, check, vantage, ip?, mac?, device?}."""
        return [{"fault": f.id, "kind": f.kind, **e} for f in self.faults for e in f.expect]

    def netns(self, host: str) -> str:
        """The namespace of a device, canary or fault host (or a segment's switch)."""
        h = self.hosts.get(host)
        if h is not None:
            return h.ns
        if host in self.switches:
            return self.switches[host]
        raise LabError(f"lab {self.name}: no host {host!r}; hosts: {', '.join(sorted(self.hosts))}"
                       " / 实验网中没有该主机")

    def exec(self, host: str, argv: Sequence[str], timeout: float | None = 60,
             check: bool = False, env: Mapping[str, str] | None = None,
             input: str | None = None) -> subprocess.CompletedProcess:
        """Run argv inside host's namespace; output captured as text."""
        full_env = None if env is None else {**os.environ, **env}
        return subprocess.run(netns.exec_argv(self.netns(host), list(argv)), capture_output=True,
                              text=True, timeout=timeout, check=check, env=full_env, input=input)

    def spawn(self, host: str, argv: Sequence[str], **popen_kw) -> subprocess.Popen:
        """Start a background process in host's namespace; `down` kills it if you do not."""
        p = subprocess.Popen(netns.exec_argv(self.netns(host), list(argv)), **popen_kw)
        state.add_proc(self.name, state.proc_record(p.pid, "spawned " + str(argv[0]),
                                                    self.netns(host)))
        return p

    def hits(self, host: str) -> list[dict]:
        """What host's listener received so far: [{"proto", "port", "peer", "t"}, ...]."""
        import json
        from scanner.lab.plan import hits_file
        try:
            with open(hits_file(state.run_dir(self.name), self.netns(host)),
                      encoding="utf-8") as fh:
                return [json.loads(line) for line in fh if line.strip()]
        except FileNotFoundError:
            return []

    def down(self) -> None:
        from scanner.lab.teardown import down_one
        down_one(self.name)


def attach(name: str | None = None) -> Lab:
    """The lab `name` that is up (or the only one, when name is None)."""
    if name is None:
        names = state.names()
        if len(names) != 1:
            raise LabError("no lab is up / 没有运行中的实验网" if not names else
                           f"several labs are up ({', '.join(names)}); name one with --lab"
                           " / 有多个实验网，请用 --lab 指定")
        name = names[0]
    st = state.load(name)
    if st is None or st.get("status") != "up":
        raise LabError(f"lab {name!r} is not up / 实验网 {name} 未运行")
    return Lab(st)
