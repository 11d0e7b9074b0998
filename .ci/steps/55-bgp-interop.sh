#!/usr/bin/env bash
# Root-only: `erdp bgp` against BIRD 2 between network namespaces over real
# TCP (tests/bgp/interop.rs, #[ignore]d in plain `cargo test`): IPv4 and
# IPv6 routes learned both ways (erdp's FIB, `birdc show route`),
# withdrawals seen on both sides, a prefix-limit breach ending the session
# with Cease 6/1 that BIRD logs. Installs bird2; fails (never skips) when
# the test does not run.
set -euo pipefail
cd "$(dirname "$0")/../.."

if [ "$(id -u)" != 0 ]; then
    echo "55-bgp-interop: needs root (network namespaces, veth)" >&2
    exit 1
fi
missing=()
command -v ip >/dev/null || missing+=(iproute2)
command -v bird >/dev/null || missing+=(bird2)
if [ ${#missing[@]} -gt 0 ]; then
    echo "installing ${missing[*]}"
    apt-get update -qq
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${missing[@]}" >/dev/null
fi
# Debian's package starts a system BIRD where systemd runs; the test runs
# its own in a namespace.
bird --version 2>&1 | head -n 1

out=$(timeout 600 cargo test --locked --test bgp -- --ignored --nocapture 2>&1) || {
    echo "$out" | tail -n 60
    exit 1
}
echo "$out" | tail -n 15
if ! echo "$out" | grep -q "test result: ok. 1 passed"; then
    echo "55-bgp-interop: the interop test did not run" >&2
    exit 1
fi
echo "55-bgp-interop: ok"
