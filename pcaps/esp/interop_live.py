#!/usr/bin/env python3
"""Live two-way ESP interop between erdp and Scapy, and tshark's ICV check.

For each case, with seeded random inner packets:
  1. Scapy -> erdp: Scapy's SecurityAssociation encrypts (random IVs), and
     `erdp esp open` must give back exactly the inner packets.
  2. erdp -> Scapy: `erdp esp seal` encrypts, and Scapy must decrypt every
     packet to exactly the inner packet.
  3. tshark (AES-GCM and AES-CBC + HMAC-SHA-256-128 without ESN; tshark
     4.0 has neither ChaCha20 nor ESN):
     every packet erdp wrote has esp.icv_good == 1, with the esp_sa line
     printed by `erdp esp wireshark --line-only`.

Run by .ci/steps/20-esp-interop.sh:  python interop_live.py --erdp PATH --workdir DIR
"""
import argparse
import os
import random
import struct
import subprocess
import sys

from scapy.all import IP, IPv6, UDP, TCP, ICMP, Ether, Raw, rdpcap, wrpcap, raw
from scapy.layers.ipsec import SecurityAssociation, ESP

SCAPY_ALGO = {"aes-128-gcm": "AES-GCM", "aes-256-gcm": "AES-GCM", "chacha20-poly1305": "CHACHA20-POLY1305",
              "aes-128-cbc-hmac-sha256": "AES-CBC", "aes-256-cbc-hmac-sha256": "AES-CBC"}
# Encryption key length; the AEAD suites add a 4-byte salt, the CBC ones a
# 32-byte HMAC-SHA2-256 key (erdp's `key` is encryption key || integrity key).
KEY_LEN = {"aes-128-gcm": 16, "aes-256-gcm": 32, "chacha20-poly1305": 32,
           "aes-128-cbc-hmac-sha256": 16, "aes-256-cbc-hmac-sha256": 32}


def is_cbc(algorithm):
    return "-cbc-" in algorithm


def keymat_len(algorithm):
    return KEY_LEN[algorithm] + (32 if is_cbc(algorithm) else 4)
# Gateways: A is erdp's side for sealing, B the peer.
V4 = ("192.0.2.1", "198.51.100.2")
V6 = ("2001:db8::1", "2001:db8::2")

CASES = [
    dict(name="aes128gcm_ipv4", algorithm="aes-128-gcm", ends=V4),
    dict(name="aes256gcm_ipv6", algorithm="aes-256-gcm", ends=V6),
    dict(name="chacha20_ipv4", algorithm="chacha20-poly1305", ends=V4),
    dict(name="chacha20_ipv6_natt", algorithm="chacha20-poly1305", ends=V6, nat_t=True),
    dict(name="aes256gcm_ipv4_natt", algorithm="aes-256-gcm", ends=V4, nat_t=True),
    dict(name="aes128gcm_esn_crossing", algorithm="aes-128-gcm", ends=V4, esn=True, first_seq=0xFFFFFFF8),
    dict(name="aes128cbc_sha256_ipv4", algorithm="aes-128-cbc-hmac-sha256", ends=V4),
    dict(name="aes256cbc_sha256_ipv6_natt", algorithm="aes-256-cbc-hmac-sha256", ends=V6, nat_t=True),
]


def random_inner(rng, n):
    # Ports 9 (discard): tshark dissects nothing behind them, so random
    # payloads cannot end its dissection before the ICV check is shown.
    packets = []
    for i in range(n):
        size = rng.choice([0, 1, 2, 3, 17, 64, 500, 1400, rng.randrange(0, 1450)])
        payload = Raw(bytes(rng.randrange(256) for _ in range(size)))
        if rng.random() < 0.3:
            pkt = IPv6(src="fd00::%x" % rng.randrange(1, 999), dst="fd00::1", tc=rng.randrange(256)) / UDP(
                sport=9, dport=9) / payload
        else:
            l4 = rng.choice([UDP(sport=9, dport=9), TCP(sport=9, dport=9, flags="PA"), ICMP()])
            pkt = IP(src="10.1.%d.%d" % (rng.randrange(256), rng.randrange(1, 255)), dst="10.2.0.1",
                     tos=rng.randrange(256), flags=rng.choice([0, "DF"]), id=i) / l4 / payload
        packets.append(pkt.__class__(raw(pkt)))
    return packets


def ether(pkt):
    return Ether(src="02:00:00:00:00:01", dst="02:00:00:00:00:02", type=0x86DD if pkt.version == 6 else 0x0800) / pkt


def sa_toml(case, key, local, remote):
    lines = ["spi = 0x%08x" % case["spi"], 'algorithm = "%s"' % case["algorithm"], 'key = "%s"' % key.hex(),
             "esn = %s" % ("true" if case.get("esn") else "false"),
             'tunnel = { local = "%s", remote = "%s" }' % (local, remote)]
    if case.get("nat_t"):
        lines.append("nat_t = true")
    return "\n".join(lines) + "\n"


def scapy_sa(case, key, src, dst, seq, esn_high=0):
    tunnel = IP(src=src, dst=dst) if ":" not in src else IPv6(src=src, dst=dst)
    auth = {}
    if is_cbc(case["algorithm"]):
        n = KEY_LEN[case["algorithm"]]
        key, auth = key[:n], dict(auth_algo="SHA2-256-128", auth_key=key[n:])
    return SecurityAssociation(ESP, spi=case["spi"], seq_num=seq, crypt_algo=SCAPY_ALGO[case["algorithm"]],
                               crypt_key=key, tunnel_header=tunnel, **auth,
                               nat_t_header=UDP(sport=4500, dport=4500) if case.get("nat_t") else None,
                               esn_en=bool(case.get("esn")), esn=esn_high)


def ip_of(frame):
    return frame.payload


def run(cmd):
    out = subprocess.run(cmd, capture_output=True, text=True)
    if out.returncode != 0:
        raise RuntimeError("%s failed (%d): %s %s" % (cmd[:3], out.returncode, out.stdout, out.stderr))
    return out.stdout


def check_case(case, erdp, workdir, rng, failures):
    name = case["name"]
    case["spi"] = rng.randrange(0x1000, 0xFFFFFFFF)
    key = bytes(rng.randrange(256) for _ in range(keymat_len(case["algorithm"])))
    a, b = case["ends"]
    inner = random_inner(rng, 40)
    base = os.path.join(workdir, name)
    wrpcap(base + ".inner.pcap", [ether(p) for p in inner])
    first = case.get("first_seq", 1)
    seqs = [first + i for i in range(len(inner))]

    # 1. Scapy -> erdp (B sends to A; erdp opens as A).
    frames = []
    for pkt, seq in zip(inner, seqs):
        sa = scapy_sa(case, key, b, a, seq & 0xFFFFFFFF, seq >> 32)
        frames.append(ether(sa.encrypt(pkt)))
    wrpcap(base + ".scapy.esp.pcap", frames)
    with open(base + ".in.toml", "w") as f:
        f.write(sa_toml(case, key, a, b))
    cmd = [erdp, "esp", "open", "--sa", base + ".in.toml", "--input", base + ".scapy.esp.pcap",
           "--output", base + ".erdp.inner.pcap"]
    if "first_seq" in case:
        cmd += ["--last-seq", str(first - 1)]
    run(cmd)
    got = [raw(ip_of(f)) for f in rdpcap(base + ".erdp.inner.pcap")]
    want = [raw(p) for p in inner]
    if got != want:
        failures.append("%s: scapy->erdp: %d of %d packets differ" % (
            name, sum(1 for g, w in zip(got, want) if g != w) + abs(len(got) - len(want)), len(want)))

    # 2. erdp -> Scapy (erdp seals as A towards B).
    with open(base + ".out.toml", "w") as f:
        f.write(sa_toml(case, key, a, b))
    cmd = [erdp, "esp", "seal", "--sa", base + ".out.toml", "--input", base + ".inner.pcap",
           "--output", base + ".erdp.esp.pcap"]
    if "first_seq" in case:
        cmd += ["--first-seq", str(first)]
    run(cmd)
    bad = 0
    sealed = rdpcap(base + ".erdp.esp.pcap")
    for frame, pkt, seq in zip(sealed, inner, seqs):
        outer = ip_of(frame)
        # The AEAD suites' IV is the sequence number; CBC's is random.
        iv_is_seq = bytes(outer[ESP].data[:8]) == struct.pack("!Q", seq)
        if outer[ESP].seq != seq & 0xFFFFFFFF or iv_is_seq == is_cbc(case["algorithm"]):
            bad += 1
            continue
        sa = scapy_sa(case, key, a, b, 0)
        try:
            plain = sa.decrypt(outer, esn_en=bool(case.get("esn")), esn=seq >> 32)
        except Exception as e:  # integrity error or parse failure
            print("  %s seq %#x: %s" % (name, seq, e), file=sys.stderr)
            bad += 1
            continue
        if raw(plain) != raw(pkt):
            bad += 1
    if bad or len(sealed) != len(inner):
        failures.append("%s: erdp->scapy: %d of %d packets failed" % (name, bad, len(inner)))

    # 3. tshark's ICV check of erdp's capture.
    if case["algorithm"] != "chacha20-poly1305" and not case.get("esn"):
        line = run([erdp, "esp", "wireshark", "--line-only", "--sa", base + ".out.toml"]).strip()
        out = run(["tshark", "-r", base + ".erdp.esp.pcap", "-o", "esp.enable_encryption_decode:TRUE",
                   "-o", "esp.enable_authentication_check:TRUE", "-o", "uat:esp_sa:" + line,
                   # Port 9 as plain data: no heuristic dissector (RTCP)
                   # may end the dissection before the ICV is shown.
                   "-d", "udp.port==9,data", "-d", "tcp.port==9,data",
                   "-T", "fields", "-e", "esp.icv_good"])
        values = out.split()
        if values != ["1"] * len(inner):
            failures.append("%s: tshark icv_good: %s" % (name, values[:8]))
        else:
            print("%s: tshark: %d of %d packets icv_good" % (name, len(values), len(inner)))
    print("%s: Scapy <-> erdp: %d packets each way" % (name, len(inner)))


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--erdp", required=True)
    ap.add_argument("--workdir", required=True)
    ap.add_argument("--seed", type=int, default=4303)
    args = ap.parse_args()
    os.makedirs(args.workdir, exist_ok=True)
    rng = random.Random(args.seed)
    failures = []
    for case in CASES:
        try:
            check_case(case, args.erdp, args.workdir, rng, failures)
        except Exception as e:
            failures.append("%s: %s" % (case["name"], e))
    for f in failures:
        print("FAIL " + f)
    failed = len({f.split(":")[0] for f in failures})
    print("esp interop: %d passed, %d failed" % (len(CASES) - failed, failed))
    sys.exit(1 if failures else 0)


if __name__ == "__main__":
    main()
