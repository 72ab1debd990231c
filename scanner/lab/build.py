"""Topology -> running namespaces. On any failure: tear down, raise LabError.

Order (each step one concurrent round of `ip -batch` / `sysctl` jobs):
namespaces; sysctls (before any link, so new links inherit `default`);
bridges and veths; ports enslaved and up; addresses, links up, routes;
firewalls; processes (started, recorded, waited for).
"""
from __future__ import annotations

import os
import subprocess
import time

from netaddr import IPAddress

from scanner.lab import netns, state
from scanner.lab.errors import LabError
from scanner.lab.plan import render_iptables
from scanner.lab.topology import Switch, Topology


def _host_link_lines(topo: Topology, h) -> list[str]:
    lines = ["link set lo up"]
    for leg in h.legs:
        sw = topo.switches[leg.segment]
        mac = ["address", leg.mac] if leg.mac else []
        lines.append(" ".join(["link", "add", leg.ifname, *mac, "type", "veth",
                               "peer", "name", leg.port, "netns", sw.ns]))
    return lines


def _host_addr_lines(h) -> list[str]:
    lines = []
    for leg in h.legs:
        for a in leg.addrs:
            v6 = IPAddress(a.split("/")[0]).version == 6
            lines.append(f"addr add {a} dev {leg.ifname}" + (" nodad" if v6 else ""))
        lines.append(f"link set {leg.ifname} up")
        for net in leg.onlink:
            lines.append(f"route replace {net} dev {leg.ifname}")
    for r in h.routes + h.extra_routes:
        lines.append("route replace " + " ".join(r))
    return lines


def initial_state(topo: Topology, files: list[str], spec_file: str | None) -> dict:
    return {
        "name": topo.name, "prefix": topo.prefix, "status": "building",
        "created_at": time.time(), "files": files, "lab_file": spec_file,
        "namespaces": topo.namespaces(),
        "switches": {s.segment: {"ns": s.ns, "ports": list(s.ports)}
                     for s in topo.switches.values()},
        "hosts": {h.name: h.to_json() for h in topo.hosts.values()},
        "faults": topo.faults, "procs": [], "timings": {},
    }


def build(topo: Topology, files: list[str], spec_file: str | None = None) -> dict:
    """Make the lab; return its state. Raises LabError after tearing down."""
    from scanner.lab.teardown import down_one
    if os.geteuid() != 0:
        raise LabError("the lab needs root (CAP_NET_ADMIN, CAP_SYS_ADMIN) / 实验网需要 root 权限")
    existing = [n for n in netns.list_netns() if n.startswith(topo.prefix)]
    if state.load(topo.name) is not None or existing:
        raise LabError(f"lab {topo.name!r} is already up; run `isoscan lab down {topo.name}`"
                       f" / 实验网 {topo.name} 已在运行")
    st = initial_state(topo, files, spec_file)
    state.save(topo.name, st)        # before anything exists: a crash leaves a recipe for `down`
    t0 = time.monotonic()
    try:
        _make(topo)
        st["timings"]["network_s"] = round(time.monotonic() - t0, 3)
        st["procs"] = _start_procs(topo)
        st["status"] = "up"
        st["timings"]["build_s"] = round(time.monotonic() - t0, 3)
        state.save(topo.name, st)
        _wait_ready(topo, st["procs"])
        st["timings"]["build_s"] = round(time.monotonic() - t0, 3)
        state.save(topo.name, st)
        return st
    except BaseException as exc:
        try:
            down_one(topo.name)
        finally:
            if isinstance(exc, LabError):
                raise
            if isinstance(exc, Exception):
                raise LabError(f"building lab {topo.name!r} failed: {exc}") from exc
        raise


def _make(topo: Topology) -> None:
    nss = topo.namespaces()
    netns.run_jobs([netns.batch(None, [f"netns add {n}" for n in nss], "creating namespaces")])
    bridge_nf = netns.bridge_nf_loaded()
    jobs = [netns.sysctl_job(s.ns, Switch.sysctls(bridge_nf)) for s in topo.switches.values()]
    jobs += [netns.sysctl_job(h.ns, h.sysctls()) for h in topo.hosts.values()]
    netns.run_jobs(jobs)
    jobs = [netns.batch(s.ns, ["link set lo up",
                               "link add br0 type bridge stp_state 0 forward_delay 0"
                               " mcast_snooping 0", "link set br0 up"], f"switch {s.segment}")
            for s in topo.switches.values()]
    netns.run_jobs(jobs)
    netns.run_jobs([netns.batch(h.ns, _host_link_lines(topo, h), f"links of {h.name}")
                    for h in topo.hosts.values()])
    netns.run_jobs([netns.batch(s.ns, [f"link set {p} master br0 up" for p in s.ports],
                                f"ports of switch {s.segment}")
                    for s in topo.switches.values() if s.ports])
    netns.run_jobs([netns.batch(h.ns, _host_addr_lines(h), f"addresses of {h.name}")
                    for h in topo.hosts.values() if h.legs])
    jobs = []
    for h in topo.hosts.values():
        for v6 in (False, True):
            rules = render_iptables(h, v6)
            if rules:
                jobs.append(netns.restore_job(h.ns, rules, v6))
    netns.run_jobs(jobs)


def _start_procs(topo: Topology) -> list[dict]:
    recs = []
    for h in topo.hosts.values():
        for p in h.procs:
            for path, content in p.files.items():
                with open(path, "w", encoding="utf-8") as fh:
                    fh.write(content)
                os.chmod(path, 0o644)
            if p.ready_file:
                try:
                    os.unlink(p.ready_file)
                except FileNotFoundError:
                    pass
            log = os.path.join(topo.run_dir, f"log-{len(recs)}-{h.ns}.txt")
            with open(log, "wb") as out:
                proc = subprocess.Popen(netns.exec_argv(h.ns, p.argv), stdin=subprocess.DEVNULL,
                                        stdout=out, stderr=subprocess.STDOUT,
                                        start_new_session=True, close_fds=True)
            rec = state.proc_record(proc.pid, p.what, h.ns)
            rec.update(ready=p.ready_file, log=log)
            recs.append(rec)
            state.add_proc(topo.name, rec)
    return recs


def _wait_ready(topo: Topology, recs: list[dict], timeout: float = 15) -> None:
    deadline = time.monotonic() + timeout
    waiting = [r for r in recs if r.get("ready")]
    while waiting:
        for r in list(waiting):
            if os.path.exists(r["ready"]):
                waiting.remove(r)
                continue
            if not state.alive(r) or _exited(r["pid"]):
                raise LabError(f"{r['what']} exited at start: {_tail(r['log'])}")
        if waiting and time.monotonic() > deadline:
            raise LabError("not ready after %ss: %s" % (timeout, ", ".join(r["what"] for r in waiting)))
        if waiting:
            time.sleep(0.02)


def _exited(pid: int) -> bool:
    try:
        done, _ = os.waitpid(pid, os.WNOHANG)
        return done == pid
    except ChildProcessError:
        return False


def _tail(path: str) -> str:
    try:
        with open(path, "rb") as fh:
            return fh.read()[-600:].decode("utf-8", "replace").strip()
    except OSError:
        return "(no log)"
