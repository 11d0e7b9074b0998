#!/usr/bin/env bash
# Root-only: `erdp attach` between network namespaces with kernel traffic
# (tests/attach/netns.rs): two design-1 nodes, ping and HTTP over the
# must-encrypt and the plain-path prefixes, tshark on the circuit veth
# (ESP only for the must-encrypt prefixes, every ICV good), then the tunnel
# withdrawn (plaintext fallback flagged; fail-closed drop counted), then the
# edge's LAN on a TAP device (`--tap`) carrying kernel pings. Then
# tests/attach/flood.rs: a sender floods 64 B frames at a node with captures
# on for ERDP_FLOOD_SECONDS (default 30); the node must keep its memory,
# give every frame a fate and write whole captures and report on SIGTERM
# mid-flood. Each runs once per AF_PACKET backend (`--ignored`: a plain
# `cargo test` lists them as ignored); fails when not root or when a test
# did not run. The tests remove what they make (Drop guards); the trap removes whatever a killed
# run left behind, found by this run's tag.
set -euo pipefail
cd "$(dirname "$0")/../.."

if [ "$(id -u)" != 0 ]; then
    echo "45-attach-netns: needs root (network namespaces, veth, AF_PACKET)" >&2
    exit 1
fi

missing=()
command -v ip >/dev/null || missing+=(iproute2)
command -v ping >/dev/null || missing+=(iputils-ping)
command -v ethtool >/dev/null || missing+=(ethtool)
command -v curl >/dev/null || missing+=(curl)
command -v python3 >/dev/null || missing+=(python3)
command -v tshark >/dev/null || missing+=(tshark)
if [ ${#missing[@]} -gt 0 ]; then
    echo "installing ${missing[*]}"
    apt-get update -qq
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${missing[@]}" >/dev/null
fi

export ERDP_ATTACH_RUN_ID="ci$$"
cleanup() {
    for ns in $(ip netns list | awk '{print $1}' | grep -- "-att${ERDP_ATTACH_RUN_ID}-" || true); do
        ip netns pids "$ns" 2>/dev/null | xargs -r kill -KILL 2>/dev/null || true
        ip netns del "$ns" 2>/dev/null || true
    done
}
trap cleanup EXIT

for backend in pnet mmsg; do
    echo "== erdp attach between namespaces, $backend backend"
    log="$(mktemp)"
    ERDP_ATTACH_BACKEND=$backend timeout 600 \
        cargo test --locked --test attach -- --ignored netns:: 2>&1 | tee "$log" | tail -n 20
    bash .ci/steps/lib/all-ran.sh "$log" 1
    echo "== erdp attach under a 64 B flood, $backend backend"
    ERDP_ATTACH_BACKEND=$backend timeout 600 \
        cargo test --locked --test attach -- --ignored flood:: 2>&1 | tee "$log" | tail -n 20
    bash .ci/steps/lib/all-ran.sh "$log" 1
    rm -f "$log"
done

leftover=$(ip netns list | grep -c -- "-att${ERDP_ATTACH_RUN_ID}-" || true)
if [ "$leftover" != 0 ]; then
    echo "network namespaces left behind:" >&2
    ip netns list >&2
    exit 1
fi
echo "45-attach-netns: ok"
