#!/usr/bin/env bash
# The adversarial middlebox over thousands of messages: `coreseal bench load
# --expect` sends OSCORE requests through `coreseal proxy --attack` with the
# modes at once (bit flips, replays, option stripping and injection, payload
# substitution, delays, reordering), in both directions, and counts each
# answer as intact, rejected, or accepted altered. With OSCORE the last must
# be 0; the same run with plain CoAP shows that the attacks do land. (Drops
# are tested on their own in e2e.sh: here each would stall the proxy's one
# upstream exchange for an ACK timeout.)
# Usage: attack.sh CORESEAL [BASE_PORT]
set -u
B=$(readlink -f "$1")
PORT=${2:-$((10000 + ($$ * 59) % 22000))}
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
mkdir www
cat > server.json <<J
{"master_secret":"0102030405060708090a0b0c0d0e0f10","master_salt":"9e7ca92223786340","sender_id":"01","recipient_id":""}
J
cat > client.json <<J
{"master_secret":"0102030405060708090a0b0c0d0e0f10","master_salt":"9e7ca92223786340","sender_id":"","recipient_id":"01"}
J
S=$PORT P=$((PORT + 1))
MODES=flip,replay,strip,subst,inject,delay,reorder
"$B" serve -v --listen 127.0.0.1:$S --root www --oscore server.json --interop > server.log 2>&1 &
attacker() { # log file: a fresh attacking proxy on port P for each run
    "$B" proxy --listen 127.0.0.1:$P --default coap://127.0.0.1:$S --attack $MODES --attack-rate 60 \
        --attack-delay 20 > "$1" 2>&1 &
    PROXY=$!
    wait_for "$1" listening || { echo "FAIL the proxy did not start"; cat "$1"; exit 1; }
}
wait_for server.log listening || { echo "FAIL the server did not start"; cat server.log; exit 1; }
attacker proxy.log

"$B" bench load --oscore client.json --expect "Hello World!" -n 3000 -w 4 -d 60 \
    coap://127.0.0.1:$P/oscore/hello/1 > oscore.txt 2>&1
rc=$?
cat oscore.txt
read -r intact rejected altered <<< "$(sed -n 's/^answers: \([0-9]*\) intact, \([0-9]*\) rejected, \([0-9]*\) accepted altered.*/\1 \2 \3/p' oscore.txt)"
check "OSCORE through every attack at once: $((intact + rejected)) answers, $rejected rejected, $altered accepted altered (exit $rc)" \
    test "${altered:-x}" = 0 -a "${rejected:-0}" -ge 300 -a "${intact:-0}" -ge 100 -a $rc -eq 0 -a $((intact + rejected)) -ge 1000
kill -INT $PROXY
wait $PROXY 2>/dev/null
attacker proxy_plain.log
# a resource no flipped method can change (a GET flipped into PUT or DELETE would empty a file)
"$B" bench load --expect "Hello World!" -n 3000 -w 4 -d 60 coap://127.0.0.1:$P/oscore/hello/coap > plain.txt 2>&1
rc=$?
cat plain.txt
read -r pintact prejected paltered <<< "$(sed -n 's/^answers: \([0-9]*\) intact, \([0-9]*\) rejected, \([0-9]*\) accepted altered.*/\1 \2 \3/p' plain.txt)"
check "plain CoAP through the same attacks: $paltered altered answers accepted (exit $rc: the attacks land)" \
    test "${paltered:-0}" -ge 1 -a $rc -eq 6
kill -INT $PROXY
wait $PROXY 2>/dev/null
tail -1 proxy.log
check "the proxy tried every mode" \
    bash -c "grep -E 'flip [1-9][0-9]*, drop 0, replay [1-9][0-9]*, strip [1-9][0-9]*, subst [1-9][0-9]*, inject [1-9][0-9]*, delay [1-9][0-9]*, reorder [1-9][0-9]*' proxy.log > /dev/null"
check "replayed requests were refused by the server" grep -q 'replayed' server.log

echo "attack: $pass passed, $fail failed"
[ $fail -eq 0 ]
