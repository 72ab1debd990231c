"""Interfaces, radios and block devices from sysfs, by what they are.

Layouts read (the kernel's Documentation/ABI):
- sysfs-class-net: /sys/class/net/<if>/{address,operstate,flags,carrier,type,
  uevent (INTERFACE, IFINDEX, DEVTYPE), device -> the parent device,
  phy80211 -> ieee80211/phyN, bridge/, bonding/, tun_flags};
- sysfs-bus-pci: /sys/bus/pci/devices/<slot>/{vendor,device,class,driver};
- sysfs-bus-usb: /sys/bus/usb/devices/<port>/{idVendor,idProduct,manufacturer,
  product,serial} and <port>:<cfg>.<if>/{bInterfaceClass,...,driver};
- sysfs-class-rfkill: /sys/class/rfkill/rfkillN/{type,name,soft,hard,state};
- sysfs-class-ieee80211 (phyN/device), sysfs-class-bluetooth (hciN/device);
- sysfs-block: /sys/block/<disk>/{removable,size,device -> SCSI/NVMe device}.
"""
from __future__ import annotations

import posixpath

from scanner.host.record import TETHER_DRIVERS, WWAN_DRIVERS, Nic, Radio, Storage
from scanner.host.root import Root, uevent

ARPHRD_LOOPBACK = 772
ARPHRD_ETHER = 1
IFF_UP = 0x1
IFF_TUN, IFF_TAP = 0x0001, 0x0002


def _hex_id(v: str | None) -> str | None:
    if not v:
        return None
    v = v.strip().lower()
    return v[2:] if v.startswith("0x") else v


def _int(v: str | None, base: int = 10) -> int | None:
    try:
        return int(v, base) if v is not None else None
    except ValueError:
        return None


class Bus:
    """Where a device sits: PCI slot or USB interface, with its ids."""

    def __init__(self, root: Root, dev: str | None):
        self.bus = self.bus_id = self.vendor = self.product = None
        self.vendor_name = self.product_name = self.serial = None
        self.usb_dir = None
        if dev is None:
            return
        sub = root.link_name(dev + "/subsystem")
        if sub == "pci":
            self.bus, self.bus_id = "pci", posixpath.basename(dev)
            self.vendor = _hex_id(root.read(dev + "/vendor"))
            self.product = _hex_id(root.read(dev + "/device"))
            return
        # a USB interface (1-2:1.0) or anything below a USB device (SCSI, hciN)
        d = dev
        while d and d.count("/") > 2:
            if root.exists(d + "/idVendor"):
                self.usb_dir = d
                break
            d = posixpath.dirname(d)
        if self.usb_dir is None:
            if sub:                   # virtio, platform, sdio...: a device all the same
                self.bus, self.bus_id = sub, posixpath.basename(dev)
            return
        self.bus = "usb"
        own = posixpath.basename(dev)
        self.bus_id = own if root.link_name(dev + "/subsystem") == "usb" else \
            posixpath.basename(self.usb_dir)
        self.vendor = _hex_id(root.read(self.usb_dir + "/idVendor"))
        self.product = _hex_id(root.read(self.usb_dir + "/idProduct"))
        self.vendor_name = root.read(self.usb_dir + "/manufacturer") or None
        self.product_name = root.read(self.usb_dir + "/product") or None
        self.serial = root.read(self.usb_dir + "/serial") or None


def interfaces(root: Root) -> list[Nic]:
    out = []
    for name in root.listdir("sys/class/net"):
        base = f"sys/class/net/{name}"
        real = root.resolve(base) or base
        ue = uevent(root.read(base + "/uevent"))
        devtype = ue.get("DEVTYPE")
        arphrd = _int(root.read(base + "/type"))
        dev = root.resolve(base + "/device") if root.exists(base + "/device") else None
        driver = root.link_name(base + "/device/driver") if dev else None
        bus = Bus(root, dev)
        flags = _int(root.read(base + "/flags"), 16) or 0
        carrier = root.read(base + "/carrier")
        kind, why = _kind(root, base, real, arphrd, devtype, driver, dev)
        out.append(Nic(
            name=name, kind=kind, driver=driver, bus=bus.bus, bus_id=bus.bus_id,
            vendor=bus.vendor, product=bus.product, vendor_name=bus.vendor_name,
            product_name=bus.product_name,
            mac=(root.read(base + "/address") or "").lower() or None,
            operstate=root.read(base + "/operstate"), up=bool(flags & IFF_UP),
            carrier=None if carrier not in ("0", "1") else carrier == "1",
            forwarding=_flag(root.read(f"proc/sys/net/ipv4/conf/{name}/forwarding")),
            forwarding6=_flag(root.read(f"proc/sys/net/ipv6/conf/{name}/forwarding")),
            devtype=devtype, why=why))
    return out


def _flag(v: str | None) -> bool | None:
    return None if v is None or not v.strip().isdigit() else int(v) != 0


def _kind(root: Root, base: str, real: str, arphrd, devtype, driver, dev) -> tuple[str, str]:
    if arphrd == ARPHRD_LOOPBACK:
        return "loopback", "type 772 (loopback)"
    if root.exists(base + "/phy80211") or root.isdir(base + "/wireless") or devtype == "wlan":
        return "wlan", ("phy80211" if root.exists(base + "/phy80211") else f"DEVTYPE={devtype}"
                        if devtype == "wlan" else "wireless/")
    if devtype == "wwan" or driver in WWAN_DRIVERS:
        return "wwan", f"DEVTYPE={devtype}" if devtype == "wwan" else f"driver {driver}"
    if driver in TETHER_DRIVERS:
        return "usb-tether", f"driver {driver}: {TETHER_DRIVERS[driver]}"
    if devtype == "bluetooth" or driver == "bnep":
        return "bluetooth-pan", "DEVTYPE=bluetooth (bnep)"
    if root.isdir(base + "/bridge") or devtype == "bridge":
        return "bridge", "bridge/"
    if root.isdir(base + "/bonding") or devtype == "bond":
        return "bond", "bonding/"
    if devtype == "vlan":
        return "vlan", "DEVTYPE=vlan"
    tun = root.read(base + "/tun_flags")
    if tun is not None:
        flags = _int(tun, 16) or 0
        return ("tap", "tun_flags IFF_TAP") if flags & IFF_TAP else ("tun", "tun_flags IFF_TUN")
    if dev is None or real.startswith("sys/devices/virtual/"):
        return "virtual", f"DEVTYPE={devtype}" if devtype else "sys/devices/virtual"
    if arphrd == ARPHRD_ETHER:
        return "ethernet", f"driver {driver}" if driver else "type 1 (ether)"
    return "other", f"type {arphrd}"


# -- radios ---------------------------------------------------------------

def radios(root: Root, nics: list[Nic]) -> list[Radio]:
    """Wireless, Bluetooth and WWAN hardware, one per device (bus id), from
    every place it shows: rfkill, ieee80211 phys, bluetooth hci devices,
    interfaces, PCI class 0x0280 / 0x0d.., USB interface class e0/01/01."""
    found: dict[str, dict] = {}

    def add(kind: str, dev: str | None, how: str, **kw) -> dict:
        bus = Bus(root, dev)
        key = f"{bus.bus}:{bus.bus_id}" if bus.bus else f"{kind}:{how}"
        r = found.setdefault(key, {"kind": kind, "found_by": [], "bus": bus.bus,
                                   "bus_id": bus.bus_id, "vendor": bus.vendor,
                                   "product": bus.product, "product_name": bus.product_name,
                                   "driver": root.link_name(dev + "/driver") if dev else None,
                                   "interface": None, "rfkill": []})
        if how not in r["found_by"]:
            r["found_by"].append(how)
        if r["kind"] == "other" and kind != "other":
            r["kind"] = kind
        for k, v in kw.items():
            if v is not None and r.get(k) is None:
                r[k] = v
        return r

    for n in nics:
        if n.kind in ("wlan", "wwan") and n.bus:
            dev = root.resolve(f"sys/class/net/{n.name}/device")
            add(n.kind, dev, f"interface {n.name}", interface=n.name)
    for phy in root.listdir("sys/class/ieee80211"):
        dev = root.resolve(f"sys/class/ieee80211/{phy}/device") \
            if root.exists(f"sys/class/ieee80211/{phy}/device") else None
        add("wlan", dev, f"ieee80211 {phy}")
    for hci in root.listdir("sys/class/bluetooth"):
        if not hci.startswith("hci"):
            continue
        dev = root.resolve(f"sys/class/bluetooth/{hci}/device") \
            if root.exists(f"sys/class/bluetooth/{hci}/device") else None
        add("bluetooth", dev, f"bluetooth {hci}")
    for rf in root.listdir("sys/class/rfkill"):
        base = f"sys/class/rfkill/{rf}"
        typ = root.read(base + "/type") or "unknown"
        kind = {"wlan": "wlan", "bluetooth": "bluetooth", "wwan": "wwan"}.get(typ, "other")
        # rfkillN sits below its phy / hci: .../0000:00:14.3/ieee80211/phy0/rfkill0
        real = root.resolve(base) or ""
        owner = posixpath.dirname(real)                      # .../ieee80211/phy0
        dev = root.resolve(owner + "/device") if root.exists(owner + "/device") else None
        r = add(kind, dev, f"rfkill {rf} ({typ})")
        r["rfkill"].append((root.read(base + "/soft"), root.read(base + "/hard")))
    for slot in root.listdir("sys/bus/pci/devices"):
        dev = root.resolve(f"sys/bus/pci/devices/{slot}")
        cls = _hex_id(root.read(dev + "/class")) or ""
        if cls.startswith("0280"):
            add("wlan", dev, "PCI class 0x0280 (network controller: 802.11)")
        elif cls.startswith("0d11"):
            add("bluetooth", dev, "PCI class 0x0d11 (Bluetooth)")
        elif cls.startswith("0d"):
            add("other", dev, f"PCI class 0x{cls[:4]} (wireless controller)")
    for intf in root.listdir("sys/bus/usb/devices"):
        if ":" not in intf:
            continue
        dev = root.resolve(f"sys/bus/usb/devices/{intf}")
        c = (_hex_id(root.read(dev + "/bInterfaceClass")) or "",
             _hex_id(root.read(dev + "/bInterfaceSubClass")) or "",
             _hex_id(root.read(dev + "/bInterfaceProtocol")) or "")
        if c == ("e0", "01", "01"):
            add("bluetooth", dev, "USB interface class e0/01/01 (Bluetooth)")
        elif c[:2] == ("02", "0e"):
            add("wwan", dev, "USB interface class 02/0e (CDC MBIM: mobile broadband)")
    # state: from the interface, rfkill and the driver
    by_name = {n.name: n for n in nics}
    out = []
    for r in found.values():
        blocks = r.pop("rfkill")
        soft = any(s == "1" for s, _ in blocks) if blocks else None
        hard = any(h == "1" for _, h in blocks) if blocks else None
        nic = by_name.get(r.get("interface"))
        if nic is not None:
            state = "up" if nic.up or nic.operstate == "up" else "down"
        elif r.get("driver") is None and r.get("bus") is not None:
            state = "no-driver"
        elif r["kind"] == "bluetooth":
            state = _hci_state(root, r)
        else:
            state = "down"
        if (soft or hard) and state != "up":
            state = "blocked"
        out.append(Radio(kind=r["kind"], found_by=tuple(r["found_by"]), bus=r["bus"],
                         bus_id=r["bus_id"], vendor=r["vendor"], product=r["product"],
                         product_name=r["product_name"], driver=r["driver"],
                         interface=r.get("interface"), state=state,
                         soft_blocked=soft, hard_blocked=hard))
    return sorted(out, key=lambda x: (x.kind, x.bus_id or ""))


def _hci_state(root: Root, r: dict) -> str:
    """A Bluetooth controller with a driver: "up" when rfkill does not block
    it (hciN has no operstate in sysfs; `hciconfig` asks the kernel)."""
    return "present"


# -- block devices -----------------------------------------------------------

def storage(root: Root) -> tuple[list[Storage], list[str]]:
    """(USB storage present now: block devices and MTP/PTP devices; serials of
    the other disks)."""
    usb, serials = [], []
    for disk in root.listdir("sys/block"):
        base = f"sys/block/{disk}"
        real = root.resolve(base) or ""
        if real.startswith("sys/devices/virtual/"):
            continue                  # loop, ram, dm-*, zram
        dev = root.resolve(base + "/device") if root.exists(base + "/device") else None
        bus = Bus(root, dev)
        size = _int(root.read(base + "/size"))
        if bus.bus == "usb":
            usb.append(Storage(
                name=disk, bus_id=bus.bus_id, vendor=bus.vendor, product=bus.product,
                vendor_name=(root.read(dev + "/vendor") or bus.vendor_name or None),
                model=(root.read(dev + "/model") or bus.product_name or None),
                serial=bus.serial, removable=_flag(root.read(base + "/removable")),
                size_bytes=size * 512 if size is not None else None))
            continue
        s = _disk_serial(root, dev)
        if s:
            serials.append(s)
    # phones and cameras that lend their storage over MTP/PTP (USB interface
    # class 06/01/01, "Still Image"): no block device, files all the same
    for intf in root.listdir("sys/bus/usb/devices"):
        if ":" not in intf:
            continue
        dev = root.resolve(f"sys/bus/usb/devices/{intf}")
        if (_hex_id(root.read(dev + "/bInterfaceClass")), _hex_id(root.read(dev + "/bInterfaceSubClass"))) \
                != ("06", "01"):
            continue
        bus = Bus(root, dev)
        usb.append(Storage(name=f"mtp:{bus.bus_id}", bus_id=bus.bus_id, vendor=bus.vendor,
                           product=bus.product, vendor_name=bus.vendor_name,
                           model=bus.product_name, serial=bus.serial, removable=True))
    return usb, serials


def _disk_serial(root: Root, dev: str | None) -> str | None:
    if dev is None:
        return None
    s = root.read(dev + "/serial")           # NVMe controller, MMC
    if s:
        return s
    raw = root.read_bytes(dev + "/vpd_pg80")  # SCSI/ATA VPD page 0x80: 4-byte header
    if raw and len(raw) > 4 and raw[1] == 0x80:
        return raw[4:4 + raw[3]].decode("ascii", "replace").strip() or None
    return None
