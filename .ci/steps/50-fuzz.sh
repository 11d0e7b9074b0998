#!/usr/bin/env bash
# Fuzzing (issue 7): builds every cargo-fuzz target in fuzz/ (bfd, bgp, config,
# esp_decap, fib, forward, fragment, ike, pcap_replay: whatever `cargo fuzz
# list` shows) and runs each for FUZZ_SECONDS (default 60; nine targets: about 9
# minutes plus the build, well under 15) from seeds made out of pcaps/, on stable Rust
# without a sanitizer (`-s none`) and with debug assertions and overflow
# checks on (`-a`). Any crash, oracle failure, timeout or
# out-of-memory fails the step and prints the input in hex.
# The same oracles run as proptest properties in `cargo test`
# (tests/fuzz_*.rs), which need none of this.
set -euo pipefail
cd "$(dirname "$0")/../.."

seconds="${FUZZ_SECONDS:-60}"

if ! command -v cargo-fuzz >/dev/null; then
    timeout 900 cargo install cargo-fuzz --locked --quiet
fi
cargo fuzz --version

python3 fuzz/make_seeds.py
timeout 1200 cargo fuzz build -s none -a
targets=$(cargo fuzz list)

failed=()
for target in $targets; do
    corpus="fuzz/corpus/$target"
    artifacts="fuzz/artifacts/$target"
    rm -rf "$artifacts"
    mkdir -p "$corpus" "$artifacts"
    printf '\n-- %s: %s s\n' "$target" "$seconds"
    # -timeout: one input taking more than 10 s is a hang;
    # -rss_limit_mb: more than 2 GiB is a leak or a runaway allocation.
    if ! timeout $((seconds + 120)) cargo fuzz run -s none -a "$target" "$corpus" -- \
        -max_total_time="$seconds" -timeout=10 -rss_limit_mb=2048 \
        -print_final_stats=1 2>&1 | tail -n 60; then
        failed+=("$target")
    fi
    # cargo fuzz exits non-zero on a finding, and a finding leaves a file.
    for input in "$artifacts"/*; do
        [ -e "$input" ] || continue
        printf '\n%s: failing input %s (%s bytes), hex:\n' \
            "$target" "$input" "$(wc -c <"$input")"
        od -An -v -tx1 "$input" | tr -d ' \n' | fold -w 96
        echo
        failed+=("$target")
    done
done

if [ "${#failed[@]}" -gt 0 ]; then
    printf '\nfuzzing failed: %s\n' "$(printf '%s\n' "${failed[@]}" | sort -u | tr '\n' ' ')"
    echo "replay one with: cargo fuzz run -s none -a TARGET fuzz/artifacts/TARGET/FILE"
    exit 1
fi
echo "fuzzing: every target ran ${seconds} s without a finding"
