"""What the system's configuration says: proxy settings, saved connection
profiles (NetworkManager, wpa_supplicant), the machine's identity."""
from __future__ import annotations

import configparser
import os
import re

from scanner.host.record import HostProblem, Profile, Proxy
from scanner.host.root import Root

PROXY_VARS = ("http_proxy", "https_proxy", "ftp_proxy", "all_proxy", "no_proxy")
_EXPORT = re.compile(r"^\s*(?:export\s+)?([A-Za-z_]+)\s*=\s*['\"]?([^'\"#\s]+)")
_APT = re.compile(r"Acquire::(\w+)::Proxy\s+\"([^\"]+)\"", re.I)
NM_KINDS = {"wifi": "wifi", "802-11-wireless": "wifi", "gsm": "gsm", "cdma": "cdma",
            "bluetooth": "bluetooth", "wimax": "wifi"}
MAX_FILES = 2000          # profiles and profile.d scripts read at most


def proxies(root: Root) -> list[Proxy]:
    out: list[Proxy] = []
    if root.is_live:
        for k, v in sorted(os.environ.items()):
            if k.lower() in PROXY_VARS and k.lower() != "no_proxy" and v:
                out.append(Proxy("environment", k, v))
    files = ["etc/environment", "etc/profile", "etc/bash.bashrc"] + \
        [f"etc/profile.d/{f}" for f in root.listdir("etc/profile.d")[:MAX_FILES]]
    for rel in files:
        for n, line in enumerate((root.read(rel) or "").splitlines(), 1):
            m = _EXPORT.match(line)
            if m and m.group(1).lower() in PROXY_VARS and m.group(1).lower() != "no_proxy":
                out.append(Proxy(f"/{rel}:{n}", m.group(1), m.group(2)))
    apt = ["etc/apt/apt.conf"] + [f"etc/apt/apt.conf.d/{f}"
                                  for f in root.listdir("etc/apt/apt.conf.d")[:MAX_FILES]]
    for rel in apt:
        for n, line in enumerate((root.read(rel) or "").splitlines(), 1):
            for m in _APT.finditer(line):
                if m.group(2).upper() != "DIRECT":
                    out.append(Proxy(f"/{rel}:{n}", f"Acquire::{m.group(1)}::Proxy", m.group(2)))
    return out


def profiles(root: Root) -> tuple[list[Profile], list[HostProblem]]:
    out: list[Profile] = []
    problems: list[HostProblem] = []
    for d in ("etc/NetworkManager/system-connections", "run/NetworkManager/system-connections"):
        for f in root.listdir(d)[:MAX_FILES]:
            rel = f"{d}/{f}"
            body = root.read(rel)
            if body is None:
                if root.exists(rel):
                    problems.append(HostProblem("profiles", "/" + rel, "cannot be read",
                                                "无法读取"))
                continue
            cp = configparser.ConfigParser(interpolation=None, strict=False)
            try:
                cp.read_string(body)
            except configparser.Error as exc:
                first = str(exc).splitlines()[0][:120]
                problems.append(HostProblem("profiles", "/" + rel, f"not a keyfile: {first}",
                                            f"不是 keyfile 格式：{first}"))
                continue
            typ = cp.get("connection", "type", fallback="")
            kind = NM_KINDS.get(typ)
            if kind is None:
                continue
            ssid = cp.get("wifi", "ssid", fallback=None) or \
                cp.get("802-11-wireless", "ssid", fallback=None)
            out.append(Profile(kind, cp.get("connection", "id", fallback=f), "/" + rel, ssid))
    # NetworkManager remembers the access points each connection used, also after the
    # connection itself was deleted: a trace of Wi-Fi use
    known = {p.source for p in out}
    seen = root.read("var/lib/NetworkManager/seen-bssids")
    if seen and not known:
        cp = configparser.ConfigParser(interpolation=None, strict=False)
        try:
            cp.read_string(seen)
        except configparser.Error:
            cp = None
        for sec in (cp.sections() if cp is not None else ())[:MAX_FILES]:
            bssids = cp.get(sec, "seen-bssids", fallback="").strip(";")
            if bssids:
                out.append(Profile("wifi", f"{sec} (seen BSSIDs {bssids[:60]})",
                                   "/var/lib/NetworkManager/seen-bssids"))
    wpa = ["etc/wpa_supplicant.conf"] + [f"etc/wpa_supplicant/{f}" for f in
                                         root.listdir("etc/wpa_supplicant")[:MAX_FILES]
                                         if f.endswith(".conf")]
    for rel in wpa:
        body = root.read(rel)
        if body is None:
            continue
        for m in re.finditer(r"network\s*=\s*\{(.*?)\}", body, re.S):
            s = re.search(r"^\s*ssid\s*=\s*(\"([^\"]*)\"|([0-9a-fA-F]+))\s*$", m.group(1), re.M)
            ssid = None
            if s:
                ssid = s.group(2) if s.group(2) is not None else \
                    bytes.fromhex(s.group(3)).decode("utf-8", "replace") \
                    if len(s.group(3)) % 2 == 0 else s.group(3)
            out.append(Profile("wifi", ssid, "/" + rel, ssid))
    return out, problems


def machine_id(root: Root) -> str | None:
    v = root.read("etc/machine-id") or root.read("var/lib/dbus/machine-id")
    return v if v and re.fullmatch(r"[0-9a-f]{32}", v) else None


def hostname(root: Root) -> str | None:
    v = root.read("etc/hostname")
    return v.splitlines()[0].strip() if v else None
