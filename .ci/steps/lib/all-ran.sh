#!/usr/bin/env bash
# Fails unless a `cargo test -- --ignored` log shows that every selected test
# ran and passed: the passed counts add up to at least EXPECTED, nothing
# failed, nothing was ignored or filtered out, and no test printed SKIPPED.
# Usage: all-ran.sh LOG EXPECTED
set -euo pipefail
log=$1
expected=$2
if grep -q "SKIPPED" "$log"; then
    echo "a test skipped:" >&2
    grep "SKIPPED" "$log" >&2
    exit 1
fi
passed=0
while read -r line; do
    if ! [[ "$line" =~ ^test\ result:\ ok\.\ ([0-9]+)\ passed\;\ 0\ failed\;\ 0\ ignored ]]; then
        echo "not every test ran and passed: $line" >&2
        exit 1
    fi
    passed=$((passed + BASH_REMATCH[1]))
done < <(grep "^test result:" "$log")
if [ "$passed" -lt "$expected" ]; then
    echo "only $passed tests ran, expected $expected" >&2
    exit 1
fi
echo "all $passed root tests ran and passed"
