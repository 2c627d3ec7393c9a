#!/usr/bin/env bash
# Three `coreseal lwm2m server` nodes sharing one Redis (issue #11,
# docs/cluster.md): 1000 simulated OSCORE clients register at one node,
# update through the next and de-register through the third; every node lists
# them, reads them over REST and streams every node's events; a request node
# A accepted and replayed at nodes B and C is refused by both; a registration
# whose lifetime ran out is ended by exactly one node; a node killed again and
# again under load loses no registration, Redis going away stops protected
# traffic until it is back, and no (context, Partial IV) is ever sent twice.
# A client moved to another node has its notifications taken there; a DTLS
# key given to one node is known to all.
# Usage: cluster.sh CORESEAL LOSSY_RELAY [BASE_PORT]
set -u
B=$(readlink -f "$1")
RELAY=$(readlink -f "$2")
HERE=$(dirname "$(readlink -f "$0")")
PORT=${3:-$((10000 + ($$ * 89) % 22000))} # below 32768: outgoing sockets get 32768-60999
command -v redis-server > /dev/null || { echo "redis-server not installed: skipped"; exit 77; }
W=$(mktemp -d)
trap 'kill $(jobs -p) 2>/dev/null; rm -rf "$W"' EXIT
cd "$W" || exit 1
pass=0
fail=0
check() {
    local name=$1
    shift
    if "$@"; then pass=$((pass + 1)); echo "ok   $name"; else fail=$((fail + 1)); echo "FAIL $name"; fi
}
wait_for() { # file, text
    for _ in $(seq 50); do grep -q "$2" "$1" 2>/dev/null && return 0; sleep 0.1; done
    return 1
}
RP=$PORT
R=redis://127.0.0.1:$RP
redis-server --port $RP --bind 127.0.0.1 --dir "$W" --save '' --appendonly yes --appendfsync always \
    > redis.log 2>&1 &
wait_for redis.log 'Ready to accept' || { echo "redis-server did not start"; cat redis.log; exit 1; }
NODE_PIDS=()
start_nodes() { # extra flags for every node
    NODE_PIDS=()
    for k in 1 2 3; do
        rm -f node$k.log
        "$B" lwm2m server --listen 127.0.0.1:$((PORT + k)) --store $R --http 127.0.0.1:$((PORT + 10 + k)) \
            --max-clients 2000 "$@" > node$k.log 2>&1 &
        NODE_PIDS+=($!)
    done
    for k in 1 2 3; do wait_for node$k.log listening || return 1; done
}
stop_nodes() {
    kill -TERM "${NODE_PIDS[@]}" 2>/dev/null
    wait "${NODE_PIDS[@]}" 2>/dev/null
}
api() { curl -s "http://127.0.0.1:$((PORT + 10 + $1))/api/$2"; }
count_clients() { api "$1" clients | python3 -c 'import json,sys; print(len(json.load(sys.stdin)))'; }
SERVERS="--server coap://127.0.0.1:$((PORT + 1)) --server coap://127.0.0.1:$((PORT + 2)) --server coap://127.0.0.1:$((PORT + 3))"

# --- 1000 clients over three nodes
"$B" lwm2m swarm --count 1000 --seed 21 --provision $R > prov.log 2>&1
check "1000 OSCORE clients provisioned into Redis" grep -q '1000 clients provisioned' prov.log
start_nodes --read /3/0/0 --observe /3/0/2
(timeout 20 curl -sN "http://127.0.0.1:$((PORT + 11))/api/events" > events1.txt &)
"$B" lwm2m swarm --count 1000 --seed 21 $SERVERS --duration 4 > swarm.log 2>&1 &
SW=$!
for _ in $(seq 100); do [ "$(grep -c '^server: registered' node1.log node2.log node3.log | awk -F: '{s += $2} END {print s}')" -ge 1000 ] && break; sleep 0.1; done
sleep 0.5
lists=""
for k in 1 2 3; do lists="$lists $(count_clients $k)"; done
check "every node lists all 1000 registered clients, wherever they registered (${lists# })" \
    test "$lists" = " 1000 1000 1000"
reads=0
for i in 0 1 2 500 998 999; do
    for k in 1 2 3; do
        api $k "clients/s$(printf %06d $i)/3/0/2" | grep -q "\"v\":\"s$(printf %06d $i)\"" && reads=$((reads + 1))
    done
done
check "Device Management through every node reaches the client wherever it registered: $reads of 18 REST reads" \
    test $reads = 18
wait $SW
rc=$?
sed -n 's/^swarm: /     /p' swarm.log
check "each client registered at node i, updated through node i+1, de-registered through node i+2 (exit $rc)" \
    test $rc = 0 -a -n "$(grep '1000/1000 registered.*1000 updated, 1000 de-registered, 0 failed' swarm.log)"
for k in 1 2 3; do
    echo "     node$k: $(grep -c '^server: registered' node$k.log) registered, $(grep -c '^server: update from' node$k.log) updates, $(grep -c '^server: de-registered' node$k.log) de-registered, $(grep -c ' = coreseal' node$k.log) reads"
done
check "the reads after Register: 1000 in all, each by the node it registered at" \
    test "$(cat node1.log node2.log node3.log | grep -c ' = coreseal')" = 1000
# each observation prints its first answer and the one notification
check "every client observed by the node it registered at, its notification delivered there: $(cat node1.log node2.log node3.log | grep -c '^server: notify s.* /3/0/2 = s') of 2000 values" \
    test "$(cat node1.log node2.log node3.log | grep -c '^server: notify s.* /3/0/2 = s')" = 2000 \
    -a "$(grep -c '^server: notify' node1.log)" -gt 300 -a "$(grep -c '^server: notify' node3.log)" -gt 300
sleep 0.5
check "node 1's event stream has every client's registered, updated and deregistered event, from all nodes" \
    test "$(grep -c '^event: registered' events1.txt)" = 1000 -a "$(grep -c '^event: updated' events1.txt)" = 1000 \
    -a "$(grep -c '^event: deregistered' events1.txt)" = 1000
lists=""
for k in 1 2 3; do lists="$lists $(count_clients $k)"; done
check "after the de-registrations no node lists a client (${lists# }), no observation token is left in Redis" \
    test "$lists" = " 0 0 0" -a "$(redis-cli -p $RP --scan --pattern 'coreseal:lwm2m:tok:*' | wc -l)" = 0
stop_nodes

# --- a request node A accepted, replayed at nodes B and C
"$B" lwm2m swarm --count 40 --seed 22 --provision $R > /dev/null 2>&1
start_nodes -v
"$RELAY" $((PORT + 20)) $((PORT + 1)) 0 4 $((PORT + 2)) $((PORT + 3)) 2> relay.log &
RL=$!
sleep 0.2
"$B" lwm2m swarm --count 40 --seed 22 --server coap://127.0.0.1:$((PORT + 20)) --duration 0.5 > swarm2.log 2>&1
rc=$?
wait $RL # it stops by itself, then tells how many it replayed
sleep 0.3
replayed=$(sed -n 's/.*replayed \([0-9]*\) to each mirror.*/\1/p' relay.log)
refused2=$(grep -c 'replayed or old message' node2.log)
refused3=$(grep -c 'replayed or old message' node3.log)
accepted=$(cat node2.log node3.log | grep -c '^server: \(registered\|update from\|de-registered\)')
check "node A served 40 clients through the replaying relay (exit $rc)" test $rc = 0
check "every request node A answered and the relay replayed at B and C ($replayed) is refused by both ($refused2, $refused3), none accepted ($accepted)" \
    test "${replayed:-0}" -gt 40 -a "$refused2" = "$replayed" -a "$refused3" = "$replayed" -a "$accepted" = 0
stop_nodes

# --- expiry: decided once for the cluster
"$B" lwm2m swarm --count 30 --seed 23 --provision $R > /dev/null 2>&1
start_nodes
(timeout 20 curl -sN "http://127.0.0.1:$((PORT + 12))/api/events" > events2.txt &)
"$B" lwm2m swarm --count 30 --seed 23 $SERVERS --lifetime 10 --duration 12.5 > swarm3.log 2>&1
expired=$(cat node1.log node2.log node3.log | grep -c 'registration of s0000[0-9][0-9] expired')
distinct=$(cat node1.log node2.log node3.log | sed -n 's/.*registration of \(s0000[0-9][0-9]\) expired.*/\1/p' | sort -u | wc -l)
check "30 registrations with a 10 s lifetime ended once each in the cluster ($expired endings, $distinct clients)" \
    test "$expired" = 30 -a "$distinct" = 30
check "node 2's event stream carries all 30 expired events, whichever node ended them" \
    test "$(grep -c '^event: expired' events2.txt)" = 30
lists=""
for k in 1 2 3; do lists="$lists $(count_clients $k)"; done
check "no node lists an expired client (${lists# })" test "$lists" = " 0 0 0"
stop_nodes

# --- two Bootstrap-Servers sharing their accounts' OSCORE state
cat > bs-dev1.json <<J
{"master_secret":"0102030405060708090a0b0c0d0e0f10","sender_id":"6273","recipient_id":"64657631"}
J
cat > dev1-bs.json <<J
{"master_secret":"0102030405060708090a0b0c0d0e0f10","sender_id":"64657631","recipient_id":"6273",
 "state_file":"dev1-bs.state"}
J
cat > bs.json <<J
{"accounts":[{"endpoint":"dev1","oscore":"bs-dev1.json","server":{"uri":"coap://127.0.0.1:$((PORT + 1))","ssid":101}}]}
J
start_nodes
BS_PIDS=()
for k in 1 2; do # node 1 puts the accounts into Redis, node 2 takes them from there
    config=""
    [ $k = 1 ] && config="--config bs.json"
    "$B" lwm2m bootstrap --listen 127.0.0.1:$((PORT + 30 + k)) $config --store $R -v > bs$k.log 2>&1 &
    BS_PIDS+=($!)
    wait_for bs$k.log listening
done
check "Bootstrap-Server 2, started with --store alone, has the account node 1 put into Redis" \
    grep -q 'listening on .*, 1 accounts' bs2.log
"$RELAY" $((PORT + 35)) $((PORT + 31)) 0 3 $((PORT + 32)) 2> bsrelay.log &
RL=$!
mkdir dev1a dev1b
"$B" lwm2m client --ep dev1 --bootstrap coap://127.0.0.1:$((PORT + 35)) --oscore dev1-bs.json --state dev1a \
    --duration 0.5 > bsc1.log 2>&1
rc=$?
wait $RL
check "bootstrap node A provisions dev1 through a relay replaying its requests at node B (exit $rc); node B refuses them all" \
    test $rc = 0 -a -n "$(grep 'dev1: finished' bs1.log)" -a -z "$(grep 'dev1: finished' bs2.log)" \
    -a "$(grep -c 'replayed or old message' bs2.log)" -ge 1
"$B" lwm2m client --ep dev1 --bootstrap coap://127.0.0.1:$((PORT + 32)) --oscore dev1-bs.json --state dev1b \
    --duration 0.5 > bsc2.log 2>&1
rc=$?
check "the same client bootstraps again through node B, its sequence numbers continuing (exit $rc)" \
    test $rc = 0 -a -n "$(grep 'dev1: finished' bs2.log)"
check "both times it registered (NoSec) with the LwM2M cluster and de-registered at the end" \
    test "$(cat node1.log node2.log node3.log | grep -c '^server: registered dev1')" = 2 \
    -a "$(cat node1.log node2.log node3.log | grep -c '^server: de-registered dev1')" = 2
kill -TERM "${BS_PIDS[@]}" 2>/dev/null
wait "${BS_PIDS[@]}" 2>/dev/null
stop_nodes

# --- a client moved to another node (NAT rebinding): its notifications are taken there
cat > srv-dev9.json <<J
{"master_secret":"a0a1a2a3a4a5a6a7a8a9aaabacadaeaf","sender_id":"00","recipient_id":"64657639"}
J
cat > dev9.json <<J
{"master_secret":"a0a1a2a3a4a5a6a7a8a9aaabacadaeaf","sender_id":"64657639","recipient_id":"00",
 "state_file":"dev9.state"}
J
start_nodes --oscore srv-dev9.json --observe /3303/0/5700
(timeout 14 curl -sN "http://127.0.0.1:$((PORT + 13))/api/events" > events3.txt &)
python3 "$HERE/switch_relay.py" $((PORT + 36)) $((PORT + 1)) $((PORT + 2)) moved 10 2> switch.log &
SR=$!
sleep 0.2
# lifetime 10: its Update comes at 5 s, after the move
"$B" lwm2m client --ep dev9 --server coap://127.0.0.1:$((PORT + 36)) --oscore dev9.json --lifetime 10 \
    --duration 7 --interval 200 > dev9.log 2>&1 &
DEV9=$!
wait_for node1.log 'notify dev9'
sleep 1
touch moved
wait $DEV9
rc=$?
wait $SR
check "dev9 registered at node 1, which observes it (notifications there before the move)" \
    test -n "$(grep 'registered dev9' node1.log)" -a "$(grep -c 'notify dev9 /3303/0/5700' node1.log)" -ge 2
check "moved to node 2, its notifications are taken there from what Redis keeps of node 1's observation" \
    test -n "$(grep 'dev9 /3303/0/5700: a notification of another node.s observation; taken over here' node2.log)" \
    -a "$(grep -c 'notify dev9 /3303/0/5700' node2.log)" -ge 3
check "its Update and De-register through node 2 accepted (client exit $rc)" \
    test $rc = 0 -a -n "$(grep 'update from dev9' node2.log)" -a -n "$(grep 'de-registered dev9' node2.log)"
check "node 3's event stream carries the notifications of both nodes ($(grep -c '^event: notify' events3.txt))" \
    test "$(grep -c '^event: notify' events3.txt)" -ge 5
stop_nodes

# --- devices observed through every node: each node observes a client registered at another
OBS=""
for d in a b c; do
    id=$(printf 'dev%s' $d | od -An -tx1 | tr -d ' \n')
    cat > srv-dev$d.json <<J
{"master_secret":"b0b1b2b3b4b5b6b7b8b9babbbcbdbebf","sender_id":"00","recipient_id":"$id"}
J
    cat > dev$d.json <<J
{"master_secret":"b0b1b2b3b4b5b6b7b8b9babbbcbdbebf","sender_id":"$id","recipient_id":"00",
 "state_file":"dev$d.state"}
J
    OBS="$OBS --oscore srv-dev$d.json"
done
start_nodes $OBS
(timeout 12 curl -sN "http://127.0.0.1:$((PORT + 11))/api/events" > events4.txt &)
k=1
DEVS=""
for d in a b c; do
    "$B" lwm2m client --ep dev$d --server coap://127.0.0.1:$((PORT + k)) --oscore dev$d.json --duration 5 \
        --interval 200 > dev$d.log 2>&1 &
    DEVS="$DEVS $!"
    k=$((k + 1))
done
for d in a b c; do for _ in $(seq 50); do [ "$(count_clients 1)" = 3 ] && break; sleep 0.1; done; done
first=""
for k in 1 2 3; do # node k observes the client registered at node k+1
    d=$(echo a b c | cut -d' ' -f$((k % 3 + 1)))
    first="$first $(curl -s -X POST "http://127.0.0.1:$((PORT + 10 + k))/api/clients/dev$d/3303/0/5700/observe" | grep -c '"code":"2.05')"
done
wait $DEVS
check "each node observes over REST a client registered at another node: first values${first}" test "$first" = " 1 1 1"
check "and gets its notifications: node 1 from devb, node 2 from devc, node 3 from deva" \
    test "$(grep -c 'notify devb /3303/0/5700' node1.log)" -ge 3 -a "$(grep -c 'notify devc /3303/0/5700' node2.log)" -ge 3 \
    -a "$(grep -c 'notify deva /3303/0/5700' node3.log)" -ge 3
check "node 1's event stream carries every node's notifications (deva, devb, devc)" \
    test -n "$(grep -A1 '^event: notify' events4.txt | grep '"endpoint":"deva"')" \
    -a -n "$(grep -A1 '^event: notify' events4.txt | grep '"endpoint":"devb"')" \
    -a -n "$(grep -A1 '^event: notify' events4.txt | grep '"endpoint":"devc"')"
stop_nodes

# --- DTLS: a key given to one node is known to every node (PSKs in Redis)
NODE_PIDS=()
rm -f node1.log node2.log
"$B" lwm2m server --listen 127.0.0.1:$((PORT + 1)) --store $R --listen-dtls 127.0.0.1:$((PORT + 41)) \
    --psk dev5:sekrit-dev5 --max-clients 2000 > node1.log 2>&1 &
NODE_PIDS+=($!)
wait_for node1.log listening
"$B" lwm2m server --listen 127.0.0.1:$((PORT + 2)) --store $R --listen-dtls 127.0.0.1:$((PORT + 42)) \
    --max-clients 2000 > node2.log 2>&1 &
NODE_PIDS+=($!)
wait_for node2.log listening
"$B" lwm2m client --ep dev5 --server coaps://127.0.0.1:$((PORT + 42)) --psk dev5:sekrit-dev5 --duration 0.5 \
    > dev5.log 2>&1
rc=$?
check "node 2, given no --psk, accepts dev5 over DTLS with the key node 1 was given (exit $rc)" \
    test $rc = 0 -a -n "$(grep 'registered dev5 .*over DTLS' node2.log)"
"$B" lwm2m client --ep dev5 --server coaps://127.0.0.1:$((PORT + 42)) --psk dev5:wrong-key --duration 0.5 \
    --ack-timeout 300 > dev5b.log 2>&1
rc=$?
check "and refuses the same identity with another key (exit $rc)" \
    test $rc != 0 -a "$(grep -c 'registered dev5 ' node2.log)" = 1
stop_nodes

# --- crashes and a Redis outage under load: nothing lost, no nonce twice
"$B" lwm2m swarm --count 300 --seed 24 --provision $R > /dev/null 2>&1
start_nodes
"$B" lwm2m swarm --count 300 --seed 24 $SERVERS --duration 60 --record sent.txt > swarm4.log 2>&1 &
SW=$!
for _ in $(seq 100); do [ "$(count_clients 1)" = 300 ] && break; sleep 0.1; done
load() { # FILE NODE: REST reads of random clients through the node until load.stop appears
    while [ ! -e load.stop ]; do
        c=$(printf 's%06d' $((RANDOM % 300)))
        if curl -s -m 1 "http://127.0.0.1:$((PORT + 10 + $2))/api/clients/$c/3/0/2" | grep -q "\"v\":\"$c\""; then
            echo ok >> "$1"
        else
            echo fail >> "$1"
        fi
    done
}
rm -f load.stop
load survivors.txt 1 &
LOAD=$!
load survivors.txt 3 &
LOAD="$LOAD $!"
for round in 1 2 3; do
    sleep 0.7
    kill -KILL "${NODE_PIDS[1]}"
    wait "${NODE_PIDS[1]}" 2>/dev/null
    sleep 0.3
    "$B" lwm2m server --listen 127.0.0.1:$((PORT + 2)) --store $R --http 127.0.0.1:$((PORT + 12)) \
        --max-clients 2000 > node2-$round.log 2>&1 &
    NODE_PIDS[1]=$!
    wait_for node2-$round.log listening
    for _ in 1 2 3 4 5; do # and through the restarted node
        c=$(printf 's%06d' $((RANDOM % 300)))
        curl -s -m 3 "http://127.0.0.1:$((PORT + 12))/api/clients/$c/3/0/2" | grep -q "\"v\":\"$c\"" && echo ok >> restarted.txt
    done
done
touch load.stop
wait $LOAD
check "node 2 killed (SIGKILL) 3 times under load: every REST read through the survivors answered ($(grep -c ok survivors.txt) ok, $(grep -c fail survivors.txt) failed)" \
    test "$(grep -c ok survivors.txt)" -gt 20 -a ! -s <(grep fail survivors.txt)
check "each restarted node 2 loaded every registration and reached the clients: $(grep -c ok restarted.txt) of 15 reads" \
    test "$(grep -c ok restarted.txt)" = 15
lists=""
for k in 1 2 3; do lists="$lists $(count_clients $k)"; done
check "no registration lost: every node lists all 300 clients after the crashes (${lists# })" test "$lists" = " 300 300 300"
# Redis goes away under load, and comes back (its append-only file keeps the counters)
rm -f load.stop outage.txt
LOAD=""
for k in 1 2 3; do
    load outage.txt $k &
    LOAD="$LOAD $!"
done
sleep 0.5
redis-cli -p $RP shutdown > /dev/null 2>&1
sleep 1.5
during=$(grep -c ok outage.txt)
sleep 0.5
check "with Redis gone every node refuses protected traffic and says so (no read answered in the last 0.5 s: $during then $(grep -c ok outage.txt))" \
    test "$during" = "$(grep -c ok outage.txt)" -a -n "$(grep 'OSCORE state store cannot be reached' node1.log node3.log node2-3.log)"
redis-server --port $RP --bind 127.0.0.1 --dir "$W" --save '' --appendonly yes --appendfsync always \
    > redis2.log 2>&1 &
wait_for redis2.log 'Ready to accept'
sleep 3
before=$(grep -c ok outage.txt)
sleep 1.5
touch load.stop
wait $LOAD
check "Redis back: service resumes on every node ($(($(grep -c ok outage.txt) - before)) more reads answered) and they say so" \
    test "$(grep -c ok outage.txt)" -gt "$before" -a -n "$(grep 'reachable again' node1.log)"
kill -TERM $SW 2>/dev/null
wait $SW 2>/dev/null
check "$(wc -l < sent.txt) requests from the nodes, each (context, Partial IV) once: $(sort sent.txt | uniq -d | wc -l) pairs used twice" \
    test "$(wc -l < sent.txt)" -gt 50 -a -z "$(sort sent.txt | uniq -d)"
stop_nodes

echo "cluster: $pass passed, $fail failed"
test $fail = 0
