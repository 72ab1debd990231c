"""Small helpers shared by the static (inventory) checks."""
from __future__ import annotations

from scanner.model import Device, Interface, Location, Subject


def where(loc: Location | None) -> str:
    """'file:line:column' of a declaration, for evidence text."""
    if loc is None:
        return "?"
    return str(loc)


def subject(device: Device, iface: Interface | None = None) -> Subject:
    if iface is None:
        iface = next((i for i in device.interfaces if i.ip is not None or i.mac), None)
    return Subject(ip=str(iface.ip) if iface is not None and iface.ip is not None else None,
                   mac=iface.mac if iface is not None else None, device=device.name)
