#!/usr/bin/env python3
"""Makes the Scapy ESP fixtures that `cargo test` checks (tests/esp_scapy_fixtures.rs).

Each case NAME gets:
  NAME.esp.pcap    ESP packets made by Scapy's SecurityAssociation (Ethernet frames)
  NAME.inner.pcap  the inner packets they carry, in the same order
  NAME.sa.toml     the SA as erdp reads it (inbound side: local = Scapy's destination)

Deterministic: fixed keys, fixed inner packets, and the explicit IV set to the
64-bit sequence number (what erdp sends), so erdp's own encapsulation of the
same inner packet must give the same bytes. The outer IPv4 header follows
erdp's defaults (TTL 64, ID = low 16 bits of the sequence number, DF copied,
DSCP copied, ECN per RFC 6040 normal mode).

Run: python3 pcaps/esp/make_fixtures.py  (needs: pip install scapy cryptography)
"""
import os
import struct
import sys

from scapy.all import IP, IPv6, UDP, ICMP, TCP, Ether, Raw, wrpcap
from scapy.layers.inet6 import ICMPv6EchoRequest
from scapy.layers.ipsec import SecurityAssociation, ESP

HERE = os.path.dirname(os.path.abspath(__file__))
SCAPY_ALGO = {
    "aes-128-gcm": "AES-GCM",
    "aes-256-gcm": "AES-GCM",
    "chacha20-poly1305": "CHACHA20-POLY1305",
}
KEY_LEN = {"aes-128-gcm": 16, "aes-256-gcm": 32, "chacha20-poly1305": 32}


def key_for(algorithm, seed):
    return bytes((seed * 31 + i) & 0xFF for i in range(KEY_LEN[algorithm] + 4))


def inner_packets():
    """A small mix: UDP, TCP with DF and a DSCP, ICMP, IPv6 UDP and ICMPv6."""
    return [
        IP(src="10.1.0.1", dst="10.2.0.1", id=7) / UDP(sport=1000, dport=2000) / Raw(b"hello erdp"),
        IP(src="10.1.0.2", dst="10.2.0.9", tos=(46 << 2) | 1, flags="DF")
        / TCP(sport=40000, dport=443, flags="S", seq=1),
        IP(src="10.1.0.3", dst="10.2.0.3", tos=3) / ICMP(id=1, seq=1) / Raw(b"x" * 60),
        IPv6(src="fd00::1", dst="fd00::2", tc=0x20) / UDP(sport=5353, dport=5353) / Raw(b"\x00" * 33),
        IPv6(src="fd00::1", dst="fd00::2") / ICMPv6EchoRequest(id=9, seq=2, data=b"ping"),
        IP(src="10.1.0.4", dst="10.2.0.4") / UDP(sport=1, dport=2) / Raw(bytes(range(256)) * 5),
        IP(src="10.1.0.5", dst="10.2.0.5", flags="DF") / UDP(sport=3, dport=4),
    ]


def outer_tos(inner):
    """erdp's defaults: DSCP copied, ECN per RFC 6040 normal mode (CE -> ECT(0))."""
    tos = inner.tos if inner.version == 4 else inner.tc
    ecn = tos & 3
    return (tos & 0xFC) | (2 if ecn == 3 else ecn)


def seal(case, inner, seq64):
    """One ESP packet for `inner` with the full sequence number `seq64`."""
    tos = outer_tos(inner)
    if case["outer"] == 4:
        df = "DF" if inner.version == 6 or (inner.flags & 2) else 0
        tunnel = IP(src=case["src"], dst=case["dst"], ttl=64, id=seq64 & 0xFFFF, tos=tos, flags=df)
    else:
        tunnel = IPv6(src=case["src"], dst=case["dst"], hlim=64, tc=tos)
    sa = SecurityAssociation(
        ESP,
        spi=case["spi"],
        seq_num=seq64 & 0xFFFFFFFF,
        crypt_algo=SCAPY_ALGO[case["algorithm"]],
        crypt_key=case["key"],
        tunnel_header=tunnel,
        nat_t_header=UDP(sport=4500, dport=4500) if case.get("nat_t") else None,
        esn_en=case["esn"],
        esn=seq64 >> 32,
    )
    return sa.encrypt(inner, iv=struct.pack("!Q", seq64))


def sa_toml(case):
    lines = [
        "# Inbound SA for the Scapy fixture %s (made by make_fixtures.py)." % case["name"],
        "spi = 0x%08x" % case["spi"],
        'algorithm = "%s"' % case["algorithm"],
        'key = "%s"' % case["key"].hex(),
        "esn = %s" % ("true" if case["esn"] else "false"),
        'tunnel = { local = "%s", remote = "%s" }' % (case["dst"], case["src"]),
    ]
    if case.get("nat_t"):
        lines.append("nat_t = true")
    return "\n".join(lines) + "\n"


def ether(pkt):
    kind = 0x86DD if pkt.version == 6 else 0x0800
    return Ether(src="02:00:00:00:00:01", dst="02:00:00:00:00:02", type=kind) / pkt


CASES = [
    dict(name="scapy_aes128gcm_ipv4", algorithm="aes-128-gcm", outer=4, esn=False, spi=0x1001,
         src="198.51.100.2", dst="192.0.2.1"),
    dict(name="scapy_aes256gcm_ipv6", algorithm="aes-256-gcm", outer=6, esn=False, spi=0x2002,
         src="2001:db8::2", dst="2001:db8::1"),
    dict(name="scapy_chacha20_ipv4", algorithm="chacha20-poly1305", outer=4, esn=False, spi=0x3003,
         src="198.51.100.2", dst="192.0.2.1"),
    # ESN: jumps up to 2^32, crosses it, and one late packet from below.
    dict(name="scapy_aes128gcm_esn", algorithm="aes-128-gcm", outer=4, esn=True, spi=0x4004,
         src="198.51.100.2", dst="192.0.2.1",
         seqs=[0x7FFFFFFF, 0xFFFFFF00, 0xFFFFFFFE, 0xFFFFFFFF, 0x100000000, 0x100000001, 0xFFFFFFFD]),
    dict(name="scapy_aes256gcm_natt", algorithm="aes-256-gcm", outer=4, esn=False, spi=0x5005,
         src="198.51.100.2", dst="192.0.2.1", nat_t=True),
]


def main():
    for case in CASES:
        case["key"] = key_for(case["algorithm"], case["spi"] & 0xFF)
        inners = inner_packets()
        seqs = case.get("seqs", list(range(1, len(inners) + 1)))
        inners = inners[: len(seqs)]
        frames = [ether(seal(case, inner, seq)) for inner, seq in zip(inners, seqs)]
        if case.get("nat_t"):
            # NAT-T control that erdp must skip: a keepalive and an IKE packet.
            frames.insert(2, ether(IP(src=case["src"], dst=case["dst"]) / UDP(sport=4500, dport=4500) / Raw(b"\xff")))
            frames.insert(4, ether(IP(src=case["src"], dst=case["dst"]) / UDP(sport=4500, dport=4500)
                                   / Raw(b"\x00\x00\x00\x00" + b"IKEv2-stand-in")))
        base = os.path.join(HERE, case["name"])
        wrpcap(base + ".esp.pcap", frames)
        wrpcap(base + ".inner.pcap", [ether(p) for p in inners])
        with open(base + ".sa.toml", "w") as f:
            f.write(sa_toml(case))
        print("%s: %d ESP packets" % (case["name"], len(seqs)), file=sys.stderr)


if __name__ == "__main__":
    main()
