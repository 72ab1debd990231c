"""Fixture trees of a Linux system's /sys, /proc, /etc and /var/log, laid out
as the kernel lays them out (see tests/host/README.md for the sources).

    root = SysRoot(tmp_path)
    wifi = root.pci_device("0000:00:14.3", vendor="8086", device="2723", cls="0x028000",
                           driver="iwlwifi")
    root.netdev("wlp0s20f3", wifi, mac="a0:a4:c5:11:22:33", devtype="wlan", phy="phy0",
                up=True, addr="192.168.43.17/24")
    root.rfkill("rfkill0", "wlan", "phy0", under=wifi + "/ieee80211/phy0")

Every /sys/class/<x>/<name> entry is a relative symlink into /sys/devices,
as sysfs makes it; a device's `driver` and `subsystem` are symlinks into
/sys/bus/<bus>/drivers/<driver> and /sys/bus/<bus>.
"""
from __future__ import annotations

import gzip
import ipaddress
import os
import socket
import struct
from pathlib import Path


class SysRoot:
    def __init__(self, path: Path):
        self.path = Path(path)
        self.routes: list[tuple] = []
        self.locals: list[str] = []
        self.inet6: list[tuple] = []
        for d in ("sys/class/net", "sys/bus/pci/devices", "sys/bus/usb/devices", "sys/block",
                  "proc/net", "proc/sys/net/ipv4/conf", "proc/sys/net/ipv6/conf/all",
                  "etc", "var/log", "sys/devices/virtual/net"):
            (self.path / d).mkdir(parents=True, exist_ok=True)
        self.write("proc/sys/net/ipv4/ip_forward", "0")
        self.write("proc/sys/net/ipv6/conf/all/forwarding", "0")
        self.write("etc/machine-id", "4f1c8c3f0f7e4e52a1a7c0ffee000026")
        self.write("etc/hostname", "pc-07")
        self.netdev("lo", None, mac="00:00:00:00:00:00", arphrd=772, up=True, addr="127.0.0.1/8")

    # -- files and links -------------------------------------------------------
    def write(self, rel: str, text: str | bytes) -> None:
        p = self.path / rel
        p.parent.mkdir(parents=True, exist_ok=True)
        if isinstance(text, bytes):
            p.write_bytes(text)
        else:
            p.write_text(text if text.endswith("\n") or not text else text + "\n")

    def link(self, rel: str, target_rel: str) -> None:
        """rel -> target_rel, as a relative symlink (sysfs's way)."""
        p = self.path / rel
        p.parent.mkdir(parents=True, exist_ok=True)
        (self.path / target_rel).mkdir(parents=True, exist_ok=True) \
            if not (self.path / target_rel).exists() else None
        if p.is_symlink():
            p.unlink()
        p.symlink_to(os.path.relpath(self.path / target_rel, p.parent))

    def _bind(self, dev: str, bus: str, driver: str | None) -> None:
        self.link(f"{dev}/subsystem", f"sys/bus/{bus}")
        if driver:
            self.link(f"{dev}/driver", f"sys/bus/{bus}/drivers/{driver}")

    # -- devices ---------------------------------------------------------------
    def pci_device(self, slot: str, *, vendor: str, device: str, cls: str,
                   driver: str | None) -> str:
        dev = f"sys/devices/pci0000:00/{slot}"
        self.write(f"{dev}/vendor", f"0x{vendor}")
        self.write(f"{dev}/device", f"0x{device}")
        self.write(f"{dev}/class", cls)
        self.write(f"{dev}/uevent", (f"DRIVER={driver}\n" if driver else "")
                   + f"PCI_CLASS={int(cls, 16):X}\nPCI_ID={vendor.upper()}:{device.upper()}\n"
                     f"PCI_SLOT_NAME={slot}\n")
        self._bind(dev, "pci", driver)
        self.link(f"sys/bus/pci/devices/{slot}", dev)
        return dev

    def usb_device(self, port: str, *, vendor: str, product: str, manufacturer: str | None = None,
                   name: str | None = None, serial: str | None = None, controller="0000:00:14.0",
                   busnum: int = 1) -> str:
        dev = f"sys/devices/pci0000:00/{controller}/usb{busnum}/{port}"
        self.write(f"{dev}/idVendor", vendor)
        self.write(f"{dev}/idProduct", product)
        for k, v in (("manufacturer", manufacturer), ("product", name), ("serial", serial)):
            if v is not None:
                self.write(f"{dev}/{k}", v)
        self.write(f"{dev}/uevent", f"DEVTYPE=usb_device\nPRODUCT={int(vendor, 16):x}/"
                                    f"{int(product, 16):x}/100\nBUSNUM=00{busnum}\n")
        self._bind(dev, "usb", "usb")
        self.link(f"sys/bus/usb/devices/{port}", dev)
        return dev

    def usb_interface(self, usbdev: str, intf: str, *, cls: str, sub: str, proto: str,
                      driver: str | None) -> str:
        port = usbdev.rsplit("/", 1)[1]
        dev = f"{usbdev}/{port}:{intf}"
        self.write(f"{dev}/bInterfaceClass", cls)
        self.write(f"{dev}/bInterfaceSubClass", sub)
        self.write(f"{dev}/bInterfaceProtocol", proto)
        self.write(f"{dev}/uevent", "DEVTYPE=usb_interface\n" + (f"DRIVER={driver}\n" if driver
                                                                 else "")
                   + f"INTERFACE={int(cls, 16)}/{int(sub, 16)}/{int(proto, 16)}\n")
        self._bind(dev, "usb", driver)
        self.link(f"sys/bus/usb/devices/{port}:{intf}", dev)
        return dev

    def netdev(self, name: str, parent: str | None, *, mac: str, devtype: str | None = None,
               up: bool = False, addr: str | None = None, phy: str | None = None,
               arphrd: int = 1, ifindex: int | None = None, extra: dict | None = None,
               forwarding: bool = False) -> str:
        ifindex = ifindex or (len(os.listdir(self.path / "sys/class/net")) + 1)
        dev = f"{parent}/net/{name}" if parent else f"sys/devices/virtual/net/{name}"
        self.write(f"{dev}/address", mac)
        self.write(f"{dev}/type", str(arphrd))
        self.write(f"{dev}/ifindex", str(ifindex))
        self.write(f"{dev}/flags", "0x1003" if up else "0x1002")
        self.write(f"{dev}/operstate", ("unknown" if arphrd == 772 else "up") if up else "down")
        if up:
            self.write(f"{dev}/carrier", "1")
        self.write(f"{dev}/uevent", f"INTERFACE={name}\nIFINDEX={ifindex}\n"
                   + (f"DEVTYPE={devtype}\n" if devtype else ""))
        self.link(f"{dev}/subsystem", "sys/class/net")
        if parent:
            self.link(f"{dev}/device", parent)
        if phy:
            self.link(f"{dev}/phy80211", f"{parent}/ieee80211/{phy}")
        for k, v in (extra or {}).items():
            if v is None:
                (self.path / dev / k).mkdir(parents=True, exist_ok=True)
            else:
                self.write(f"{dev}/{k}", v)
        self.link(f"sys/class/net/{name}", dev)
        self.write(f"proc/sys/net/ipv4/conf/{name}/forwarding", "1" if forwarding else "0")
        self.write(f"proc/sys/net/ipv6/conf/{name}/forwarding", "0")
        if addr and up:
            self.address(name, addr)
        self._flush_proc()
        return dev

    def address(self, name: str, addr: str) -> None:
        iface = ipaddress.ip_interface(addr)
        if iface.version == 6:
            self.inet6.append((iface, name))
        else:
            self.locals.append(str(iface.ip))
            if not iface.ip.is_loopback:
                self.routes.append((name, str(iface.network.network_address), "0.0.0.0",
                                    str(iface.netmask)))
        self._flush_proc()

    def default_route(self, name: str, gateway: str) -> None:
        self.routes.append((name, "0.0.0.0", gateway, "0.0.0.0"))
        self._flush_proc()

    def _flush_proc(self) -> None:
        def le(ip):
            return f"{struct.unpack('<I', socket.inet_aton(ip))[0]:08X}"
        rows = ["Iface\tDestination\tGateway \tFlags\tRefCnt\tUse\tMetric\tMask\t\tMTU\tWindow\tIRTT"]
        for name, dst, gw, mask in self.routes:
            flags = 0x0003 if gw != "0.0.0.0" else 0x0001
            rows.append(f"{name}\t{le(dst)}\t{le(gw)}\t{flags:04X}\t0\t0\t0\t{le(mask)}\t0\t0\t0")
        self.write("proc/net/route", "\n".join(rows) + "\n")
        trie = ["Main:", "  +-- 0.0.0.0/0 3 0 5"]
        for ip in self.locals:
            trie += [f"     |-- {ip}", "        /32 host LOCAL"]
        self.write("proc/net/fib_trie", "\n".join(trie) + "\n")
        self.write("proc/net/if_inet6", "".join(
            f"{i.ip.exploded.replace(':', '')} 02 {i.network.prefixlen:02x} 00 80 {n:>8}\n"
            for i, n in self.inet6))

    def rfkill(self, name: str, typ: str, owner: str, *, soft=False, hard=False) -> None:
        """rfkillN below its owner (.../ieee80211/phy0, .../bluetooth/hci0)."""
        dev = f"{owner}/{name}"
        self.write(f"{dev}/type", typ)
        self.write(f"{dev}/name", owner.rsplit("/", 1)[1])
        self.write(f"{dev}/soft", "1" if soft else "0")
        self.write(f"{dev}/hard", "1" if hard else "0")
        # sysfs-class-rfkill state: 0 soft blocked, 1 unblocked, 2 hard blocked
        self.write(f"{dev}/state", "2" if hard else "0" if soft else "1")
        self.write(f"{dev}/uevent", f"RFKILL_NAME={owner.rsplit('/', 1)[1]}\nRFKILL_TYPE={typ}\n"
                                    f"RFKILL_STATE={2 if hard else 0 if soft else 1}\n")
        self.link(f"sys/class/rfkill/{name}", dev)

    def phy(self, parent: str, phy: str) -> str:
        dev = f"{parent}/ieee80211/{phy}"
        self.write(f"{dev}/index", phy[3:])
        self.write(f"{dev}/name", phy)
        self.link(f"{dev}/device", parent)
        self.link(f"sys/class/ieee80211/{phy}", dev)
        return dev

    def hci(self, parent: str, hci: str) -> str:
        dev = f"{parent}/bluetooth/{hci}"
        self.write(f"{dev}/uevent", "DEVTYPE=host\n")
        self.write(f"{dev}/type", "Primary")
        self.link(f"{dev}/device", parent)
        self.link(f"sys/class/bluetooth/{hci}", dev)
        return dev

    def usb_disk(self, usbdev: str, disk: str, *, host: int, vendor: str, model: str,
                 sectors: int = 30031872) -> str:
        intf = self.usb_interface(usbdev, "1.0", cls="08", sub="06", proto="50",
                                  driver="usb-storage")
        scsi = f"{intf}/host{host}/target{host}:0:0/{host}:0:0:0"
        self.write(f"{scsi}/vendor", f"{vendor:<8}")
        self.write(f"{scsi}/model", f"{model:<16}")
        self._bind(scsi, "scsi", "sd")
        blk = f"{scsi}/block/{disk}"
        self.write(f"{blk}/removable", "1")
        self.write(f"{blk}/size", str(sectors))
        self.link(f"{blk}/device", scsi)
        self.link(f"sys/block/{disk}", blk)
        return blk

    def nvme_disk(self, serial: str) -> None:
        ctrl = "sys/devices/pci0000:00/0000:00:1d.0/0000:3d:00.0/nvme/nvme0"
        self.write(f"{ctrl}/serial", f"{serial:<20}")
        self.write(f"{ctrl}/model", "SAMSUNG MZVL2512HCJQ-00B00")
        blk = f"{ctrl}/nvme0n1"
        self.write(f"{blk}/size", "1000215216")
        self.write(f"{blk}/removable", "0")
        self.link(f"{blk}/device", ctrl)
        self.link("sys/block/nvme0n1", blk)

    # -- logs ------------------------------------------------------------------
    def log(self, name: str, lines: list[str], gz: bool = False) -> None:
        data = "".join(line + "\n" for line in lines).encode()
        if gz:
            (self.path / "var/log" / name).write_bytes(gzip.compress(data))
        else:
            (self.path / "var/log" / name).write_bytes(data)


def usb_stick_lines(port: str, serial: str, *, when="Dec  1 09:12:0", host=6, disk="sdb",
                    stamp=812.0) -> list[str]:
    """What the kernel logs (kern.log) when a USB stick is attached."""
    k = f"{when}1 pc-07 kernel: [{stamp:12.6f}] "
    return [k + f"usb {port}: new high-speed USB device number 4 using xhci_hcd",
            k + f"usb {port}: New USB device found, idVendor=0781, idProduct=5567, bcdDevice= 1.00",
            k + f"usb {port}: New USB device strings: Mfr=1, Product=2, SerialNumber=3",
            k + f"usb {port}: Product: Cruzer Blade",
            k + f"usb {port}: Manufacturer: SanDisk",
            k + f"usb {port}: SerialNumber: {serial}",
            k + f"usb-storage {port}:1.0: USB Mass Storage device detected",
            k + f"scsi host{host}: usb-storage {port}:1.0",
            k + f"sd {host}:0:0:0: [{disk}] 30031872 512-byte logical blocks: (15.4 GB/14.3 GiB)"]


def noise(n: int, when="Dec  1 08:00:00") -> list[str]:
    return [f"{when} pc-07 systemd[1]: Started session-{i}.scope - Session {i} of user u."
            for i in range(n)]
