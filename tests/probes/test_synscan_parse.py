"""The identity step's SYN burst: frames and answers read from their bytes."""
import socket
import struct

from scanner.probes import synscan


def _reply(src_ip, dst_ip, sport, dport, flags):
    tcp = struct.pack("!HHIIBBHHH", sport, dport, 1, 2, 5 << 4, flags, 1024, 0, 0)
    ip = struct.pack("!BBHHHBBH4s4s", 0x45, 0, 20 + len(tcp), 1, 0, 64, 6, 0,
                     socket.inet_aton(src_ip), socket.inet_aton(dst_ip))
    return b"\x02" * 6 + b"\x04" * 6 + b"\x08\x00" + ip + tcp


def test_syn_frame_is_a_syn_to_the_station():
    f = synscan._syn(b"\x02" * 6, socket.inet_aton("10.0.0.5"), b"\x04" * 6,
                     socket.inet_aton("10.0.0.9"), 40001, 22, 7)
    assert f[:6] == b"\x04" * 6 and f[12:14] == b"\x08\x00" and f[23] == 6
    assert socket.inet_ntoa(f[30:34]) == "10.0.0.9"
    assert int.from_bytes(f[36:38], "big") == 22 and f[47] == 0x02


def test_synack_is_open_rst_closed_strangers_ignored():
    asked = {("10.0.0.9", 22): 40001, ("10.0.0.9", 443): 40002, ("10.0.0.10", 22): 40003}
    got = synscan.answers([_reply("10.0.0.9", "10.0.0.5", 22, 40001, 0x12),
                           _reply("10.0.0.9", "10.0.0.5", 443, 40002, 0x14),
                           _reply("10.0.0.11", "10.0.0.5", 22, 40003, 0x12),     # not asked
                           _reply("10.0.0.10", "10.0.0.5", 2222, 40003, 0x12)],  # wrong port
                          asked)
    assert got == {("10.0.0.9", 22): "open", ("10.0.0.9", 443): "closed"}
