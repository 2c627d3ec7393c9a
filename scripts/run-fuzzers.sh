#!/usr/bin/env bash
# Runs every *_fuzz binary in DIR for SECONDS each, from a scratch copy of
# its seed corpus in fuzz/corpus/<name>/ (the repo's corpus stays as is).
# Fails on the first crash, sanitizer report, leak or timeout, leaving the
# reproducer (crash-*, leak-*, timeout-*) in the current directory.
set -uo pipefail
dir=$1
secs=${2:-30}
root=$(cd "$(dirname "$0")/.." && pwd)
for bin in "$dir"/*_fuzz; do
    name=$(basename "$bin" _fuzz)
    work=$(mktemp -d)
    log=$(mktemp)
    [ -d "$root/fuzz/corpus/$name" ] && cp -r "$root/fuzz/corpus/$name/." "$work/"
    echo "fuzz: $name for ${secs}s"
    "$bin" -max_total_time="$secs" -timeout=10 -rss_limit_mb=2048 -print_final_stats=1 \
        "$work" >"$log" 2>&1
    status=$?
    grep -E '^(stat::number_of_executed_units|stat::peak_rss_mb)' "$log"
    rm -rf "$work"
    if [ "$status" -ne 0 ] || grep -q 'runtime error\|ERROR: \(Address\|Leak\|libFuzzer\)' "$log"; then
        echo "fuzz: $name FAILED (exit $status):"
        grep -E 'runtime error|ERROR|SUMMARY|artifact|#[0-9]+ 0x' "$log" | head -30
        rm -f "$log"
        exit 1
    fi
    rm -f "$log"
done
echo "fuzz: all targets ran clean"
