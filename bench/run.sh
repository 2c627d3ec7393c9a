#!/usr/bin/env bash
# make bench: every benchmark, printing tables. Numbers are measured here and
# now; nothing is hard-coded. Usage: bench/run.sh BUILD_DIR
# Two cores: the server runs on CPU 1, the load generator on CPU 0.
set -eu
BUILD=$(readlink -f "${1:-build}")
B=$BUILD/apps/coreseal/coreseal
W=$(mktemp -d)
trap 'kill $(jobs -p) 2>/dev/null || true; rm -rf "$W"' EXIT
cd "$W"
# taskset is a program, so background jobs started through it keep their pid
if command -v taskset >/dev/null; then CPU0="taskset -c 0"; CPU1="taskset -c 1"; else CPU0=""; CPU1=""; fi
N=${BENCH_REQUESTS:-400000}

echo "== machine"
echo "$(nproc) cores: $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | sed 's/^ //')"
echo
echo "== OSCORE message protection vs raw AEAD (bench/oscore_bench.c)"
"$BUILD/bench/oscore_bench" ${BENCH_ITERATIONS:-100000}
echo
echo "== EDHOC sizes and responder handshakes/s vs its public-key operations (bench/edhoc_bench.c)"
"$BUILD/bench/edhoc_bench" ${BENCH_HANDSHAKES:-300}
echo
echo "== LwM2M server: state per OSCORE device and Register rate as the table fills (bench/lwm2m_registry_bench.c)"
"$BUILD/bench/lwm2m_registry_bench" ${BENCH_DEVICES:-1000000}
echo

cat > server.json <<J
{"master_secret":"0102030405060708090a0b0c0d0e0f10","master_salt":"9e7ca92223786340",
 "sender_id":"01","recipient_id":"","replay_window":256}
J
cat > client.json <<J
{"master_secret":"0102030405060708090a0b0c0d0e0f10","master_salt":"9e7ca92223786340",
 "sender_id":"","recipient_id":"01"}
J
echo "== server requests/s over loopback ($N NON GETs, window 64, one core each)"
$CPU1 "$BUILD/bench/udp_echo" 5790 30 & ECHO=$!
sleep 0.3
echo_line=$($CPU0 "$B" bench load -n "$N" -d 20 coap://127.0.0.1:5790/oscore/hello/1)
kill $ECHO 2>/dev/null || true
echo_rps=$(echo "$echo_line" | sed -E 's/.*: ([0-9]+) requests.*/\1/')

run_server() { # port, label, extra serve args...
    local port=$1 label=$2
    shift 2
    LD_PRELOAD=$BUILD/bench/libmalloc_count.so $CPU1 "$B" serve --listen 127.0.0.1:$port \
        --interop "$@" 2> srv_$port.log &
    local pid=$!
    sleep 0.4
    local warm line rps
    warm=$($CPU0 "$B" bench load $CLIENT_ARGS -n 1000 -d 20 coap://127.0.0.1:$port/oscore/hello/$PATHSEG)
    kill -TERM $pid; wait $pid 2>/dev/null || true
    local base=$(sed -n 's/malloc_count: //p' srv_$port.log)
    LD_PRELOAD=$BUILD/bench/libmalloc_count.so $CPU1 "$B" serve --listen 127.0.0.1:$((port + 1)) \
        --interop "$@" 2> srv_$((port + 1)).log &
    pid=$!
    sleep 0.4
    line=$($CPU0 "$B" bench load $CLIENT_ARGS -n "$N" -d 20 coap://127.0.0.1:$((port + 1))/oscore/hello/$PATHSEG)
    kill -TERM $pid; wait $pid 2>/dev/null || true
    local total=$(sed -n 's/malloc_count: //p' srv_$((port + 1)).log)
    rps=$(echo "$line" | sed -E 's/.*: ([0-9]+) requests.*/\1/')
    local done_n=$(echo "$line" | sed -E 's/^([0-9]+) responses.*/\1/')
    local per=$(awk -v a="$total" -v b="$base" -v n="$done_n" -v w=1000 \
        'BEGIN { printf "%.4f", (a - b) / (n - w) }')
    printf '%-34s %12s %10s %16s\n' "$label" "$rps" \
        "$(awk -v a="$rps" -v b="$echo_rps" 'BEGIN { printf "%.2f", a / b }')" "$per"
}
printf '%-34s %12s %10s %16s\n' "server" "requests/s" "vs echo" "mallocs/request"
printf '%-34s %12s %10s %16s\n' "bare UDP echo (bench/udp_echo.c)" "$echo_rps" "1.00" "-"
CLIENT_ARGS="" PATHSEG=coap run_server 5800 "coreseal serve, plain CoAP"
CLIENT_ARGS="--oscore client.json" PATHSEG=1 run_server 5810 "coreseal serve, OSCORE" --oscore server.json
echo
SW=${BENCH_SWARM:-10000}
echo "== LwM2M server over loopback: $SW OSCORE clients (coreseal lwm2m swarm) register, are read, de-register"
echo "   (every Register first gets 4.01 + Echo; the server keeps clients in SQLite, SSN bounds fsynced;
   its reads go one at a time, NSTART 1, since the whole swarm is one address)"
"$B" lwm2m swarm --count "$SW" --seed 1 --provision swarm.db > /dev/null
$CPU1 "$B" lwm2m server --listen 127.0.0.1:5820 --db swarm.db --read /3/0/0 --max-clients $((SW + 16)) \
    > swarm_server.log 2>&1 & SWS=$!
sleep 0.5
$CPU0 "$B" lwm2m swarm --count "$SW" --seed 1 --server coap://127.0.0.1:5820 --duration 6 | sed 's/^swarm: /   /'
kill -TERM $SWS; wait $SWS 2>/dev/null || true
echo "   reads the server printed: $(grep -c ' = coreseal' swarm_server.log)"
sed -n 's/^coreseal lwm2m server: memory: /   server process memory (its own getrusage and \/proc\/self\/statm): /p' swarm_server.log
echo
"$(dirname "$(readlink -f "$0")")/cluster.sh" "$BUILD"
echo
echo "commands: make bench  (bench/run.sh build; BENCH_REQUESTS=$N, BENCH_DEVICES=${BENCH_DEVICES:-1000000}, BENCH_SWARM=$SW,"
echo "          BENCH_CLUSTER_CLIENTS=${BENCH_CLUSTER_CLIENTS:-5000})"
