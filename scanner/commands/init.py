"""`isoscan init [PATH]`: a commented starter inventory that validates.

Every address in it is a documentation address (RFC 5737: 192.0.2.0/24,
198.51.100.0/24, 203.0.113.0/24; RFC 1918 examples for the LANs): replace
them with the unit's own before the first scan. An existing file is never
overwritten (exit 2). The file is written 0600: an inventory is a map of the
unit's network.
"""
from __future__ import annotations

import os
import sys

import click

STARTER = """\
# isoscan 清单（inventory）起始模板 / starter inventory
#
# 1. 把下面的示例地址换成本单位的真实网段、设备与出入口。
#    Replace the example addresses with the unit's own segments, devices and ingress.
# 2. isoscan validate {name}      # 清单校验：通过 / inventory validation: passed
# 3. 在每个网段的探针主机上：isoscan scan -i {name}
#    On each segment's probe host: isoscan scan -i {name}
# 格式见 docs/SPEC.md §2 / format: docs/SPEC.md §2
version: 1

organization:
  name: 示例单位 (Example unit)       # 单位名称 / the unit's name
  id: UNIT-0001                        # 单位编号（可选）/ an id (optional)
  timezone: Asia/Shanghai              # 报告与告警的时区 / the zone times are shown in

# 外部探针：单位之外、互联网上的一台主机（isoscan canary listen）。
# 涉密网段发往它的探测不得到达；没有它，物理隔离只能依据应答判定。
# A host outside the unit, on the internet (isoscan canary listen). Without one,
# physical isolation rests on replies alone.
canaries:
  - name: internet-canary
    address: 203.0.113.10
    tcp: [80, 443]
    udp: [53]

segments:
  # 涉密网段：须登记每台设备（资产编号 asset_tag 与责任人 custodian）
  # A classified segment: every device registered (asset_tag and custodian)
  - name: secret-lan
    title: 涉密内网
    classification: classified
    level: secret                      # top-secret | secret | confidential
    networks: [10.10.0.0/24]
    dhcp_servers: []                   # 无 DHCP 服务器 / no DHCP server allowed
    ipv6_routers: []                   # 无 IPv6 路由通告 / no router advertisements

  # 非涉密网段：经唯一出入口（ingress）接入互联网
  # A non-classified segment: reaches the internet through one ingress
  - name: office-lan
    title: 办公网
    classification: non-classified
    networks: [10.20.0.0/24]
    ingress: gw-01
    dhcp_servers: [10.20.0.1]
    ipv6_routers: []
    # 经批准对互联网开放的服务 / services approved for the internet:
    # exposed:
    #   - {public: 203.0.113.1, tcp: [443], to: 10.20.0.30}

  - name: internet
    title: 互联网
    classification: internet
    networks: [203.0.113.0/24]

devices:
  # 每个网段一台探针主机（运行 isoscan scan）/ one probe host per segment
  - {name: probe-secret, kind: probe, asset_tag: BM-0001, custodian: 保密员,
     segment: secret-lan, ip: 10.10.0.5, mac: "02:00:00:00:0a:05"}
  - {name: ws-001, kind: workstation, asset_tag: BM-0011, custodian: 张三,
     segment: secret-lan, ip: 10.10.0.11, mac: "02:00:00:00:0a:0b"}
  - {name: probe-office, kind: probe, segment: office-lan, ip: 10.20.0.5,
     mac: "02:00:00:00:0b:05"}
  # 出入口网关：一个接口在办公网，一个在互联网 / the gateway: office and internet
  - name: gw-01
    kind: gateway
    interfaces:
      - {segment: office-lan, ip: 10.20.0.1, mac: "02:00:00:00:0b:01"}
      - {segment: internet, ip: 203.0.113.1, mac: "02:00:00:00:0e:01"}
"""


@click.command("init")
@click.argument("path", default="inventory.yaml", type=click.Path(dir_okay=False))
def init(path):
    """Write a commented starter inventory that validates (生成清单模板)."""
    from scanner.atomicio import write_text_atomic
    if os.path.lexists(path):
        click.echo(f"isoscan init: {path} exists; nothing written (move it aside or name "
                   "another file)", err=True)
        sys.exit(2)
    try:
        write_text_atomic(path, STARTER.replace("{name}", os.path.basename(path)), mode=0o600,
                          prefix=".isoscan-init-")
    except OSError as exc:
        click.echo(f"isoscan init: {path}: cannot be written ({exc.strerror or exc})", err=True)
        sys.exit(2)
    click.echo(f"isoscan init: wrote {path}; edit it, then: isoscan validate {path}", err=True)
