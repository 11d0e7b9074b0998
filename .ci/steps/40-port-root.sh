#!/usr/bin/env bash
# Root-only checks for src/port (real interfaces); fails when not root.
# Makes network namespaces, a veth pair and a TAP device,
# moves kernel frames through erdp's ports, and removes everything it made
# on exit (trap), pass or fail.
#  1. examples/port_bridge (attach without the node: AF_PACKET <-> TAP,
#     SIGTERM to stop, counters as JSON, per-port pcap capture) carrying a
#     kernel ping from one namespace to a TAP in another.
#  2. the root tests (`#[ignore]`d in a plain `cargo test`) with `--ignored`,
#     now that ping and ethtool are installed; a test whose tool or root is
#     missing fails, and this step fails unless every one of them ran.
set -euo pipefail
cd "$(dirname "$0")/../.."

if [ "$(id -u)" != 0 ]; then
    echo "40-port-root: needs root (network namespaces, veth, AF_PACKET, TAP)" >&2
    exit 1
fi

missing=()
command -v ip >/dev/null || missing+=(iproute2)
command -v ping >/dev/null || missing+=(iputils-ping)
command -v ethtool >/dev/null || missing+=(ethtool)
if [ ${#missing[@]} -gt 0 ]; then
    echo "installing ${missing[*]}"
    apt-get update -qq
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${missing[@]}" >/dev/null
fi

ns_host="erdp-ci-host-$$"
ns_node="erdp-ci-node-$$"
work="$(mktemp -d)"
bridge_pid=""
cleanup() {
    if [ -n "$bridge_pid" ] && kill -0 "$bridge_pid" 2>/dev/null; then
        kill -KILL "$bridge_pid" 2>/dev/null || true
    fi
    ip netns del "$ns_host" 2>/dev/null || true
    ip netns del "$ns_node" 2>/dev/null || true
    rm -rf "$work"
}
trap cleanup EXIT

echo "== namespaces, veth and TAP"
ip netns add "$ns_host"
ip netns add "$ns_node"
for ns in "$ns_host" "$ns_node"; do
    ip netns exec "$ns" sysctl -qw net.ipv6.conf.default.disable_ipv6=1 || true
    ip -n "$ns" link set lo up
done
ip link add name h0 netns "$ns_host" type veth peer name n0 netns "$ns_node"
ip -n "$ns_host" link set h0 up
ip -n "$ns_node" link set n0 up
ip -n "$ns_host" addr add 10.81.0.1/24 dev h0

timeout 900 cargo build --release --locked --example port_bridge
mkdir -p "$work/capture"
ip netns exec "$ns_node" ./target/release/examples/port_bridge \
    --capture-dir "$work/capture" wire=n0 tap=tap:erdptap0 >"$work/counters.json" &
bridge_pid=$!

# The bridge makes the TAP; give its kernel side an address.
for _ in $(seq 50); do
    ip -n "$ns_node" link show erdptap0 >/dev/null 2>&1 && break
    sleep 0.1
done
ip -n "$ns_node" addr add 10.81.0.2/24 dev erdptap0

echo "== kernel ping: host namespace -> veth -> AF_PACKET port -> TAP port -> kernel"
ip netns exec "$ns_host" ping -c 5 -i 0.2 -W 2 10.81.0.2

echo "== SIGTERM stops the bridge cleanly"
kill -TERM "$bridge_pid"
wait "$bridge_pid"
bridge_pid=""
cat "$work/counters.json"
python3 - "$work/counters.json" <<'EOF'
import json, sys
report = json.load(open(sys.argv[1]))
wire, tap = report["ports"]["wire"], report["ports"]["tap"]
# 5 echo requests (plus ARP) went wire -> tap, 5 replies (plus ARP) back.
assert wire["rx_packets"] >= 6 and tap["tx_packets"] >= 6, report
assert tap["rx_packets"] >= 6 and wire["tx_packets"] >= 6, report
assert wire["tx_errors"] == 0 and tap["tx_errors"] == 0, report
print("counters ok:", report["run"])
EOF
for port in wire tap; do
    size=$(stat -c %s "$work/capture/$port.pcap")
    echo "capture $port.pcap: $size bytes"
    [ "$size" -gt 24 ]
done
if ip -n "$ns_node" link show erdptap0 >/dev/null 2>&1; then
    echo "the TAP the bridge made should be gone" >&2
    exit 1
fi

ip netns del "$ns_host"
ip netns del "$ns_node"

echo "== root tests with ping and ethtool present"
timeout 900 cargo test --locked --test port -- --ignored afpacket:: tap:: 2>&1 \
    | tee "$work/root-tests.log" | tail -n 30
bash .ci/steps/lib/all-ran.sh "$work/root-tests.log" 13

leftover=$(ip netns list | grep -c "erdp-" || true)
if [ "$leftover" != 0 ]; then
    echo "network namespaces left behind:" >&2
    ip netns list >&2
    exit 1
fi
echo "40-port-root: ok"
