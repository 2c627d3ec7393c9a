#!/usr/bin/env bash
# Runs every *_fuzz binary in DIR for SECONDS each, from a scratch copy of
# its seed corpus in fuzz/corpus/<name>/ (the repo's corpus stays as is).
# Fails on the first crash, leak or timeout, leaving the reproducer in the
# current directory.
set -euo pipefail
dir=$1
secs=${2:-30}
root=$(cd "$(dirname "$0")/.." && pwd)
for bin in "$dir"/*_fuzz; do
    name=$(basename "$bin" _fuzz)
    work=$(mktemp -d)
    [ -d "$root/fuzz/corpus/$name" ] && cp -r "$root/fuzz/corpus/$name/." "$work/"
    echo "fuzz: $name for ${secs}s"
    "$bin" -max_total_time="$secs" -timeout=10 -rss_limit_mb=2048 -print_final_stats=1 \
        "$work" 2>&1 | grep -E '^(stat::number_of_executed_units|stat::peak_rss|==|SUMMARY|artifact)' || true
    status=${PIPESTATUS[0]}
    rm -rf "$work"
    [ "$status" -eq 0 ] || { echo "fuzz: $name FAILED (exit $status)"; exit 1; }
done
echo "fuzz: all targets ran clean"
