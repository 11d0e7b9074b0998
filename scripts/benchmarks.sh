#!/usr/bin/env bash
# Runs the criterion benches (benches/*.rs) and rewrites BENCHMARKS.md from
# criterion's estimates (examples/benchmarks_md.rs does the writing).
#
#   scripts/benchmarks.sh                    # every bench
#   scripts/benchmarks.sh fib forward:64B    # the fib bench; forward's 64 B benchmarks
#
# An argument is BENCH or BENCH:FILTER (a criterion filter, a regex on the
# benchmark ids). BENCHMARKS.md then holds only what this run measured, and
# its header says which. Environment:
#   ERDP_BENCH_ARGS   criterion options (default: short warm-up and measurement)
#   ERDP_BENCH_LOCK   a lock file held during each bench (flock), so benches
#                     of several checkouts on one machine never overlap
set -euo pipefail
cd "$(dirname "$0")/.."

args=("$@")
if [ ${#args[@]} -eq 0 ]; then
    for file in benches/*.rs; do
        args+=("$(basename "$file" .rs)")
    done
fi
criterion_args=${ERDP_BENCH_ARGS:---warm-up-time 1 --measurement-time 2}

run_dir=target/benchmarks
rm -rf "$run_dir"
mkdir -p "$run_dir/criterion"
export CRITERION_HOME="$PWD/$run_dir/criterion"

cargo bench --no-run --quiet

cpu=$(grep -m1 '^model name' /proc/cpuinfo | cut -d: -f2 | sed 's/^ *//' || true)
{
    echo "date=$(date -u '+%Y-%m-%d %H:%M UTC')"
    echo "machine=${cpu:-unknown CPU}, $(nproc) cores, Linux $(uname -r)"
    echo "load=$(cut -d' ' -f1-3 /proc/loadavg)"
    echo "command=scripts/benchmarks.sh $*"
    echo "criterion_args=$criterion_args"
} >"$run_dir/run.txt"

for arg in "${args[@]}"; do
    bench=${arg%%:*}
    filter=
    [ "$arg" != "$bench" ] && filter=${arg#*:}
    echo "== cargo bench --bench $bench -- $filter $criterion_args" >&2
    # shellcheck disable=SC2086 # criterion_args is a list of options
    run=(cargo bench --quiet --bench "$bench" -- $filter $criterion_args)
    if [ -n "${ERDP_BENCH_LOCK:-}" ]; then
        run=(flock "$ERDP_BENCH_LOCK" "${run[@]}")
    fi
    "${run[@]}" | tee -a "$run_dir/$bench.log"
    echo "bench=$arg" >>"$run_dir/run.txt"
done

# `erdp bench` on the forward bench's traffic: the worker-count curve.
if [ -z "${ERDP_SKIP_ERDP_BENCH:-}" ]; then
    cargo build --release --quiet --bin erdp
    traffic=$run_dir/traffic
    mkdir -p "$traffic"
    for case in "plain 64 10.3.0.10 design2-onprem-edge" "esp 1400 10.1.0.10 design1-onprem-edge"; do
        read -r name size dest config <<<"$case"
        python3 scripts/bench-traffic.py "$size" "$dest" 2048 "$traffic/$name$size.pcap"
        run=(target/release/erdp bench --config "pcaps/corpus/$config.toml"
            --input "$traffic/$name$size.pcap" --ingress lan --workers all --seconds 3)
        if [ -n "${ERDP_BENCH_LOCK:-}" ]; then
            run=(flock "$ERDP_BENCH_LOCK" "${run[@]}")
        fi
        echo "== ${run[*]}" >&2
        {
            echo "\$ erdp bench --config pcaps/corpus/$config.toml --input $name$size.pcap --ingress lan --workers all --seconds 3  # load $(cut -d' ' -f1-3 /proc/loadavg)"
            "${run[@]}"
            echo
        } >>"$run_dir/erdp-bench.txt"
    done
fi

cargo run --quiet --example benchmarks_md -- "$run_dir" BENCHMARKS.md
echo "BENCHMARKS.md rewritten from $run_dir" >&2
