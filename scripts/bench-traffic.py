#!/usr/bin/env python3
"""Writes a pcap of UDP/IPv4 frames for `erdp bench`, the same traffic as
benches/forward.rs: frames of exactly SIZE bytes from the on-premises host
(10.0.1.10, MAC 02:00:00:00:0a:01) to DEST through the edge's lan port
(MAC 02:00:00:00:01:01), source ports 40000..40255 (256 flows) to 40200.

usage: bench-traffic.py SIZE DEST COUNT OUT.pcap
  plain path (design 2, ExpressRoute only): DEST 10.3.0.10 with
      pcaps/corpus/design2-onprem-edge.toml
  ESP path (design 1, the tunnel): DEST 10.1.0.10 with
      pcaps/corpus/design1-onprem-edge.toml
"""
import ipaddress
import struct
import sys

FLOWS = 256


def checksum(data: bytes) -> int:
    total = sum(struct.unpack(f"!{len(data) // 2}H", data))
    while total > 0xFFFF:
        total = (total & 0xFFFF) + (total >> 16)
    return ~total & 0xFFFF


def frame(size: int, dest: bytes, i: int) -> bytes:
    payload = b"\x5a" * (size - 42)
    udp = struct.pack("!HHHH", 40000 + i % FLOWS, 40200, 8 + len(payload), 0) + payload
    src = bytes([10, 0, 1, 10])
    header = struct.pack("!BBHHHBBH4s4s", 0x45, 0, 20 + len(udp), 0, 0, 64, 17, 0, src, dest)
    header = header[:10] + struct.pack("!H", checksum(header)) + header[12:]
    ethernet = bytes([2, 0, 0, 0, 1, 1, 2, 0, 0, 0, 0x0A, 1]) + b"\x08\x00"
    return ethernet + header + udp


def main() -> None:
    size, dest, count, out = int(sys.argv[1]), sys.argv[2], int(sys.argv[3]), sys.argv[4]
    dest = ipaddress.IPv4Address(dest).packed
    with open(out, "wb") as f:
        f.write(struct.pack("<IHHiIII", 0xA1B2C3D4, 2, 4, 0, 0, 65535, 1))
        for i in range(count):
            data = frame(size, dest, i)
            f.write(struct.pack("<IIII", i // 1000000, i % 1000000, len(data), len(data)))
            f.write(data)


if __name__ == "__main__":
    main()
