"""The host record's readers on fixture trees: interface kinds, radios,
profiles, proxies, and hostile trees (links out of the root, FIFOs, bombs)."""
from __future__ import annotations

import gzip
import os

from scanner.host import logs
from scanner.host.collect import collect
from scanner.host.record import HostRecord
from scanner.host.root import Root
from tests.host import roots
from tests.host.sysroot import SysRoot, usb_stick_lines


def test_interfaces_by_what_they_are_not_their_names(tmp_path):
    r = SysRoot(tmp_path)
    eth = r.pci_device("0000:00:1f.6", vendor="8086", device="15bc", cls="0x020000",
                       driver="e1000e")
    # names chosen to mislead: the kind comes from sysfs, never from the name
    r.netdev("wlan9", eth, mac="3c:52:82:10:0c:07", up=True)
    r.netdev("eth5", None, mac="02:00:00:00:00:01", devtype="bridge", extra={"bridge": None})
    r.netdev("eth6", None, mac="02:00:00:00:00:02", devtype="bond", extra={"bonding": None})
    r.netdev("eth7", None, mac="00:00:00:00:00:00", arphrd=65534, extra={"tun_flags": "0x1001"})
    r.netdev("eth8", None, mac="02:00:00:00:00:04", extra={"tun_flags": "0x1002"})
    r.netdev("eth9", None, mac="02:00:00:00:00:05", devtype="bluetooth")
    r.netdev("eth10", None, mac="02:00:00:00:00:06", devtype="vlan")
    r.netdev("eth11", None, mac="02:00:00:00:00:07")
    phone = r.usb_device("1-4", vendor="18d1", product="4ee3", name="Pixel 7")
    intf = r.usb_interface(phone, "1.0", cls="e0", sub="01", proto="03", driver="rndis_host")
    r.netdev("eth12", intf, mac="62:1f:0a:33:c0:07", up=True, addr="192.168.42.129/24")
    kinds = {n.name: n.kind for n in collect(Root(str(tmp_path))).interfaces}
    assert kinds == {"lo": "loopback", "wlan9": "ethernet", "eth5": "bridge", "eth6": "bond",
                     "eth7": "tun", "eth8": "tap", "eth9": "bluetooth-pan", "eth10": "vlan",
                     "eth11": "virtual", "eth12": "usb-tether"}
    rec = collect(Root(str(tmp_path)))
    assert rec.nic("eth12").addresses == ("192.168.42.129/24",)
    assert rec.nic("eth12").bus_id == "1-4:1.0" and rec.nic("eth12").vendor == "18d1"


def test_blocked_radio_and_wpa_supplicant_and_proxies(tmp_path):
    r = roots.build("clean-pc", tmp_path)
    s = SysRoot.__new__(SysRoot)
    s.path = r
    wifi = "sys/devices/pci0000:00/0000:00:14.3"
    s.write(f"{wifi}/vendor", "0x8086")
    s.write(f"{wifi}/device", "0xa0f0")
    s.write(f"{wifi}/class", "0x028000")
    s.link(f"{wifi}/subsystem", "sys/bus/pci")
    s.link(f"{wifi}/driver", "sys/bus/pci/drivers/iwlwifi")
    s.link("sys/bus/pci/devices/0000:00:14.3", wifi)
    s.phy(wifi, "phy0")
    s.rfkill("rfkill0", "wlan", wifi + "/ieee80211/phy0", hard=True)
    s.write("etc/wpa_supplicant/wpa_supplicant.conf",
            'ctrl_interface=/run/wpa_supplicant\nnetwork={\n  ssid="ChinaNet-5G"\n  psk="x"\n}\n'
            'network={\n  ssid=4f6666696365\n}\n')
    s.write("etc/environment", 'PATH="/usr/bin"\nhttp_proxy="http://10.20.0.3:3128"\n')
    s.write("etc/apt/apt.conf.d/90proxy", 'Acquire::http::Proxy "http://10.20.0.3:3128/";\n')
    rec = collect(Root(str(r)))
    (radio,) = rec.radios
    assert radio.kind == "wlan" and radio.state == "blocked" and radio.hard_blocked
    assert [p.ssid for p in rec.profiles] == ["ChinaNet-5G", "Office"]
    assert {(p.source, p.name) for p in rec.proxies} == {
        ("/etc/environment:2", "http_proxy"), ("/etc/apt/apt.conf.d/90proxy:1",
                                               "Acquire::http::Proxy")}


def test_record_round_trips_and_tolerates_junk(tmp_path):
    rec = collect(Root(str(roots.build("laptop-wifi-profile", tmp_path))))
    import json
    assert HostRecord.from_json(json.loads(json.dumps(rec.to_json()))) == rec
    junk = rec.to_json()
    junk["interfaces"] = [{"name": 5}, "x", None, junk["interfaces"][0]]
    junk["radios"] = "nope"
    junk["log_lines"] = "many"
    got = HostRecord.from_json(junk)
    assert len(got.interfaces) == 1 and got.radios == () and got.log_lines == 0


def test_links_never_leave_the_root(tmp_path):
    """An absolute symlink on an inspected disk is taken under the root again."""
    r = roots.build("clean-pc", tmp_path / "disk")
    (r / "etc" / "machine-id").unlink()
    (r / "etc" / "machine-id").symlink_to("/etc/hostname")     # absolute: this machine's?
    rec = collect(Root(str(r)))
    assert Root(str(r)).resolve("etc/machine-id") == "etc/hostname"   # no: the disk's own
    assert rec.identity.machine_id is None            # "pc-07" is not a machine id
    (r / "etc" / "hostname").unlink()
    (r / "etc" / "hostname").symlink_to("/etc/hostname")        # a loop under the root
    assert Root(str(r)).resolve("etc/hostname") is None
    assert collect(Root(str(r))).identity.hostname is None


def test_fifo_and_bomb_and_bad_gzip_are_problems_not_hangs(tmp_path, monkeypatch):
    r = roots.build("clean-pc", tmp_path)
    os.mkfifo(r / "var" / "log" / "syslog")
    (r / "var" / "log" / "kern.log.3.gz").write_bytes(gzip.compress(b"x" * 5_000_000))
    (r / "var" / "log" / "messages.1.gz").write_bytes(b"\x1f\x8b\x08\x00garbage")
    (r / "var" / "log" / "kern.log.1").write_text("\n".join(usb_stick_lines("2-1", "SER1")) + "\n")
    monkeypatch.setattr(logs, "MAX_BYTES", 1_000_000)
    rec = collect(Root(str(r)))
    why = {p.where: p.why for p in rec.problems}
    assert "not a regular file" in why["/var/log/syslog"]
    assert "the rest was not read" in why["/var/log/kern.log.3.gz"]
    assert "cannot be read" in why["/var/log/messages.1.gz"]
    assert [m.serial for m in rec.media_history] == ["SER1"]      # the rest is still read


def test_no_journalctl_is_said(tmp_path):
    r = roots.build("clean-pc", tmp_path)
    (r / "var" / "log" / "journal" / "0123").mkdir(parents=True)
    (r / "var" / "log" / "journal" / "0123" / "system.journal").write_bytes(b"LPKSHHRH")
    rec = collect(Root(str(r)), journalctl="/nonexistent/journalctl")
    assert any(p.part == "journal" and "journalctl failed" in p.why for p in rec.problems)
    s = logs.Scan()
    import shutil
    real = shutil.which
    try:
        shutil.which = lambda name: None
        logs.read_journal(Root(str(r)), s, "var/log/journal")
    finally:
        shutil.which = real
    assert "journalctl is not installed" in s.problems[0].why


def test_a_uas_disk_in_the_log(tmp_path):
    """UAS names no port: the device is the one whose lines came just before."""
    r = roots.build("clean-pc", tmp_path)
    k = "Dec  2 10:00:01 pc-07 kernel: [  90.000000] "
    (r / "var" / "log" / "kern.log.1").write_text("\n".join([
        k + "usb 4-1: new SuperSpeed USB device number 2 using xhci_hcd",
        k + "usb 4-1: New USB device found, idVendor=152d, idProduct=0578, bcdDevice= 5.08",
        k + "usb 4-1: Product: USB 3.0 SSD",
        k + "usb 4-1: SerialNumber: 0123456789ABCDEF",
        k + "scsi host6: uas",
        k + "sd 6:0:0:0: [sdb] 500118192 512-byte logical blocks"]) + "\n")
    (m,) = collect(Root(str(r))).media_history
    assert (m.serial, m.bus_id, m.vendor, m.model) == ("0123456789ABCDEF", "4-1", "152d",
                                                      "USB 3.0 SSD")


def test_deleted_wifi_connection_leaves_seen_bssids(tmp_path):
    r = roots.build("clean-pc", tmp_path)
    (r / "var" / "lib" / "NetworkManager").mkdir(parents=True)
    (r / "var" / "lib" / "NetworkManager" / "seen-bssids").write_text(
        "[5b7e0c3e-1b1c-4cb6-9f0e-2a6a1b1c0d26]\nseen-bssids=9C:A6:15:00:11:22;\n")
    (p,) = collect(Root(str(r))).profiles
    assert p.kind == "wifi" and "9C:A6:15:00:11:22" in p.name
