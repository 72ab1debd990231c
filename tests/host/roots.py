"""The named fixture machines of the host vantage's tests (tests/host/README.md).

    build("laptop-wifi-up", tmp_path)   -> the root path
"""
from __future__ import annotations

from pathlib import Path

from tests.host.sysroot import SysRoot, noise, usb_stick_lines

PC_MAC = "3c:52:82:10:0c:07"
WIFI_MAC = "a0:a4:c5:11:22:33"
DISK = "S4EWNX0R700026"
STICK_REGISTERED = "AA00000000000123"
STICK_UNKNOWN = "4C530001234567890123"
STICK_INTERNET = "0700000000000ABC"
STICK_JOURNAL = "0912345678JNL"


def _pc(tmp: Path) -> SysRoot:
    """A classified desktop: one Intel I219 card on the secret segment."""
    r = SysRoot(tmp)
    eth = r.pci_device("0000:00:1f.6", vendor="8086", device="15bc", cls="0x020000",
                       driver="e1000e")
    r.netdev("enp0s31f6", eth, mac=PC_MAC, up=True, addr="10.10.0.7/24")
    r.default_route("enp0s31f6", "10.10.0.1")
    r.nvme_disk(DISK)
    r.log("kern.log", noise(20))
    return r


def _intel_wifi(r: SysRoot, *, driver=True, up=False, rfkill_soft=False) -> str:
    wifi = r.pci_device("0000:00:14.3", vendor="8086", device="a0f0", cls="0x028000",
                        driver="iwlwifi" if driver else None)
    if driver:
        r.phy(wifi, "phy0")
        r.rfkill("rfkill0", "wlan", wifi + "/ieee80211/phy0", soft=rfkill_soft)
        r.netdev("wlp0s20f3", wifi, mac=WIFI_MAC, devtype="wlan", phy="phy0", up=up,
                 addr="192.168.43.17/24" if up else None)
    return wifi


def clean_pc(tmp):
    return _pc(tmp)


def laptop_wifi_up(tmp):
    r = _pc(tmp)
    _intel_wifi(r, up=True)
    return r


def laptop_wifi_down(tmp):
    r = _pc(tmp)
    _intel_wifi(r, up=False)
    return r


def laptop_wifi_nodriver(tmp):
    r = _pc(tmp)
    _intel_wifi(r, driver=False)
    return r


def laptop_wifi_profile(tmp):
    """Down now, but NetworkManager keeps a saved network and the log an association."""
    r = _pc(tmp)
    _intel_wifi(r, up=False)
    r.write("etc/NetworkManager/system-connections/CMCC-5G.nmconnection",
            "[connection]\nid=CMCC-5G\nuuid=5b7e0c3e-1b1c-4cb6-9f0e-2a6a1b1c0d26\ntype=wifi\n"
            "interface-name=wlp0s20f3\n\n[wifi]\nmode=infrastructure\nssid=CMCC-5G\n\n"
            "[wifi-security]\nkey-mgmt=wpa-psk\npsk=hunter22\n\n[ipv4]\nmethod=auto\n")
    r.log("kern.log.1", ["Nov 30 18:02:11 pc-07 kernel: [ 300.100000] wlp0s20f3: authenticate "
                         "with 9c:a6:15:00:11:22",
                         "Nov 30 18:02:11 pc-07 kernel: [ 300.200000] wlp0s20f3: associate "
                         "with 9c:a6:15:00:11:22 (try 1/3)",
                         "Nov 30 18:02:11 pc-07 kernel: [ 300.210000] wlp0s20f3: associated"])
    return r


def bluetooth(tmp):
    r = _pc(tmp)
    bt = r.usb_device("1-10", vendor="8087", product="0026", name="AX201 Bluetooth")
    intf = r.usb_interface(bt, "1.0", cls="e0", sub="01", proto="01", driver="btusb")
    hci = r.hci(intf, "hci0")
    r.rfkill("rfkill1", "bluetooth", hci)
    return r


def bluetooth_pan(tmp):
    """The Bluetooth controller carries a network: bnep0 (DEVTYPE=bluetooth) is up."""
    r = bluetooth(tmp)
    r.netdev("bnep0", None, mac="f4:26:79:00:0c:07", devtype="bluetooth", up=True,
             addr="192.168.44.2/24")
    return r


def modem_4g(tmp):
    r = _pc(tmp)
    m = r.usb_device("2-3", vendor="2c7c", product="0125", manufacturer="Quectel",
                     name="EC25-AF", controller="0000:00:14.0", busnum=2)
    intf = r.usb_interface(m, "1.12", cls="02", sub="0e", proto="00", driver="cdc_mbim")
    r.netdev("wwp0s20f0u3i12", intf, mac="aa:7e:41:00:25:01", devtype="wwan", up=True,
             addr="10.196.33.8/29")
    return r


def iphone_tether(tmp):
    r = _pc(tmp)
    ph = r.usb_device("1-4", vendor="05ac", product="12a8", manufacturer="Apple Inc.",
                      name="iPhone", serial="00008110001E2C3A0E38801E")
    intf = r.usb_interface(ph, "4.2", cls="ff", sub="fd", proto="01", driver="ipheth")
    r.netdev("enx3e4ac1000c07", intf, mac="3e:4a:c1:00:0c:07", up=True, addr="172.20.10.2/28")
    r.default_route("enx3e4ac1000c07", "172.20.10.1")
    return r


def tether_in_logs(tmp):
    """The phone is gone; kern.log.1 remembers rndis_host registering it."""
    r = _pc(tmp)
    k = "Nov 28 14:05:33 pc-07 kernel: [ 5021.100000] "
    r.log("kern.log.1", noise(30) + [
        k + "usb 1-3: new high-speed USB device number 7 using xhci_hcd",
        k + "usb 1-3: New USB device found, idVendor=2717, idProduct=ff88, bcdDevice= 4.19",
        k + "usb 1-3: Product: Redmi Note 11",
        k + "rndis_host 1-3:1.0 usb0: register 'rndis_host' at usb-0000:00:14.0-3, "
            "RNDIS device, 62:1f:0a:33:c0:07",
        k + "rndis_host 1-3:1.0 enp0s20f0u3: renamed from usb0"])
    return r


def android_mtp(tmp):
    """An Android phone plugged in for file transfer (MTP): storage without a block device."""
    r = _pc(tmp)
    ph = r.usb_device("1-2", vendor="2717", product="ff40", manufacturer="Xiaomi",
                      name="Redmi Note 11", serial="c8a5e1f20c07")
    r.usb_interface(ph, "1.0", cls="06", sub="01", proto="01", driver=None)
    return r


def forwarding(tmp):
    r = _pc(tmp)
    r.write("proc/sys/net/ipv4/ip_forward", "1")
    r.write("proc/sys/net/ipv4/conf/enp0s31f6/forwarding", "1")
    return r


def second_card(tmp):
    """A classified PC with a second card (USB Ethernet, r8152) into another segment."""
    r = _pc(tmp)
    d = r.usb_device("2-2", vendor="0bda", product="8153", manufacturer="Realtek",
                     name="USB 10/100/1000 LAN", busnum=2)
    intf = r.usb_interface(d, "1.0", cls="ff", sub="ff", proto="00", driver="r8152")
    r.netdev("enx00e04c680c07", intf, mac="00:e0:4c:68:0c:07", up=True, addr="10.20.0.77/24")
    return r


def stick(tmp, serial=STICK_UNKNOWN):
    r = _pc(tmp)
    d = r.usb_device("2-1", vendor="0781", product="5567", manufacturer="SanDisk",
                     name="Cruzer Blade", serial=serial, busnum=2)
    r.usb_disk(d, "sdb", host=6, vendor="SanDisk", model="Cruzer Blade")
    return r


def stick_registered(tmp):
    return stick(tmp, STICK_REGISTERED)


def stick_internet(tmp):
    return stick(tmp, STICK_INTERNET)


def rotated_gz(tmp):
    """The stick is gone; the kernel's rotated, compressed log remembers it."""
    r = _pc(tmp)
    r.log("kern.log.1", noise(50))
    r.log("kern.log.2.gz", noise(100) + usb_stick_lines("2-1", STICK_UNKNOWN) + noise(10),
          gz=True)
    return r


def rotated_gz_registered(tmp):
    r = _pc(tmp)
    r.log("kern.log.2.gz", usb_stick_lines("2-1", STICK_REGISTERED), gz=True)
    return r


def unreadable_log(tmp):
    """One rotated log is not gzip at all (truncated copy); another has the stick."""
    r = _pc(tmp)
    r.log("syslog.3.gz", ["x"], gz=False)          # named .gz, not gzip
    r.log("syslog.1", usb_stick_lines("1-1", STICK_UNKNOWN))
    return r


def offline_disk(tmp):
    """The disk of a switched-off computer: no /proc (and, here, a /sys copy)."""
    import shutil
    r = _pc(tmp)
    shutil.rmtree(Path(tmp) / "proc")
    return r


def offline_disk_forwarding(tmp):
    """The offline disk's sysctl.d turns forwarding on at boot (internet sharing)."""
    r = offline_disk(tmp)
    r.write("etc/sysctl.d/99-share.conf", "# share the phone's connection\nnet.ipv4.ip_forward=1\n")
    return r


def journal_stick(tmp):
    """A journal directory (journald's own files) remembers a stick; kern.log does not."""
    from tests.host.journal import write_journal
    r = _pc(tmp)
    lines = [m.split("] ", 1)[1] for m in usb_stick_lines("3-2", STICK_JOURNAL)]
    write_journal(Path(tmp) / "var/log/journal", lines, Path(str(tmp) + ".work"))
    return r


BUILDERS = {
    "clean-pc": clean_pc, "laptop-wifi-up": laptop_wifi_up, "laptop-wifi-down": laptop_wifi_down,
    "laptop-wifi-nodriver": laptop_wifi_nodriver, "laptop-wifi-profile": laptop_wifi_profile,
    "bluetooth": bluetooth, "bluetooth-pan": bluetooth_pan, "modem-4g": modem_4g, "iphone-tether": iphone_tether,
    "forwarding": forwarding, "tether-in-logs": tether_in_logs,
    "android-mtp": android_mtp, "second-card": second_card, "usb-stick": stick,
    "usb-stick-registered": stick_registered, "usb-stick-internet": stick_internet,
    "rotated-gz": rotated_gz, "rotated-gz-registered": rotated_gz_registered,
    "unreadable-log": unreadable_log, "offline-disk": offline_disk,
    "offline-disk-forwarding": offline_disk_forwarding,
    "journal-stick": journal_stick,
}


def build(name: str, tmp: Path) -> Path:
    tmp = Path(tmp)
    BUILDERS[name](tmp)
    return tmp
