#!/usr/bin/env bash
# ESP interop with independent implementations (issue 3):
#  - Scapy (scapy.layers.ipsec) both ways, live, with random packets:
#    AES-GCM-128/256, ChaCha20-Poly1305, AES-CBC + HMAC-SHA2-256-128, ESN
#    across 2^32, NAT-T, IPv6 outer;
#  - tshark 4.0 verifies the ICV (esp.icv_good == 1) of every AES-GCM and
#    AES-CBC + HMAC-SHA-256-128 packet
#    erdp writes.
# The committed Scapy fixtures (pcaps/esp/) are checked by `cargo test`
# without Python; this step regenerates nothing and needs network access to
# PyPI and Debian only.
set -euo pipefail
cd "$(dirname "$0")/../.."

if ! command -v tshark >/dev/null; then
    apt-get update -qq
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq tshark >/dev/null
fi
tshark --version | head -1

venv=target/esp-interop-venv
if [ ! -x "$venv/bin/python" ]; then
    python3 -m venv "$venv"
fi
"$venv/bin/pip" install -q --disable-pip-version-check "scapy==2.8.0" "cryptography>=42"

cargo build --release --locked --quiet
work=target/esp-interop
rm -rf "$work"
"$venv/bin/python" pcaps/esp/interop_live.py --erdp target/release/erdp --workdir "$work"
