#!/usr/bin/env bash
# erdp against BIRD 2 on this machine, a full IPv4 table each way over one
# real TCP session between two network namespaces (issue 17, "Speed"): BIRD
# sends and `erdp bgp` learns, then erdp sends (--announce-file) and BIRD
# learns. Prints both times, the ratio, each receiver's peak memory and the
# load average (tests/bgp/full_table.rs, #[ignore]d in plain `cargo test`).
# Needs root; installs bird2 when missing. erdp is the release build.
#   scripts/bgp-vs-bird.sh            # table: ../shared/data/fib
#   ERDP_BGP_TABLE=FILE scripts/bgp-vs-bird.sh
set -euo pipefail
cd "$(dirname "$0")/.."

if [ "$(id -u)" != 0 ]; then
    echo "bgp-vs-bird: needs root (network namespaces, veth)" >&2
    exit 1
fi
if ! command -v bird >/dev/null; then
    apt-get update -qq
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq bird2 iproute2 >/dev/null
fi
bird --version 2>&1 | head -n 1
cargo build --release --quiet --bin erdp
ERDP_BIN="$PWD/target/release/erdp" cargo test --quiet --test bgp -- \
    --ignored --nocapture --test-threads=1 full_table:: 2>&1 |
    grep -v '^erdp: update'
