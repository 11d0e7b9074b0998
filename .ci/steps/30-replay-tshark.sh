#!/usr/bin/env bash
# erdp replay against Wireshark (issue 4): replay the design-1 corpus at
# both edges and check with tshark, using only the esp_sa lines erdp prints
# (DIR/wireshark-esp-sa.txt), that every ESP packet on the ExpressRoute
# interface has esp.icv_good == 1 and that the decrypted inner packets are
# the input packets (addresses, protocol, ports, lengths), in order.
set -euo pipefail
cd "$(dirname "$0")/../.."

if ! command -v tshark >/dev/null; then
    apt-get update -qq
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq tshark >/dev/null
fi
tshark --version | head -1

cargo build --release --locked --quiet
work=target/replay-tshark
rm -rf "$work"
mkdir -p "$work"

# Inner fields: the last occurrence of each is the innermost header.
fields=(-E occurrence=l -e ip.src -e ip.dst -e ipv6.src -e ipv6.dst -e ip.proto -e ipv6.nxt
        -e tcp.srcport -e tcp.dstport -e tcp.len -e udp.srcport -e udp.dstport -e udp.length
        -e icmp.type -e icmp.seq)

check() {
    local config=$1 capture=$2 ingress=$3 spi=$4
    local out="$work/$capture"
    target/release/erdp replay --config "pcaps/corpus/$config.toml" \
        --input "pcaps/corpus/$capture.pcap" --ingress "$ingress" --out-dir "$out" \
        --expect "pcaps/corpus/$capture.expect.toml" >"$out.summary"
    local uat=()
    while IFS= read -r line; do
        case "$line" in '#'* | '') ;; *) uat+=(-o "uat:esp_sa:$line") ;; esac
    done <"$out/wireshark-esp-sa.txt"
    local esp_opts=(-o esp.enable_encryption_decode:TRUE -o esp.enable_authentication_check:TRUE "${uat[@]}")
    tshark -r "$out/er.pcap" "${esp_opts[@]}" -T fields -e esp.spi -e esp.icv_good \
        2>/dev/null >"$out.icv"
    local total good
    total=$(wc -l <"$out.icv")
    good=$(awk -v spi="$spi" '$1 == spi && $2 == 1' "$out.icv" | wc -l)
    if [ "$total" -eq 0 ] || [ "$good" -ne "$total" ]; then
        echo "$capture: $good of $total ESP packets on er have a good ICV with SPI $spi:" >&2
        cat "$out.icv" >&2
        exit 1
    fi
    # IPv6 inside the IPv4 tunnel: the ip.* fields are the outer header's.
    local inner_only='BEGIN { FS = OFS = "\t" } $3 != "" { $1 = $2 = $5 = "" } { print }'
    tshark -r "pcaps/corpus/$capture.pcap" -T fields "${fields[@]}" 2>/dev/null |
        awk "$inner_only" >"$out.sent"
    tshark -r "$out/er.pcap" "${esp_opts[@]}" -T fields "${fields[@]}" 2>/dev/null |
        awk "$inner_only" >"$out.decrypted"
    if ! diff -u "$out.sent" "$out.decrypted" >&2; then
        echo "$capture: the decrypted inner packets differ from the input" >&2
        exit 1
    fi
    echo "$capture: $total ESP packets, ICV good with SPI $spi, inner packets as sent"
}

check design1-onprem-edge design1-onprem-to-azure lan 0x00001001
check design1-azure-gateway design1-azure-to-onprem vnet 0x00002001
