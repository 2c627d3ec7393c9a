#!/usr/bin/env bash
# The LwM2M server on Redis with 1, 2 and 3 nodes (docs/cluster.md): what the
# swarm measures through the cluster (registrations/s, protected reads/s), the
# Redis round trips each costs (counted by the nodes) and Redis memory per
# device (INFO memory). Nothing is hard-coded: every number is measured in this run.
# Usage: bench/cluster.sh BUILD_DIR   (BENCH_CLUSTER_CLIENTS, default 5000)
set -eu
BUILD=$(readlink -f "${1:-build}")
B=$BUILD/apps/coreseal/coreseal
C=${BENCH_CLUSTER_CLIENTS:-5000}
command -v redis-server > /dev/null || { echo "redis-server not installed: cluster benchmark skipped"; exit 0; }
W=$(mktemp -d)
trap 'kill $(jobs -p) 2>/dev/null || true; rm -rf "$W"' EXIT
cd "$W"
RP=$((10000 + $$ % 22000)) # below the ephemeral ports
R=redis://127.0.0.1:$RP
redis-server --port $RP --bind 127.0.0.1 --dir "$W" --save '' --appendonly yes --appendfsync always > redis.log 2>&1 &
for _ in $(seq 50); do grep -q 'Ready to accept' redis.log && break; sleep 0.1; done
rcli() { redis-cli -p $RP "$@"; }
memory() { rcli info memory | sed -n 's/^used_memory:\([0-9]*\).*/\1/p'; }

# one swarm of $C clients against N nodes; WINDOW exchanges in flight; extra node flags after those
run() {
    local n=$1 seed=$2 window=$3
    shift 3
    rcli flushall > /dev/null
    local base
    base=$(memory)
    "$B" lwm2m swarm --count $C --seed $seed --provision $R > /dev/null
    local servers="" pids=""
    for k in $(seq $n); do
        "$B" lwm2m server --listen 127.0.0.1:$((RP + k)) --store $R --max-clients $((C + 16)) "$@" \
            > node$k.log 2>&1 &
        pids="$pids $!"
        servers="$servers --server coap://127.0.0.1:$((RP + k))"
    done
    for k in $(seq $n); do
        for _ in $(seq 100); do grep -q listening node$k.log && break; sleep 0.1; done
    done
    "$B" lwm2m swarm --count $C --seed $seed $servers --window $window --duration 1.5 > swarm.log 2>&1 &
    local sw=$!
    # memory while every client is registered (the swarm lingers 1.5 s before its Updates)
    for _ in $(seq 200); do [ "$(rcli zcard coreseal:lwm2m:expiry)" = $C ] && break; sleep 0.05; done
    MEM=$(( ($(memory) - base) / C ))
    wait $sw || true
    kill -TERM $pids 2>/dev/null
    wait $pids 2>/dev/null || true
    CALLS=$(cat node*.log | sed -n 's/.*Redis round trips: \([0-9]*\).*/\1/p' | awk '{s += $1} END {print s + 0}')
    rm -f node*.log
    REG=$(sed -n 's/.*(\([0-9]*\) registrations\/s.*/\1/p' swarm.log)
    READS=$(sed -n 's/.* requests answered (\([0-9]*\)\/s).*/\1/p' swarm.log)
    ANSWERED=$(sed -n 's/.*, \([0-9]*\) requests answered.*/\1/p' swarm.log)
    OK=$(grep -c "$C/$C registered.*0 failed" swarm.log || true)
}

echo "== LwM2M server nodes on one Redis: $C OSCORE clients (coreseal lwm2m swarm; 32 exchanges in flight, 8 with reads)"
echo "   each client: Register (with its Echo round trip) at node i, Update through node i+1, De-register through i+2"
echo "   $(nproc) cores: the nodes, the swarm and Redis share them, so more nodes add no CPU here; the table"
echo "   shows what sharing the state costs, not a scale-out gain"
printf '   %-6s %-16s %-26s %-9s %-24s %-16s %s\n' nodes registrations/s "Redis round trips/client" "reads/s" \
    "Redis round trips/read" "Redis B/device" "all ok"
for n in 1 2 3; do
    run $n $((40 + n)) 32
    reg=$REG calls_life=$CALLS mem=$MEM ok1=$OK
    run $n $((50 + n)) 8 --read /3/0/0 --read /3/0/2
    reads=$READS per_read=$(awk -v a=$CALLS -v b=$calls_life -v r=$ANSWERED 'BEGIN { if (r > 0) printf "%.2f", (a - b) / r; else print "-" }')
    printf '   %-6s %-16s %-26s %-9s %-24s %-16s %s\n' $n "$reg" \
        "$(awk -v a=$calls_life -v c=$C 'BEGIN { printf "%.1f", a / c }')" "$reads" "$per_read" "$mem" \
        "$([ "$ok1$OK" = 11 ] && echo yes || echo NO)"
done
echo "   (Round trips per client, all nodes together: its Register and the Echo retry, Update and"
echo "    De-register: window checks, the Echo answer's SSN, registration scripts, events, and each other"
echo "    node fetching the changed registration; per read: the SSN reservation (--ssn-block 1). Memory:"
echo "    Redis's used_memory with every client registered, less before provisioning, per client.)"
echo "   command: BENCH_CLUSTER_CLIENTS=$C bench/cluster.sh $BUILD"
