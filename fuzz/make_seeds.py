#!/usr/bin/env python3
"""Builds the seed corpora of erdp's fuzz targets in fuzz/corpus/<target>/
(git-ignored) from the captures in pcaps/ and the hand-picked seeds in
fuzz/seeds/<target>/. Deterministic; standard library only.

- pcap_replay: every capture under pcaps/ as is, and each rewritten as
  pcapng (little and big endian, an interface name, nanosecond if_tsresol,
  enhanced and simple packet blocks, an unknown block to skip).
- esp_decap: every ESP packet of the Scapy fixtures in pcaps/esp/ in the
  target's fixture mode (first byte 0xf0 + fixture index, then the outer IP
  packet), plus a few generated-mode inputs.
- fib, forward: a few byte strings (the targets are structure-aware).
- config: every sample in pcaps/configs/ as text, and edited samples.
- bgp: UPDATE (IPv4, MP_REACH IPv6, withdrawals), KEEPALIVE, ROUTE-REFRESH,
  NOTIFICATION streams for an established session, and an OPEN.
- bfd: a peer's datagrams (records of gap, TTL, length, packet) taking a
  session up, polling it, and letting it down.
- every target: the hand-picked seeds in fuzz/seeds/<target>/ and the kept
  crash inputs in tests/fuzz_inputs/<target>/.

Usage: python3 fuzz/make_seeds.py [--out fuzz/corpus]
"""

import argparse
import random
import shutil
import struct
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent

# Must list the fixtures in the order of SOURCES in fuzz/src/esp_fixtures.rs.
ESP_FIXTURES = [
    "scapy_aes128gcm_ipv4",
    "scapy_aes256gcm_ipv6",
    "scapy_chacha20_ipv4",
    "scapy_aes128gcm_esn",
    "scapy_aes256gcm_natt",
]
FIXTURE_MODE = 0xF0
ETHERNET_LEN = 14


def read_pcap(data):
    """(link type, [(ts_sec, ts_frac, orig_len, frame)]) of a classic pcap."""
    magic = data[:4]
    endian = {b"\xd4\xc3\xb2\xa1": "<", b"\x4d\x3c\xb2\xa1": "<",
              b"\xa1\xb2\xc3\xd4": ">", b"\xa1\xb2\x3c\x4d": ">"}.get(magic)
    if endian is None:
        return None
    link = struct.unpack(endian + "I", data[20:24])[0]
    frames, at = [], 24
    while at + 16 <= len(data):
        sec, frac, incl, orig = struct.unpack(endian + "IIII", data[at:at + 16])
        frames.append((sec, frac, orig, data[at + 16:at + 16 + incl]))
        at += 16 + incl
    return link, frames


def pad4(body):
    return body + b"\0" * (-len(body) % 4)


def block(endian, block_type, body):
    body = pad4(body)
    length = 12 + len(body)
    return struct.pack(endian + "II", block_type, length) + body + struct.pack(endian + "I", length)


def option(endian, code, value):
    return struct.pack(endian + "HH", code, len(value)) + pad4(value)


def to_pcapng(link, frames, endian, simple):
    """A pcapng file with the frames of a pcap: SHB, IDB (if_name,
    if_tsresol 9), an unknown block, then EPBs (or SPBs when `simple`)."""
    out = block(endian, 0x0A0D0D0A,
                struct.pack(endian + "IHHq", 0x1A2B3C4D, 1, 0, -1))
    options = (option(endian, 2, b"er0") + option(endian, 9, bytes([9]))
               + struct.pack(endian + "HH", 0, 0))
    out += block(endian, 1, struct.pack(endian + "HHI", link, 0, 0) + options)
    out += block(endian, 0x0BAD, b"skip me")
    for sec, frac, orig, frame in frames:
        if simple:
            out += block(endian, 3, struct.pack(endian + "I", orig) + frame)
        else:
            ts = sec * 1_000_000_000 + frac * 1000
            out += block(endian, 6, struct.pack(endian + "IIIII", 0, ts >> 32, ts & 0xFFFFFFFF,
                                                len(frame), orig) + frame)
    return out


def write(directory, name, data):
    directory.mkdir(parents=True, exist_ok=True)
    (directory / name).write_bytes(data)


def pcap_replay_seeds(out):
    count = 0
    for path in sorted(ROOT.glob("pcaps/**/*.pcap*")):
        data = path.read_bytes()
        write(out, path.name, data)
        count += 1
        parsed = read_pcap(data)
        if parsed is None:
            continue
        link, frames = parsed
        for endian, simple, tag in (("<", False, "le"), (">", False, "be"), ("<", True, "spb")):
            write(out, "%s.%s.pcapng" % (path.stem, tag), to_pcapng(link, frames, endian, simple))
            count += 1
    return count


def esp_decap_seeds(out):
    count = 0
    for index, name in enumerate(ESP_FIXTURES):
        parsed = read_pcap((ROOT / "pcaps/esp" / (name + ".esp.pcap")).read_bytes())
        for number, (_, _, _, frame) in enumerate(parsed[1]):
            write(out, "%s-%d" % (name, number), bytes([FIXTURE_MODE + index]) + frame[ETHERNET_LEN:])
            count += 1
    rng = random.Random(7)
    for number in range(8):
        write(out, "generated-%d" % number, bytes([number]) + rng.randbytes(64 + 64 * number))
        count += 1
    return count


def fib_seeds(out):
    rng = random.Random(4)
    for number in range(8):
        write(out, "random-%d" % number, rng.randbytes(32 + 48 * number))
    return 8


def config_seeds(out):
    """Each sample config as text (first byte below 0x40), and edited
    samples (first byte 0x80, then the arbitrary-decoded edits)."""
    count = 0
    rng = random.Random(9)
    for index, path in enumerate(sorted(ROOT.glob("pcaps/configs/*.toml"))):
        text = path.read_bytes()
        write(out, path.stem, b"\x00" + text)
        write(out, path.stem + ".edited", bytes([0x80, index]) + rng.randbytes(48))
        count += 2
    return count


def bgp_message(kind, body):
    return b"\xff" * 16 + (19 + len(body)).to_bytes(2, "big") + bytes([kind]) + body


def bgp_seeds(out):
    """Established sessions (first byte below 0x80) fed UPDATEs (IPv4 NLRI,
    MP_REACH IPv6, withdrawals), KEEPALIVE, ROUTE-REFRESH, NOTIFICATION; and
    an OpenSent session fed an OPEN."""
    attrs = bytes([0x40, 1, 1, 0, 0x40, 2, 6, 2, 1, 0, 0, 0x2F, 0x2C, 0x40, 3, 4, 10, 0, 0, 2])
    v4 = bgp_message(2, b"\x00\x00" + len(attrs).to_bytes(2, "big") + attrs + bytes([16, 10, 1, 24, 192, 0, 2]))
    mp_value = bytes([0, 2, 1, 16]) + bytes(15) + b"\x01\x00" + bytes([48, 0x20, 0x01, 0x0D, 0xB8, 0, 1])
    mp = bytes([0x90, 14]) + len(mp_value).to_bytes(2, "big") + mp_value
    v6 = bgp_message(2, b"\x00\x00" + (len(attrs) - 7 + len(mp)).to_bytes(2, "big") + attrs[:13] + mp)
    withdraw = bgp_message(2, bytes([0, 3, 16, 10, 1, 0, 0]))
    keepalive = bgp_message(4, b"")
    refresh = bgp_message(5, bytes([0, 1, 0, 1]))
    cease = bgp_message(3, bytes([6, 2]))
    open_ = bgp_message(1, bytes([4, 0x2F, 0x2C, 0, 90, 10, 0, 0, 2, 8, 2, 6, 65, 4, 0, 0, 0x2F, 0x2C]))
    seeds = {
        "updates": b"\x3f" + v4 + v6 + keepalive + withdraw + refresh,
        "small-chunks": b"\x02" + v4 + v6 + withdraw,
        "cease": b"\x10" + v4 + cease,
        "open": b"\x80" + open_ + keepalive + v4,
    }
    for name, data in seeds.items():
        write(out, name, data)
    return len(seeds)


def forward_seeds(out):
    rng = random.Random(5)
    for number in range(16):
        write(out, "random-%d" % number, rng.randbytes(64 + 96 * number))
    return 16


def bfd_packet(state, your, poll=False, final=False, mult=3, interval=300000):
    flags = (state << 6) | (0x20 if poll else 0) | (0x10 if final else 0)
    return bytes([0x20, flags, mult, 24]) + struct.pack(">IIIII", 0x55, your, interval, interval, 0)


def bfd_seeds(out):
    """The peer's side of a handshake, a Poll and Final, and a Down."""
    def record(gap, packet, ttl=0):
        return bytes([gap, ttl, len(packet)]) + packet
    ours = 0x0BFD
    up = record(0, bfd_packet(1, 0)) + record(30, bfd_packet(3, ours)) + record(10, bfd_packet(3, ours, final=True))
    seeds = {
        "handshake": up,
        "poll": up + record(25, bfd_packet(3, ours, poll=True)) + record(28, bfd_packet(3, ours)),
        "down": up + record(28, bfd_packet(1, ours)) + record(40, bfd_packet(0, 0)),
        "ttl": up + record(5, bfd_packet(3, ours), ttl=1),
    }
    for name, data in seeds.items():
        write(out, name, data)
    return len(seeds)


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=ROOT / "fuzz/corpus")
    args = parser.parse_args()
    builders = {
        "pcap_replay": pcap_replay_seeds,
        "esp_decap": esp_decap_seeds,
        "fib": fib_seeds,
        "config": config_seeds,
        "forward": forward_seeds,
        "bgp": bgp_seeds,
        "bfd": bfd_seeds,
    }
    for target, build in builders.items():
        out = args.out / target
        count = build(out)
        for kept in (ROOT / "fuzz/seeds" / target, ROOT / "tests/fuzz_inputs" / target):
            if kept.is_dir():
                for path in sorted(kept.iterdir()):
                    shutil.copyfile(path, out / path.name)
                    count += 1
        print("%s: %d seeds in %s" % (target, count, out))


if __name__ == "__main__":
    main()
