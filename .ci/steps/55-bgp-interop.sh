#!/usr/bin/env bash
# Root-only: `erdp bgp` against BIRD 2 and FRR between network namespaces
# over real TCP (tests/bgp/interop.rs, #[ignore]d in plain `cargo test`):
# IPv4 and IPv6 routes learned both ways (erdp's FIB, `birdc show route`,
# `vtysh -c "show bgp ..."`), withdrawals seen on both sides, a prefix-limit
# breach ending the session with Cease 6/1 that the daemon logs; with FRR's
# bfdd, BFD (300 ms x 3) finding a blackholed link in under a second (Cease
# 6/10) while without BFD the hold timer (9 s) decides. Installs bird2 and
# frr; fails (never skips) when a test does not run. One test at a time:
# the BFD test measures detection in erdp's clock.
set -euo pipefail
cd "$(dirname "$0")/../.."

if [ "$(id -u)" != 0 ]; then
    echo "55-bgp-interop: needs root (network namespaces, veth)" >&2
    exit 1
fi
missing=()
command -v ip >/dev/null || missing+=(iproute2)
command -v bird >/dev/null || missing+=(bird2)
[ -x /usr/lib/frr/bgpd ] && [ -x /usr/lib/frr/bfdd ] || missing+=(frr)
command -v tc >/dev/null || missing+=(iproute2)
if [ ${#missing[@]} -gt 0 ]; then
    echo "installing ${missing[*]}"
    apt-get update -qq
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${missing[@]}" >/dev/null
fi
# Debian's packages start a system BIRD and FRR where systemd runs; the
# tests run their own in namespaces.
bird --version 2>&1 | head -n 1
/usr/lib/frr/bgpd --version 2>&1 | head -n 1

out=$(timeout 600 cargo test --locked --test bgp -- --ignored --nocapture --test-threads=1 interop:: 2>&1) || {
    echo "$out" | tail -n 60
    exit 1
}
echo "$out" | tail -n 15
if ! echo "$out" | grep -q "test result: ok. 4 passed"; then
    echo "55-bgp-interop: the interop tests did not all run" >&2
    exit 1
fi
echo "55-bgp-interop: ok"
