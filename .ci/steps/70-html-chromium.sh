#!/usr/bin/env bash
# report.html in a real browser (issue 20): Debian's headless Chromium opens
# the page of design1, of leak and of ike, dumps the DOM and takes a screenshot.
# Fails on a console message of level error or warning (a failed load, a
# blocked resource), a page without its flows and charts, or a blank shot.
set -euo pipefail
cd "$(dirname "$0")/../.."

bin=${ERDP_BIN:-target/release/erdp}
out=target/ci-html
mkdir -p "$out"
if ! command -v chromium >/dev/null; then
    apt-get update -qq
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium >/dev/null
fi

browse() { # browse PROFILE LOG ARGS...: headless Chromium, no network or updates
    local profile=$1 log=$2
    shift 2
    timeout 120 chromium --headless --no-sandbox --disable-gpu --disable-dev-shm-usage \
        --disable-background-networking --disable-component-update --disable-sync \
        --no-first-run --user-data-dir="$profile" --enable-logging=stderr --v=0 "$@" 2>>"$log"
}

for name in design1 leak ike; do
    status=0
    "$bin" run "$name" --out-dir "$out/$name" >/dev/null || status=$?
    expected=0
    [ "$name" = leak ] && expected=1
    if [ "$status" -ne "$expected" ]; then
        echo "erdp run $name: exit $status, expected $expected" >&2
        exit 1
    fi
    page="$PWD/$out/$name/report.html"
    [ -s "$page" ] || { echo "$page: missing or empty" >&2; exit 1; }
    log="$out/$name.chromium.log"
    : >"$log"
    profile=$(mktemp -d)
    browse "$profile" "$log" --dump-dom "file://$page" >"$out/$name.dom.html"
    browse "$profile" "$log" --window-size=1280,2600 --screenshot="$PWD/$out/$name.png" "file://$page" >/dev/null
    rm -rf "$profile"

    if grep -E 'CONSOLE|Uncaught|Failed to load|ERR_' "$log" | grep -viE 'dbus|gcm|gpu' >&2; then
        echo "$name: console errors in report.html (log: $log)" >&2
        exit 1
    fi
    flows=$(grep -o '<tr class="flow' "$out/$name.dom.html" | wc -l)
    charts=$(grep -o '<figure class="link-chart' "$out/$name.dom.html" | wc -l)
    if [ "$flows" -eq 0 ] || [ "$charts" -ne 5 ]; then
        echo "$name: the browser's page has $flows flow rows and $charts charts (5 links)" >&2
        exit 1
    fi
    size=$(stat -c %s "$out/$name.png" 2>/dev/null || echo 0)
    # A blank 1280x2600 shot compresses to a few kB; the page is far more.
    if [ "$size" -lt 40000 ]; then
        echo "$name: screenshot $out/$name.png is $size bytes: blank page?" >&2
        exit 1
    fi
    # ike: the IKE section, one row per SA pair each tunnel end had.
    if [ "$name" = ike ]; then
        sas=$(grep -o '<tr class="ike-sa"' "$out/$name.dom.html" | wc -l)
        if [ "$sas" -lt 10 ]; then
            echo "ike: the browser's page has $sas SA rows (5 pairs at each end)" >&2
            exit 1
        fi
        echo "ike: the IKE section lists $sas SA pairs"
    fi
    echo "$name: report.html renders in Chromium ($flows flows, $charts charts, screenshot $size bytes)"
done
echo "html ok"
