#!/usr/bin/env bash
# End-to-end tests over loopback: `coreseal serve` and `coreseal get`
# processes, plain and OSCORE: methods, 64 KiB block-wise both ways, Observe
# with 100+ notifications, a server killed and restarted (Echo recovery),
# unprotected and wrongly keyed requests, and 20% datagram loss through a
# relay. Usage: e2e.sh CORESEAL LOSSY_RELAY [BASE_PORT]
set -u
B=$(readlink -f "$1")
RELAY=$(readlink -f "$2")
# a base port of its own, so parallel runs (ctest -j, two builds) do not collide
PORT=${3:-$((10000 + ($$ * 97) % 22000))}
W=$(mktemp -d)
trap 'kill $(jobs -p) 2>/dev/null; rm -rf "$W"' EXIT
cd "$W" || exit 1
pass=0
fail=0
wait_for() { # file, text: until a server says it is ready (5 s at most)
    for _ in $(seq 50); do grep -q "$2" "$1" 2>/dev/null && return 0; sleep 0.1; done
    return 1
}
check() { # name, condition command...
    local name=$1
    shift
    if "$@"; then pass=$((pass + 1)); echo "ok   $name"; else fail=$((fail + 1)); echo "FAIL $name"; fi
}

mkdir www
printf 'hello file' > www/a.txt
head -c 65536 /dev/urandom > big.bin
cat > server.json <<J
{"master_secret":"0102030405060708090a0b0c0d0e0f10","master_salt":"9e7ca92223786340",
 "sender_id":"01","recipient_id":"","state_file":"server.state"}
J
cat > client.json <<J
{"master_secret":"0102030405060708090a0b0c0d0e0f10","master_salt":"9e7ca92223786340",
 "sender_id":"","recipient_id":"01","state_file":"client.state"}
J
cat > wrong.json <<J
{"master_secret":"ff02030405060708090a0b0c0d0e0f10","master_salt":"9e7ca92223786340",
 "sender_id":"","recipient_id":"01"}
J

start_server() {
    "$B" serve --listen 127.0.0.1:$PORT --root www --oscore server.json --interop \
        --observe-interval 20 -v >> server.log 2>&1 &
    SERVER=$!
    for _ in $(seq 50); do
        grep -q listening server.log 2>/dev/null && return 0
        sleep 0.05
    done
}
U=coap://127.0.0.1:$PORT
start_server

# --- plain CoAP
check "plain GET" test "$("$B" get $U/a.txt)" = "hello file"
"$B" put -e "new text" $U/p.txt
check "plain PUT creates" test "$(cat www/p.txt)" = "new text"
"$B" post -e "+more" $U/p.txt
check "plain POST appends" test "$(cat www/p.txt)" = "new text+more"
"$B" delete $U/p.txt
check "plain DELETE" test ! -e www/p.txt
"$B" get $U/p.txt 2> err.txt; rc=$?
check "GET of a deleted file: exit 5, 4.04" test $rc = 5 -a -n "$(grep '4.04 Not Found' err.txt)"

# --- OSCORE (the wrongly keyed request first, while its Partial IV 0 is fresh)
"$B" get --oscore wrong.json $U/oscore/hello/1 2> err.txt; rc=$?
check "wrong key: 4.00 Decryption failed" test $rc = 5 -a -n "$(grep 'Decryption failed' err.txt)"
check "OSCORE GET" test "$("$B" get --oscore client.json $U/oscore/hello/1)" = "Hello World!"
"$B" put --oscore client.json -e "secret" $U/s.txt
check "OSCORE PUT" test "$(cat www/s.txt)" = "secret"
"$B" delete --oscore client.json $U/s.txt
check "OSCORE DELETE" test ! -e www/s.txt
"$B" put --oscore client.json -f big.bin $U/big.bin
check "OSCORE 64 KiB upload (Block1)" cmp -s big.bin www/big.bin
head -c 30000 /dev/urandom > b1.bin
head -c 30000 /dev/urandom > b2.bin
"$B" put -b 64 -f b1.bin $U/same.bin & p1=$!
"$B" put -b 64 -f b2.bin $U/same.bin & p2=$!
wait $p1; r1=$?; wait $p2; r2=$?
check "two clients uploading to one resource at once: the result is one whole upload" \
    test $r1 = 0 -a $r2 = 0 -a \( "$(cmp -s www/same.bin b1.bin && echo y)" = y -o "$(cmp -s www/same.bin b2.bin && echo y)" = y \)
"$B" get --oscore client.json -o down.bin $U/big.bin
check "OSCORE 64 KiB download (Block2)" cmp -s big.bin down.bin
"$B" get --oscore client.json -b 128 -o down128.bin $U/big.bin
check "OSCORE download with 128-byte blocks" cmp -s big.bin down128.bin
"$B" get --oscore client.json --observe=4 $U/oscore/observe2 > notes.txt
n=$(wc -l < notes.txt)
check "OSCORE Observe: $n notifications (>= 100)" test "$n" -ge 100
"$B" get $U/oscore/hello/1 2> err.txt; rc=$?
check "unprotected request to a protected resource: 4.01" test $rc = 5 -a -n "$(grep '4.01' err.txt)"

# --- crash and restart: the server has no replay window; Echo brings it back
kill -9 $SERVER; wait $SERVER 2>/dev/null
start_server
out=$("$B" get -v --oscore client.json $U/oscore/hello/1 2> echo.txt)
check "after a server crash: request accepted via Echo" test "$out" = "Hello World!"
check "after a server crash: Echo round trip seen" grep -q "Echo" echo.txt
check "server state file written" test -s server.state

# --- 20% loss each way through a relay
"$RELAY" $((PORT + 1)) $PORT 20 60 2> relay.log &
sleep 0.2
ok=0
for i in $(seq 10); do
    r=$("$B" get --oscore client.json --ack-timeout 200 -T 30 coap://127.0.0.1:$((PORT + 1))/oscore/hello/1 2>/dev/null)
    [ "$r" = "Hello World!" ] && ok=$((ok + 1))
done
check "20% loss: $ok of 10 OSCORE requests completed (>= 9)" test $ok -ge 9

kill -TERM $SERVER; wait $SERVER 2>/dev/null
check "clean shutdown saves the replay window" grep -q replay_window server.state

# --- RFC 8613 Appendix B.2: fresh contexts from the same Master Secret
B2=$((PORT + 34))
sed 's/"state_file":"server.state"/"rfc8613_b_2":true/' server.json > b2server.json
sed 's/"state_file":"client.state"/"rfc8613_b_2":true,"state_file":"b2client.state"/' client.json > b2client.json
sed 's/"state_file":"client.state"/"rfc8613_b_2":true/' client.json > b2volatile.json
start_b2_server() {
    "$B" serve --listen 127.0.0.1:$B2 --root www --oscore b2server.json --interop -v >> b2.log 2>&1 &
    B2S=$!
    wait_for b2.log "listening on 127.0.0.1:$B2"
}
start_b2_server
out=$("$B" get -v --oscore b2client.json coap://127.0.0.1:$B2/oscore/hello/1 2> b2c.txt)
check "B.2: first use runs the protocol (response #1, then request #2 answered)" \
    test "$out" = "Hello World!" -a -n "$(grep 'B.2 response #1' b2c.txt)" \
    -a -n "$(grep 'new security context established' b2.log)"
idc=$(grep -o '"id_context": "[0-9a-f]*"' b2client.state)
check "B.2: the client's state file keeps the negotiated ID Context (16 bytes)" \
    test ${#idc} = 48
out=$("$B" get -v --oscore b2client.json coap://127.0.0.1:$B2/oscore/hello/1 2> b2c.txt)
check "B.2: a restarted client goes on with the stored context, no new run" \
    test "$out" = "Hello World!" -a -z "$(grep 'B.2' b2c.txt)"
kill -9 $B2S; wait $B2S 2>/dev/null
start_b2_server
out=$("$B" get -v --oscore b2client.json coap://127.0.0.1:$B2/oscore/hello/1 2> b2c.txt)
check "B.2: a server that lost everything (kill -9, no state file) is rejoined through B.2" \
    test "$out" = "Hello World!" -a -n "$(grep 'B.2 response #1' b2c.txt)" \
    -a "$(grep -o '"id_context": "[0-9a-f]*"' b2client.state)" != "$idc"
ok=0
for i in 1 2 3; do
    [ "$("$B" get --oscore b2volatile.json coap://127.0.0.1:$B2/oscore/hello/1)" = "Hello World!" ] && ok=$((ok + 1))
done
check "B.2: a client without state gets new keys on every run ($ok of 3)" \
    test $ok = 3 -a "$(grep -c 'new security context established' b2.log)" -ge 5
sed 's/"recipient_id":"01"/"recipient_id":"01","rfc8613_b_2":true/' wrong.json > b2wrong.json
offered=$(grep -c 'new security context offered' b2.log)
"$B" get --oscore b2wrong.json coap://127.0.0.1:$B2/oscore/hello/1 2> err.txt; rc=$?
check "B.2: a request #1 under another Master Secret is refused (4.00), no context offered" \
    test $rc = 5 -a -n "$(grep 'Decryption failed' err.txt)" \
    -a "$(grep -c 'new security context offered' b2.log)" = "$offered"
kill -TERM $B2S; wait $B2S 2>/dev/null

# --- scale-out: two server nodes, one client context, state shared in Redis (issue #11)
RP=$((PORT + 41))
NA=$((PORT + 42))
NB=$((PORT + 43))
REL=$((PORT + 44))
redis-server --port $RP --bind 127.0.0.1 --save '' --appendonly no > redis.log 2>&1 &
REDIS=$!
for _ in $(seq 50); do grep -q 'Ready to accept' redis.log && break; sleep 0.1; done
sed 's/"state_file":"server.state"/"ssn_step":4/' server.json > node.json
sed 's/"state_file":"client.state"/"state_file":"cluster-client.state"/' client.json > cluster-client.json
start_nodes() { # extra flags for both nodes
    "$B" serve --listen 127.0.0.1:$NA --root www --oscore node.json --interop -v "$@" > nodeA.log 2>&1 &
    NAP=$!
    "$B" serve --listen 127.0.0.1:$NB --root www --oscore node.json --interop -v "$@" > nodeB.log 2>&1 &
    NBP=$!
    wait_for nodeA.log listening && wait_for nodeB.log listening
}
replays_through_relay() { # requests through a relay that replays each answered one at node B
    "$RELAY" $REL $NA 0 30 $NB 2> relay2.log &
    local relay=$!
    sleep 0.2
    local ok=0
    for _ in 1 2 3; do
        [ "$("$B" get --oscore cluster-client.json coap://127.0.0.1:$REL/oscore/hello/1)" = "Hello World!" ] && ok=$((ok + 1))
    done
    sleep 0.3
    kill $relay 2>/dev/null; wait $relay 2>/dev/null
    echo $ok
}
start_nodes
ok=$(replays_through_relay)
accepted=$(grep -c '(inner, verified)' nodeB.log)
kill -TERM $NAP $NBP; wait $NAP $NBP 2>/dev/null
check "without shared state: each request node A answered is accepted again when replayed at node B ($accepted of 3)" \
    test "$ok" = 3 -a "$accepted" = 3
rm -f nodeA.log nodeB.log
start_nodes --shared-state redis://127.0.0.1:$RP
ok=$(replays_through_relay)
check "with --shared-state redis://: node A answers ($ok of 3), node B refuses every replay of them" \
    test "$ok" = 3 -a "$(grep -c 'replayed or old message' nodeB.log)" = 3 -a "$(grep -c '(inner, verified)' nodeB.log)" = 0
ok=0
for n in $NA $NB $NA $NB; do
    [ "$("$B" get --oscore cluster-client.json coap://127.0.0.1:$n/oscore/hello/1)" = "Hello World!" ] && ok=$((ok + 1))
done
check "with shared state any node serves the client: 4 of 4 requests alternating between nodes ($ok)" test $ok = 4
kill -TERM $NAP $NBP; wait $NAP $NBP 2>/dev/null
kill $REDIS; wait $REDIS 2>/dev/null

# --- EDHOC (RFC 9528 over CoAP, Appendix A.2), then OSCORE with its keys
"$B" edhoc keygen --curve P-256 --kid 2b --out dev > /dev/null
"$B" edhoc keygen --curve P-256 --kid 32 --out srv > /dev/null
"$B" edhoc keygen --curve P-256 --kid 07 --out stranger > /dev/null
"$B" edhoc keygen --curve Ed25519 --kid 0a --out edev > /dev/null
"$B" edhoc keygen --curve Ed25519 --kid 0b --out esrv > /dev/null
check "edhoc keygen: key file is private" test "$(stat -c %a dev.key)" = 600
"$B" serve --listen 127.0.0.1:$((PORT + 2)) --root www --interop --edhoc srv.key \
    --edhoc-trust dev.cred > edhoc.log 2>&1 &
"$B" serve --listen 127.0.0.1:$((PORT + 3)) --root www --interop --edhoc esrv.key \
    --edhoc-trust edev.cred > edhoc2.log 2>&1 &
sleep 0.3
E=coap://127.0.0.1:$((PORT + 2))
check "EDHOC method 3 (P-256 static DH) + OSCORE GET" \
    test "$("$B" get --edhoc dev.key --edhoc-peer srv.cred $E/oscore/hello/1)" = "Hello World!"
check "EDHOC method 0 (Ed25519 signatures) + OSCORE GET" \
    test "$("$B" get --edhoc edev.key --edhoc-peer esrv.cred coap://127.0.0.1:$((PORT + 3))/oscore/hello/1)" = "Hello World!"
out=$("$B" get -v --combined --edhoc dev.key --edhoc-peer srv.cred $E/oscore/hello/1 2> comb.txt)
check "EDHOC + OSCORE combined request (RFC 9668): one round trip less" \
    test "$out" = "Hello World!" -a "$(grep -c 'POST.*/.well-known/edhoc' comb.txt)" = 1
"$B" put --edhoc dev.key --edhoc-peer srv.cred -f big.bin $E/edhoc.bin
check "EDHOC + OSCORE 64 KiB upload" cmp -s big.bin www/edhoc.bin
"$B" get --edhoc stranger.key --edhoc-peer srv.cred $E/oscore/hello/1 2> err.txt; rc=$?
check "EDHOC with an untrusted credential: refused (error code 3)" \
    test $rc = 5 -a -n "$(grep 'code 3' err.txt)"
"$B" get --edhoc dev.key --edhoc-peer stranger.cred $E/oscore/hello/1 2> err.txt; rc=$?
check "EDHOC: the client refuses a server with an unexpected credential" test $rc = 6
# --- EDHOC with X.509 certificates (RFC 9360): sent by value and verified
# against a CA, or named by hash (x5t) and trusted by its credential file
"$B" edhoc keygen --curve P-256 --x509 --ca --subject test-ca --out xca > /dev/null
"$B" edhoc keygen --curve P-256 --x509 --ca --subject other-ca --out xother > /dev/null
"$B" edhoc keygen --curve Ed25519 --x509 --issuer xca.key --subject xsrv --out xsrv > /dev/null
"$B" edhoc keygen --curve Ed25519 --x509 --issuer xca.key --subject xdev --out xdev > /dev/null
"$B" edhoc keygen --curve Ed25519 --x509 --issuer xother.key --subject xdev --out xforged > /dev/null
"$B" edhoc keygen --curve Ed25519 --x509 --id-cred x5t --subject xpin --out xpin > /dev/null
check "edhoc keygen --x509: a CA-issued certificate (PEM) for the key" \
    bash -c "openssl verify -CAfile xca.pem xdev.pem > /dev/null && openssl x509 -in xdev.pem -noout -subject | grep -q xdev"
X=coap://127.0.0.1:$((PORT + 46))
"$B" serve --listen 127.0.0.1:$((PORT + 46)) --root www --interop --edhoc xsrv.key --edhoc-trust xca.pem \
    --edhoc-trust xpin.cred -v > edhoc3.log 2>&1 &
sleep 0.3
check "EDHOC X.509: certificates by value (x5chain) verified against the CA both ways, then OSCORE GET" \
    bash -c "[ \"\$(\"$B\" get --edhoc xdev.key --edhoc-peer xca.pem $X/oscore/hello/1)\" = 'Hello World!' ] && grep -q 'EDHOC completed with xdev' edhoc3.log"
check "EDHOC X.509: a certificate named by hash (x5t) and trusted by its credential file" \
    test "$("$B" get --edhoc xpin.key --edhoc-peer xca.pem $X/oscore/hello/1)" = "Hello World!"
"$B" get --edhoc xforged.key --edhoc-peer xca.pem $X/oscore/hello/1 2> err.txt; rc=$?
check "EDHOC X.509: a certificate from another CA is refused (error code 3)" \
    test $rc = 5 -a -n "$(grep 'code 3' err.txt)"
"$B" get --edhoc xdev.key --edhoc-peer xother.pem $X/oscore/hello/1 2> err.txt; rc=$?
check "EDHOC X.509: the client refuses a server its trusted CA did not issue" test $rc = 6
check "EDHOC X.509: the server's own certificate pinned, in a combined request (RFC 9668)" \
    test "$("$B" get --combined --edhoc xdev.key --edhoc-peer xsrv.pem $X/oscore/hello/1)" = "Hello World!"
# --- an untrusted proxy: it sees only ciphertext, and every change it makes is caught
start_server
P=$((PORT + 10))
"$B" proxy --listen 127.0.0.1:$P --default coap://127.0.0.1:$PORT --log seen.log > proxy.log 2>&1 &
sleep 0.3
check "OSCORE through a reverse proxy" \
    test "$("$B" get --oscore client.json coap://127.0.0.1:$P/oscore/hello/1)" = "Hello World!"
"$B" get --oscore client.json -o viaproxy.bin coap://127.0.0.1:$P/big.bin
check "OSCORE block-wise through the proxy" cmp -s big.bin viaproxy.bin
check "plain CoAP through the proxy" test "$("$B" get coap://127.0.0.1:$P/a.txt)" = "hello file"
check "the proxy log shows plain paths but no OSCORE path or payload" \
    test -n "$(grep '/a.txt' seen.log)" -a -z "$(grep 'hello' seen.log)" -a -n "$(grep 'OSCORE=' seen.log)"
"$B" proxy --listen 127.0.0.1:$((P + 1)) --forward > fproxy.log 2>&1 &
sleep 0.3
check "OSCORE through a forward proxy (-P)" \
    test "$("$B" get --oscore client.json -P coap://127.0.0.1:$((P + 1)) $U/oscore/hello/1)" = "Hello World!"

# an independent OSCORE implementation (Wireshark's dissector) decrypts and
# authenticates what our client and server protect, from the proxy's capture
"$B" proxy --listen 127.0.0.1:$((P + 3)) --default coap://127.0.0.1:$PORT --pcap seen.pcap > pcproxy.log 2>&1 &
PCP=$!
sleep 0.3
PX=coap://127.0.0.1:$((P + 3))
"$B" get --oscore client.json $PX/oscore/hello/1 > /dev/null
"$B" put --oscore client.json -b 256 -f b1.bin $PX/pcap-up.bin
"$B" get --oscore client.json --observe=2 $PX/oscore/observe1 > /dev/null
kill -TERM $PCP; wait $PCP 2>/dev/null
ws() { # tshark with the client's context (Sender ID "", Recipient ID 01)
    tshark -r seen.pcap -d udp.port==$((P + 3)),coap -d udp.port==$PORT,coap \
        -o "uat:oscore_contexts:\"\",\"01\",\"$1\",\"9e7ca92223786340\",\"\",\"AES-CCM-16-64-128 (CCM*)\"" \
        -Y "$2" 2>/dev/null | wc -l
}
MS=0102030405060708090a0b0c0d0e0f10
total=$(ws $MS oscore)
good=$(ws $MS 'oscore.code && !oscore.tag_check_failed && !oscore.decrypt_error')
bad=$(ws ff02030405060708090a0b0c0d0e0f10 'oscore.code && !oscore.tag_check_failed && !oscore.decrypt_error')
check "Wireshark's OSCORE decrypts and authenticates all $total protected messages seen on both hops (a GET, a 30 KB PUT in 256-byte blocks, Observe), and none under a wrong key ($bad)" \
    test "$total" -ge 200 -a "$good" = "$total" -a "$bad" = 0 -a -n "$(ws $MS 'oscore.opt.uri_path == "pcap-up.bin"')"

# a proxy in front of a constrained hop: OSCORE messages cross it in outer blocks
OP=$((PORT + 37))
"$B" proxy --listen 127.0.0.1:$OP --default coap://127.0.0.1:$PORT --block-size 64 --log outer.log \
    > oproxy.log 2>&1 &
OPX=$!
sleep 0.3
"$B" get --oscore client.json -o viaouter.bin coap://127.0.0.1:$OP/big.bin
check "outer block-wise (RFC 8613 4.1.3.4.2): 64 KiB down through a 64-byte hop, $(grep -c 'server->proxy.*Block2' outer.log) outer Block2 pieces" \
    cmp -s big.bin viaouter.bin
"$B" put --oscore client.json -f b1.bin coap://127.0.0.1:$OP/outer-up.bin
check "outer block-wise: 30 KB up through it, $(grep -c 'proxy->server.*Block1' outer.log) outer Block1 pieces gathered by the server" \
    cmp -s b1.bin www/outer-up.bin
check "outer block-wise: the pieces carry only ciphertext (no path, no file bytes in the log)" \
    test -z "$(grep 'big.bin\|outer-up' outer.log)" -a "$(grep -c 'Request-Tag' outer.log)" -gt 10
kill -TERM $OPX; wait $OPX 2>/dev/null
CP=$((PORT + 45))
"$B" proxy --listen 127.0.0.1:$CP --default coap://127.0.0.1:$PORT --client-block-size 64 --log outer2.log \
    > oproxy2.log 2>&1 &
OPX=$!
sleep 0.3
"$B" get --oscore client.json -v -o viaouter2.bin coap://127.0.0.1:$CP/big.bin 2> outer2.err
check "outer block-wise toward the client: 64 KiB in $(grep -c 'proxy->client.*Block2' outer2.log) outer Block2 blocks of 64 bytes, gathered by get before verifying" \
    cmp -s big.bin viaouter2.bin
kill -TERM $OPX; wait $OPX 2>/dev/null

attack_run() { # mode, count, oscore|plain, direction, extra proxy flags -> "accepted_right accepted_wrong rejected"
    local mode=$1 count=$2 kind=$3 port=$((P + 2)) right=0 wrong=0 rejected=0 want url args
    "$B" proxy --listen 127.0.0.1:$port --default coap://127.0.0.1:$PORT --attack "$mode" \
        --attack-direction "${4:-both}" ${5:-} > attack_$mode.log 2>&1 &
    local pid=$!
    sleep 0.2
    if [ "$kind" = oscore ]; then
        args="--oscore client.json"; url=coap://127.0.0.1:$port/oscore/hello/1; want="Hello World!"
    else
        args=""; url=coap://127.0.0.1:$port/a.txt; want="hello file"
    fi
    for _ in $(seq "$count"); do
        out=$("$B" get $args --ack-timeout 150 -T 4 "$url" 2>/dev/null); rc=$?
        if [ $rc -ne 0 ]; then rejected=$((rejected + 1))
        elif [ "$out" = "$want" ]; then right=$((right + 1))
        else wrong=$((wrong + 1)); fi
    done
    kill -TERM $pid; wait $pid 2>/dev/null
    echo "$right $wrong $rejected"
}
read -r right wrong rejected <<< "$(attack_run flip 12 oscore)"
check "bit flips on OSCORE: $right intact, $wrong altered accepted, $rejected rejected" \
    test "$wrong" = 0 -a "$rejected" -ge 8
read -r right wrong rejected <<< "$(attack_run flip 12 oscore both "--block-size 16")"
check "bit flips on OSCORE in outer 16-byte blocks: $wrong altered accepted, $rejected rejected" \
    test "$wrong" = 0 -a "$rejected" -ge 8
read -r right wrong rejected <<< "$(attack_run flip 12 oscore to-client)"
check "bit flips on OSCORE responses: $wrong altered accepted, $rejected rejected" \
    test "$wrong" = 0 -a "$rejected" -ge 8
read -r right wrong rejected <<< "$(attack_run flip 12 plain to-client)"
check "bit flips on plain CoAP responses: $wrong altered accepted undetected (> 0)" test "$wrong" -gt 0
read -r right wrong rejected <<< "$(attack_run strip 6 oscore)"
check "option stripping on OSCORE: $wrong altered accepted, $rejected rejected" \
    test "$wrong" = 0 -a "$right" = 0
read -r right wrong rejected <<< "$(attack_run replay 8 oscore)"
check "replays by the proxy: requests still served ($right of 8), none altered" \
    test "$wrong" = 0 -a "$right" -ge 7
check "replays by the proxy: the server refused them" grep -q "replayed" server.log
# option injection: responses gain an ETag, requests Uri-Query first=1 (which would make /oscore/hello/2
# answer with ETag 2b): plain CoAP takes them, OSCORE endpoints discard both (outer Class E)
"$B" proxy --listen 127.0.0.1:$((P + 3)) --default coap://127.0.0.1:$PORT --attack inject > attack_inject.log 2>&1 &
IPX=$!
sleep 0.2
"$B" get -v coap://127.0.0.1:$((P + 3))/a.txt > inj_plain.txt 2>&1
"$B" get -v --oscore client.json coap://127.0.0.1:$((P + 3))/oscore/hello/2 > inj_oscore.txt 2>&1; rc=$?
kill -TERM $IPX; wait $IPX 2>/dev/null
check "option injection on plain CoAP: the injected ETag is accepted undetected" \
    bash -c "grep -q '^< .*2.05.*ETag=66' inj_plain.txt && grep -q '^hello file' inj_plain.txt"
check "option injection on OSCORE: no effect (verified answer without ETags, exit $rc)" \
    bash -c "[ $rc -eq 0 ] && grep -q 'inner, verified' inj_oscore.txt && ! grep -q '^\* .*ETag' inj_oscore.txt && grep -q 'inject [1-9]' attack_inject.log"
kill -TERM $SERVER; wait $SERVER 2>/dev/null

# --- LwM2M over OSCORE: register, read, observe, de-register (servers that
# need not survive a restart keep their database in memory: no fsync waits)
cat > lwc.json <<J
{"master_secret":"00112233445566778899aabbccddeeff","sender_id":"6465763031","recipient_id":"00"}
J
cat > lws.json <<J
{"master_secret":"00112233445566778899aabbccddeeff","sender_id":"00","recipient_id":"6465763031"}
J
cat > lwc2.json <<J
{"master_secret":"ffeeddccbbaa99887766554433221100","sender_id":"0102","recipient_id":"01"}
J
cat > lws2.json <<J
{"master_secret":"ffeeddccbbaa99887766554433221100","sender_id":"01","recipient_id":"0102"}
J
L=$((PORT + 20))
"$B" lwm2m server --listen 127.0.0.1:$L --db :memory: --oscore lws.json --oscore lws2.json \
    --read /3/0/0 --read /3/0 --observe /3303/0/5700 > lwm2m.log 2>&1 &
LWS=$!
sleep 0.3
"$B" lwm2m client --server coap://127.0.0.1:$L --ep dev01 --oscore lwc.json --duration 3 \
    --interval 300 --send /3303/0/5700 > lwc.log 2>&1; rc=$?
check "LwM2M client registered, served and de-registered over OSCORE (exit $rc)" \
    test $rc = 0 -a -n "$(grep 'registered dev01 lt=300 over OSCORE' lwm2m.log)"
check "LwM2M Read in plain text and TLV over OSCORE" \
    test -n "$(grep 'read dev01 /3/0/0 = coreseal' lwm2m.log)" -a -n "$(grep 'read dev01 /3/0/16 = UQ' lwm2m.log)"
n=$(grep -c 'notify dev01 /3303/0/5700' lwm2m.log)
check "LwM2M Observe over OSCORE: $n notifications (>= 5)" test "$n" -ge 5
check "LwM2M De-register" grep -q 'de-registered dev01' lwm2m.log
check "LwM2M Send (POST /dp, SenML CBOR) over OSCORE" grep -q 'send dev01 /3303/0/5700 = 21' lwm2m.log
"$B" lwm2m client --server coap://127.0.0.1:$L --ep not-my-id --oscore lwc2.json --duration 1 \
    > lwc2.log 2>&1; rc=$?
check "LwM2M: endpoint name other than the OSCORE Sender ID refused with 4.00" \
    test $rc = 5 -a -n "$(grep 'refused not-my-id' lwm2m.log)"
# an unprotected client registers with lt=1 and never updates: the server's sweep ends it,
# and an Update to its old location then finds nothing
"$B" post -v -e '</3/0>' "coap://127.0.0.1:$L/rd?ep=plain01&lt=1" > lwp.log 2>&1; rc=$?
loc=$(sed -n 's/.*Location-Path=rd Location-Path=\([0-9]*\).*/\1/p' lwp.log | head -1)
check "LwM2M: unprotected Register beside OSCORE clients, at rd/$loc (exit $rc)" \
    test $rc = 0 -a -n "$loc" -a -n "$(grep 'registered plain01 lt=1 objects </3/0>' lwm2m.log)"
sleep 1.5
check "LwM2M: a registration whose lifetime ran out is ended" grep -q 'registration of plain01 expired' lwm2m.log
"$B" post "coap://127.0.0.1:$L/rd/$loc" > lwp2.log 2>&1; rc=$?
check "LwM2M: Update of an expired registration answered 4.04 (exit $rc)" grep -q '4.04' lwp2.log
kill -TERM $LWS; wait $LWS 2>/dev/null
# Write-Attributes: with st=0.35 the device reports its temperature (+0.1 per tick) only in steps >= 0.35
L=$((PORT + 21))
"$B" lwm2m server --listen 127.0.0.1:$L --db :memory: --attributes '/3303/0/5700?st=0.35&pmax=100' \
    --observe /3303/0/5700 > lwa.log 2>&1 &
LWS=$!
sleep 0.3
"$B" lwm2m client --server coap://127.0.0.1:$L --ep dev03 --duration 3 --interval 200 > lwa_c.log 2>&1
kill -TERM $LWS; wait $LWS 2>/dev/null
steps=$(awk '/notify dev03/ { if (n++) printf "%s ", ($NF - last >= 0.35 - 1e-9) ? "ok" : "short"; last = $NF }' lwa.log)
check "LwM2M Write-Attributes answered 2.04" grep -q 'attributes dev03 /3303/0/5700 -> 2.04' lwa.log
check "LwM2M st=0.35 honoured by the device: steps [$steps]" \
    test -n "$steps" -a -z "$(echo "$steps" | grep short)" -a "$(echo $steps | wc -w)" -ge 2

# --- LwM2M Bootstrap over OSCORE: the Bootstrap-Server provisions /21, /0, /1 from the
# server's own context file; the client registers with it, keeps it across restarts
cat > bs-dev1.json <<J
{"master_secret":"0102030405060708090a0b0c0d0e0f10","sender_id":"6273","recipient_id":"64657631"}
J
cat > dev1-bs.json <<J
{"master_secret":"0102030405060708090a0b0c0d0e0f10","sender_id":"64657631","recipient_id":"6273",
 "state_file":"dev1-bs.state"}
J
cat > srv-dev1.json <<J
{"master_secret":"a0a1a2a3a4a5a6a7a8a9aaabacadaeaf","master_salt":"9e7ca92223786340",
 "sender_id":"00","recipient_id":"64657631","state_file":"srv-dev1.state"}
J
L=$((PORT + 22))
LB=$((PORT + 23))
cat > bs-dev3.json <<J
{"master_secret":"c0c1c2c3c4c5c6c7c8c9cacbcccdcecf","sender_id":"6273","recipient_id":"64657633"}
J
cat > dev3-bs.json <<J
{"master_secret":"c0c1c2c3c4c5c6c7c8c9cacbcccdcecf","sender_id":"64657633","recipient_id":"6273",
 "state_file":"dev3-bs.state"}
J
cat > bs.json <<J
{"accounts":[{"endpoint":"dev1","oscore":"bs-dev1.json",
  "server":{"uri":"coap://127.0.0.1:$L","ssid":101,"lifetime":60,"oscore":"srv-dev1.json"},
  "access_control":[{"object":3303,"instance":0,"owner":101,"acl":{"101":1,"0":1}},
                    {"object":3303,"instance":65535,"owner":101,"acl":{"101":16}}]},
 {"endpoint":"dev3","oscore":"bs-dev3.json","server":{"uri":"coap://127.0.0.1:$L","ssid":103}}]}
J
"$B" lwm2m bootstrap --listen 127.0.0.1:$LB --config bs.json > lbs.log 2>&1 &
LBS=$!
"$B" lwm2m server --listen 127.0.0.1:$L --db :memory: --oscore srv-dev1.json --read /3/0/0 --read /2/0 \
    --observe /3303/0/5700 > lbsrv.log 2>&1 &
LWS=$!
sleep 0.3
mkdir dev1
"$B" lwm2m client --ep dev1 --bootstrap coap://127.0.0.1:$LB --oscore dev1-bs.json --state dev1 \
    --duration 1 --interval 300 -v > lbc.log 2>&1; rc=$?
check "LwM2M Bootstrap-Request answered with 4.01 + Echo first, then accepted (exit $rc)" \
    test $rc = 0 -a "$(grep -c 'asks for freshness' lbc.log)" -ge 1 -a -n "$(grep 'bootstrap requested as dev1 over OSCORE' lbc.log)"
check "LwM2M Bootstrap: Delete, Discover, Write /21 /0 /1, Finish" \
    test -n "$(grep 'PUT /21/1 -> 2.04' lbc.log)" -a -n "$(grep 'PUT /0/1 -> 2.04' lbc.log)" \
    -a -n "$(grep 'POST /bs -> 2.04' lbc.log)" -a -n "$(grep 'dev1: finished: /0/1, /1/1 and its OSCORE context' lbs.log)"
check "LwM2M: the bootstrapped client registers over the provisioned context, with Echo" \
    test "$(grep -c 'asks for freshness' lbc.log)" -ge 2 -a -n "$(grep 'registered dev1 lt=60 over OSCORE' lbsrv.log)"
check "LwM2M Bootstrap: Access Control instances written (/2) and read back (Bootstrap-Read)" \
    grep -q 'dev1: Bootstrap-Read /2: 2 Access Control instances (2 written)' lbs.log
check "LwM2M: the server reads the Access Control instance of /3303/0 (object 2)" \
    bash -c "grep -q 'read dev1 /2/0/0 = 3303' lbsrv.log && grep -q 'read dev1 /2/0/2/101 = 1' lbsrv.log && grep -q 'read dev1 /2/0/3 = 101' lbsrv.log"
check "LwM2M: the server reads and observes the bootstrapped client" \
    test -n "$(grep 'read dev1 /3/0/0 = coreseal' lbsrv.log)" -a -n "$(grep 'notify dev1 /3303/0/5700 = 21' lbsrv.log)"
"$B" lwm2m client --ep dev1 --bootstrap coap://127.0.0.1:$LB --oscore dev1-bs.json --state dev1 \
    --duration 1 > lbc2.log 2>&1; rc=$?
check "LwM2M: a restart with --state registers without bootstrap (exit $rc)" \
    test $rc = 0 -a -n "$(grep 'no bootstrap needed' lbc2.log)" -a "$(grep -c 'Bootstrap-Request' lbs.log)" = 1
"$B" lwm2m client --ep dev1 --bootstrap coap://127.0.0.1:$LB --oscore dev1-bs.json --state dev1 \
    --duration 9 > lbc3.log 2>&1 &
sleep 1.2
kill -9 $!
reads=$(grep -c 'read dev1 /3/0/0 = coreseal' lbsrv.log)
"$B" lwm2m client --ep dev1 --bootstrap coap://127.0.0.1:$LB --oscore dev1-bs.json --state dev1 \
    --duration 1 > lbc4.log 2>&1; rc=$?
check "LwM2M: after kill -9 the client resumes; the server's reads get through with Echo (exit $rc)" \
    test $rc = 0 -a "$(grep -c 'read dev1 /3/0/0 = coreseal' lbsrv.log)" -gt "$reads"
"$B" lwm2m client --ep dev9 --bootstrap coap://127.0.0.1:$LB --oscore dev3-bs.json --duration 1 \
    > lbc5.log 2>&1; rc=$?
check "LwM2M Bootstrap: an endpoint name not the context's is refused with 4.00 (exit $rc)" \
    test $rc = 5 -a -n "$(grep 'refused ep=dev9 over the context of dev3' lbs.log)" -a -n "$(grep '4.00' lbc5.log)"
"$B" lwm2m client --ep dev3 --bootstrap coap://127.0.0.1:$LB --oscore dev3-bs.json --duration 1 \
    > lbc6.log 2>&1; rc=$?
check "LwM2M Bootstrap of a NoSec server account: no /21, plain Register (exit $rc)" \
    test $rc = 0 -a -n "$(grep 'dev3: finished: /0/1, /1/1 for' lbs.log)" \
    -a -n "$(grep 'registered dev3 lt=86400 objects' lbsrv.log)"
rm dev1/objects.cbor # the device forgets its configuration, not its OSCORE state
"$B" lwm2m client --ep dev1 --bootstrap coap://127.0.0.1:$LB --bootstrap-pack --oscore dev1-bs.json --state dev1 \
    --duration 1 > lbc7.log 2>&1; rc=$?
check "LwM2M Bootstrap-Pack: one answer, the same keys again, their SSN state found by key, Register (exit $rc)" \
    test $rc = 0 -a -n "$(grep 'Bootstrap-Pack applied' lbc7.log)" \
    -a -n "$(grep 'dev1: Bootstrap-Pack sent: /0/101, /1/101 and its OSCORE context' lbs.log)" \
    -a "$(grep -c 'registered dev1 lt=60 over OSCORE' lbsrv.log)" -ge 2
kill -TERM $LBS $LWS; wait $LBS $LWS 2>/dev/null

# --- several server accounts: the Bootstrap-Server writes two, the client
# registers with each (one over OSCORE, one NoSec), and Access Control (/2)
# gives them different rights: only server 202 may read /3303/0
LA=$((PORT + 48)) LBB=$((PORT + 49)) LBM=$((PORT + 50))
cat > bs-dev5.json <<J
{"master_secret":"5051525354555657","sender_id":"6273","recipient_id":"64657635"}
J
cat > dev5-bs.json <<J
{"master_secret":"5051525354555657","sender_id":"64657635","recipient_id":"6273","state_file":"dev5-bs.state"}
J
cat > srv-a-dev5.json <<J
{"master_secret":"b5b5b5b5b5b5b5b5b5b5b5b5b5b5b5b5","sender_id":"0a","recipient_id":"64657635"}
J
cat > bs5.json <<J
{"accounts":[{"endpoint":"dev5","oscore":"bs-dev5.json",
  "servers":[{"uri":"coap://127.0.0.1:$LA","ssid":201,"lifetime":60,"oscore":"srv-a-dev5.json"},
             {"uri":"coap://127.0.0.1:$LBB","ssid":202,"lifetime":60}],
  "access_control":[{"object":3303,"instance":0,"owner":202,"acl":{"202":1}},
                    {"object":3,"instance":0,"owner":201,"acl":{"201":1}}]}]}
J
"$B" lwm2m bootstrap --listen 127.0.0.1:$LBM --config bs5.json > lbm.log 2>&1 &
LBMS=$!
"$B" lwm2m server --listen 127.0.0.1:$LA --db :memory: --oscore srv-a-dev5.json --read /3/0/0 --read /3303/0/5700 \
    > lma.log 2>&1 &
LMA=$!
"$B" lwm2m server --listen 127.0.0.1:$LBB --db :memory: --read /3303/0/5700 > lmb.log 2>&1 &
LMB=$!
wait_for lbm.log listening && wait_for lma.log listening && wait_for lmb.log listening
mkdir dev5
"$B" lwm2m client --ep dev5 --bootstrap coap://127.0.0.1:$LBM --oscore dev5-bs.json --state dev5 --duration 4 \
    > lmc.log 2>&1
rc=$?
check "LwM2M with two server accounts: both bootstrapped, the client registers with each (exit $rc)" \
    bash -c "[ $rc -eq 0 ] && grep -q 'dev5: finished: /0/1, /1/1 and its OSCORE context in /21, Access Control in /2 for coap://127.0.0.1:$LA; /0/2, /1/2 for' lbm.log && grep -q 'registered dev5 lt=60 over OSCORE' lma.log && grep -q 'registered dev5 lt=60 objects' lmb.log && [ \$(grep -c 'registered as dev5' lmc.log) -eq 2 ] && [ \$(grep -c 'de-registered (2.02' lmc.log) -eq 2 ]"
check "LwM2M Access Control between servers: 201 reads /3/0 but not /3303/0 (4.01), 202 reads /3303/0" \
    bash -c "grep -q 'read dev5 /3/0/0 = coreseal' lma.log && grep -q 'read dev5 /3303/0/5700 -> 4.01' lma.log && grep -q 'read dev5 /3303/0/5700 = 2' lmb.log"
rm dev5/objects.cbor # bootstrap again; the OSCORE state stays
"$B" lwm2m client --ep dev5 --bootstrap coap://127.0.0.1:$LBM --oscore dev5-bs.json --state dev5 --bootstrap-pack \
    --duration 1 > lmc2.log 2>&1
rc=$?
check "LwM2M: both server accounts in one Bootstrap-Pack (exit $rc)" \
    bash -c "[ $rc -eq 0 ] && grep -q 'dev5: Bootstrap-Pack sent: /0/201, /1/201 and its OSCORE context in /21 for coap://127.0.0.1:$LA; /0/202, /1/202 for' lbm.log && [ \$(grep -c 'registered as dev5' lmc2.log) -eq 2 ]"
kill -TERM $LBMS $LMA $LMB; wait $LBMS $LMA $LMB 2>/dev/null

# --- LwM2M with RFC 8613 B.2 on first use of each context (Transport TS)
L7=$((PORT + 35))
LB7=$((PORT + 36))
cat > bs-dev7.json <<J
{"master_secret":"7071727374757677","sender_id":"6273","recipient_id":"64657637","rfc8613_b_2":true}
J
cat > dev7-bs.json <<J
{"master_secret":"7071727374757677","sender_id":"64657637","recipient_id":"6273","rfc8613_b_2":true,
 "state_file":"dev7-bs.state"}
J
cat > srv-dev7.json <<J
{"master_secret":"a7a7a7a7a7a7a7a7a7a7a7a7a7a7a7a7","sender_id":"00","recipient_id":"64657637",
 "rfc8613_b_2":true}
J
cat > bs7.json <<J
{"accounts":[{"endpoint":"dev7","oscore":"bs-dev7.json",
  "server":{"uri":"coap://127.0.0.1:$L7","ssid":107,"lifetime":60,"oscore":"srv-dev7.json"}}]}
J
"$B" lwm2m bootstrap --listen 127.0.0.1:$LB7 --config bs7.json > lb7.log 2>&1 &
LBS7=$!
start_lws7() {
    "$B" lwm2m server --listen 127.0.0.1:$L7 --db :memory: --oscore srv-dev7.json --read /3/0/0 >> ls7.log 2>&1 &
    LWS7=$!
    wait_for ls7.log "listening on 127.0.0.1:$L7"
}
start_lws7
wait_for lb7.log listening
mkdir dev7
"$B" lwm2m client --ep dev7 --bootstrap coap://127.0.0.1:$LB7 --oscore dev7-bs.json --state dev7 --b2 \
    --duration 1 > lc7.log 2>&1; rc=$?
check "LwM2M B.2: new contexts with the Bootstrap-Server and the server on first use, then bootstrap and Register (exit $rc)" \
    test $rc = 0 -a -n "$(grep 'new OSCORE context with the Bootstrap-Server (RFC 8613 B.2)' lc7.log)" \
    -a -n "$(grep 'new OSCORE context with the server (RFC 8613 B.2)' lc7.log)" \
    -a -n "$(grep 'dev7: new OSCORE context (RFC 8613 B.2)' ls7.log)" \
    -a -n "$(grep 'registered dev7 lt=60 over OSCORE' ls7.log)" -a -n "$(grep 'read dev7 /3/0/0 = coreseal' ls7.log)"
"$B" lwm2m client --ep dev7 --bootstrap coap://127.0.0.1:$LB7 --oscore dev7-bs.json --state dev7 --b2 \
    --duration 1 > lc7b.log 2>&1; rc=$?
check "LwM2M B.2: a restart with --state keeps the negotiated context (no new run) (exit $rc)" \
    test $rc = 0 -a -z "$(grep 'RFC 8613 B.2' lc7b.log)" -a "$(grep -c 'registered dev7 lt=60' ls7.log)" = 2
kill -9 $LWS7; wait $LWS7 2>/dev/null
start_lws7
"$B" lwm2m client --ep dev7 --bootstrap coap://127.0.0.1:$LB7 --oscore dev7-bs.json --state dev7 --b2 \
    --duration 1 > lc7c.log 2>&1; rc=$?
check "LwM2M B.2: a server that lost its database is rejoined through B.2 (exit $rc)" \
    test $rc = 0 -a -n "$(grep 'new OSCORE context with the server (RFC 8613 B.2)' lc7c.log)" \
    -a "$(grep -c 'registered dev7 lt=60' ls7.log)" = 3
kill -TERM $LBS7 $LWS7; wait $LBS7 $LWS7 2>/dev/null

# --- LwM2M server restarts: registrations and OSCORE state live in its SQLite file
cat > dev05.json <<J
{"master_secret":"5566778899aabbccddeeff0011223344","sender_id":"6465763035","recipient_id":"05",
 "state_file":"dev05.state"}
J
cat > srv05.json <<J
{"master_secret":"5566778899aabbccddeeff0011223344","sender_id":"05","recipient_id":"6465763035"}
J
L=$((PORT + 24))
"$B" lwm2m server --listen 127.0.0.1:$L --db restart.db --oscore srv05.json --observe /3303/0/5700 > lr1.log 2>&1 &
LWS=$!
sleep 0.3
"$B" post -v -e '</3/0>' "coap://127.0.0.1:$L/rd?ep=plain02&lt=300" > lrp.log 2>&1
loc=$(sed -n 's/.*Location-Path=rd Location-Path=\([0-9]*\).*/\1/p' lrp.log | head -1)
"$B" lwm2m client --server coap://127.0.0.1:$L --ep dev05 --oscore dev05.json --lifetime 10 --duration 8 -v \
    > lrc.log 2>&1 &
LWC=$!
sleep 1.5
kill -TERM $LWS; wait $LWS 2>/dev/null
"$B" lwm2m server --listen 127.0.0.1:$L --db restart.db > lr2.log 2>&1 &
LWS=$!
sleep 0.3
"$B" post "coap://127.0.0.1:$L/rd/$loc" > lrp2.log 2>&1; rc=$?
check "LwM2M server restart: the registration of plain02 is kept; its Update is 2.04 (exit $rc)" \
    test $rc = 0 -a -n "$loc" -a -n "$(grep 'restored plain02' lr2.log)"
kill -9 $LWS; wait $LWS 2>/dev/null # a crash this time: windows are lost, SSN bounds are not
"$B" lwm2m server --listen 127.0.0.1:$L --db restart.db > lr3.log 2>&1 &
LWS=$!
wait $LWC; rc=$?
check "LwM2M server crash: dev05's Update passes Echo over the kept context, then De-register (exit $rc)" \
    test $rc = 0 -a -n "$(grep 'restored dev05' lr3.log)" -a -n "$(grep 'update from dev05' lr3.log)" \
    -a -n "$(grep 'de-registered dev05' lr3.log)" -a "$(grep -c 'asks for freshness' lrc.log)" -ge 2
check "LwM2M server restart and crash: dev05's observation is kept in the database and observed again" \
    bash -c "grep -q 'notify dev05 /3303/0/5700' lr1.log && grep -q 'observing dev05 /3303/0/5700 again' lr3.log && grep -q 'notify dev05 /3303/0/5700' lr3.log"
kill -TERM $LWS; wait $LWS 2>/dev/null

# --- 1000 OSCORE clients in one process (lwm2m swarm) register, are read, de-register
L=$((PORT + 25))
"$B" lwm2m swarm --count 1000 --seed 7 --provision swarm.db > lsw0.log 2>&1
"$B" lwm2m server --listen 127.0.0.1:$L --db swarm.db --read /3/0/0 --observe /3/0/2 --max-clients 1024 \
    > lsws.log 2>&1 &
LWS=$!
sleep 0.3
"$B" lwm2m swarm --count 1000 --seed 7 --server coap://127.0.0.1:$L --duration 1 > lsw.log 2>&1; rc=$?
kill -TERM $LWS; wait $LWS 2>/dev/null
check "LwM2M swarm: 1000 OSCORE clients registered (each after an Echo round trip), read, observed (first value and a notification each), de-registered (exit $rc)" \
    test $rc = 0 -a -n "$(grep '1000/1000 registered' lsw.log)" -a "$(grep -c 'read s[0-9]* /3/0/0 = coreseal' lsws.log)" = 1000 \
    -a "$(grep -Ec 'notify (s[0-9]*) /3/0/2 = \1$' lsws.log)" = 2000 -a "$(grep -c 'de-registered s' lsws.log)" = 1000
sed -n 's/^swarm: /     /p' lsw.log

# --- EDHOC-keyed LwM2M: the client holds only its EDHOC key, the server only trusted credentials
"$B" edhoc keygen --curve P-256 --kid 21 --subject lwm2m-server --out lwsrv > /dev/null
"$B" edhoc keygen --curve P-256 --kid 27 --subject dev27 --out dev27 > /dev/null
"$B" edhoc keygen --curve P-256 --kid 28 --subject dev28 --out dev28 > /dev/null
L=$((PORT + 26))
"$B" lwm2m server --listen 127.0.0.1:$L --db :memory: --edhoc lwsrv.key --edhoc-trust dev27.cred \
    --read /3/0/2 > led.log 2>&1 &
LWS=$!
sleep 0.3
"$B" lwm2m client --server coap://127.0.0.1:$L --edhoc dev27.key --edhoc-peer lwsrv.cred --duration 1 \
    > ledc.log 2>&1; rc=$?
check "LwM2M over EDHOC: handshake, Register as the credential's subject, Read over the new context (exit $rc)" \
    test $rc = 0 -a -n "$(grep 'EDHOC with dev27: OSCORE context ready' led.log)" \
    -a -n "$(grep 'registered dev27 lt=300 over OSCORE' led.log)" -a -n "$(grep 'read dev27 /3/0/2 = dev27' led.log)"
"$B" lwm2m client --server coap://127.0.0.1:$L --edhoc dev27.key --edhoc-peer lwsrv.cred --ep dev99 --duration 1 \
    > ledc2.log 2>&1; rc=$?
check "LwM2M over EDHOC: an endpoint name not the credential's is refused with 4.00 (exit $rc)" \
    test $rc = 5 -a -n "$(grep 'refused dev99' led.log)"
"$B" lwm2m client --server coap://127.0.0.1:$L --edhoc dev28.key --edhoc-peer lwsrv.cred --duration 1 \
    > ledc3.log 2>&1; rc=$?
check "LwM2M over EDHOC: an untrusted credential gets EDHOC error 3 and no context (exit $rc)" \
    test $rc = 5 -a -n "$(grep "does not know our credential (code 3)" ledc3.log)" -a -z "$(grep dev28 led.log)"
kill -TERM $LWS; wait $LWS 2>/dev/null
# with X.509 certificates from a CA: the endpoint name is the certificate's CN
"$B" edhoc keygen --curve P-256 --x509 --issuer xca.key --subject lwm2m-server --out xlws > /dev/null
"$B" edhoc keygen --curve P-256 --x509 --issuer xca.key --subject dev30 --out dev30 > /dev/null
L=$((PORT + 47))
"$B" lwm2m server --listen 127.0.0.1:$L --db :memory: --edhoc xlws.key --edhoc-trust xca.pem --read /3/0/2 \
    > lex.log 2>&1 &
LWS=$!
sleep 0.3
"$B" lwm2m client --server coap://127.0.0.1:$L --edhoc dev30.key --edhoc-peer xca.pem --duration 1 > lexc.log 2>&1
rc=$?
check "LwM2M over EDHOC with X.509 certificates: Register as the certificate's CN, Read (exit $rc)" \
    test $rc = 0 -a -n "$(grep 'registered dev30 lt=300 over OSCORE' lex.log)" -a -n "$(grep 'read dev30 /3/0/2 = dev30' lex.log)"
kill -TERM $LWS; wait $LWS 2>/dev/null

# --- EDHOC with the Bootstrap-Server: a device holding only its EDHOC key is bootstrapped
"$B" edhoc keygen --curve P-256 --kid 31 --subject lwm2m-bs --out lwbs > /dev/null
"$B" edhoc keygen --curve P-256 --kid 36 --subject dev6 --out dev6 > /dev/null
cat > srv-dev6.json <<J
{"master_secret":"b0b1b2b3b4b5b6b7b8b9babbbcbdbebf","sender_id":"00","recipient_id":"64657636"}
J
L=$((PORT + 32))
LB=$((PORT + 33))
cat > bs6.json <<J
{"accounts":[{"endpoint":"dev6","server":{"uri":"coap://127.0.0.1:$L","ssid":106,"lifetime":60,"oscore":"srv-dev6.json"}}]}
J
"$B" lwm2m bootstrap --listen 127.0.0.1:$LB --config bs6.json --edhoc lwbs.key --edhoc-trust dev6.cred > leb.log 2>&1 &
LBS=$!
"$B" lwm2m server --listen 127.0.0.1:$L --db :memory: --oscore srv-dev6.json --read /3/0/2 > les.log 2>&1 &
LWS=$!
sleep 0.3
mkdir dev6
"$B" lwm2m client --bootstrap coap://127.0.0.1:$LB --edhoc dev6.key --edhoc-peer lwbs.cred --state dev6 --duration 1 \
    > lec.log 2>&1; rc=$?
check "LwM2M: EDHOC with the Bootstrap-Server, bootstrap over its context, Register over the provisioned one (exit $rc)" \
    test $rc = 0 -a -n "$(grep 'EDHOC with dev6: OSCORE context ready' leb.log)" \
    -a -n "$(grep 'dev6: finished: /0/1, /1/1 and its OSCORE context' leb.log)" \
    -a -n "$(grep 'read dev6 /3/0/2 = dev6' les.log)"
kill -TERM $LBS $LWS; wait $LBS $LWS 2>/dev/null

# --- the server's REST API (curl) and its event stream
L=$((PORT + 27))
H=$((PORT + 28))
"$B" lwm2m server --listen 127.0.0.1:$L --db :memory: --http 127.0.0.1:$H --http-token s3cret > lrest.log 2>&1 &
LWS=$!
wait_for lrest.log 'listening on' 
curl -sN -H 'Authorization: Bearer s3cret' "http://127.0.0.1:$H/api/events" > events.log &
EVC=$!
for _ in $(seq 50); do grep -q 'server events' events.log 2>/dev/null && break; sleep 0.1; done # connected
"$B" lwm2m client --server coap://127.0.0.1:$L --ep devR --duration 3 --interval 300 > lrc.log 2>&1 &
LWC=$!
sleep 0.8
api() { curl -s -o api.out -w '%{http_code}' -H 'Authorization: Bearer s3cret' "$@"; }
code=$(curl -s -o api.out -w '%{http_code}' "http://127.0.0.1:$H/api/clients")
code2=$(curl -s -o api.out -w '%{http_code}' -H 'Authorization: Bearer s3creT' "http://127.0.0.1:$H/api/clients")
check "REST: without the bearer token, or with a wrong one, 401 ($code, $code2)" test "$code" = 401 -a "$code2" = 401
code=$(api "http://127.0.0.1:$H/api/clients")
check "REST: GET /api/clients lists the registered client ($code)" \
    test "$code" = 200 -a -n "$(grep '"endpoint":"devR"' api.out)"
code=$(api "http://127.0.0.1:$H/api/clients/devR/3303/0?format=tlv")
check "REST: Read through the server, TLV typed by the object model ($code)" \
    test "$code" = 200 -a -n "$(grep '"n":"/3303/0/5701","v":"Cel"' api.out)" -a -n "$(grep '"n":"/3303/0/5700","v":"21' api.out)"
code=$(api "http://127.0.0.1:$H/api/clients/devR/3/0?format=lwm2m-cbor")
check "REST: Read in LwM2M CBOR (11544) ($code)" \
    test "$code" = 200 -a -n "$(grep '"format":11544' api.out)" -a -n "$(grep '"n":"/3/0/2","v":"devR"' api.out)"
code=$(api -X PUT -H 'Content-Type: text/plain' --data 120 "http://127.0.0.1:$H/api/clients/devR/1/0/1")
code2=$(api "http://127.0.0.1:$H/api/clients/devR/1/0/1")
check "REST: Write then Read back ($code, $code2)" test "$code" = 200 -a "$code2" = 200 -a -n "$(grep '"v":"120"' api.out)"
code=$(api "http://127.0.0.1:$H/api/clients/devR/0/0")
code2=$(api "http://127.0.0.1:$H/api/clients/nobody/3/0")
check "REST: the client's 4.01 for /0 is HTTP 401, an unknown client 404 ($code, $code2)" \
    test "$code" = 401 -a "$code2" = 404
code=$(api -X POST "http://127.0.0.1:$H/api/clients/devR/3303/0/5700/observe")
wait $LWC
for _ in $(seq 50); do grep -qx 'event: deregistered' events.log && break; sleep 0.1; done
kill $EVC 2>/dev/null
check "REST: events stream registered, notify (after Observe, $code) and deregistered" \
    test "$code" = 200 -a -n "$(grep -x 'event: registered' events.log)" \
    -a "$(grep -cx 'event: notify' events.log)" -ge 2 -a -n "$(grep -x 'event: deregistered' events.log)"
kill -TERM $LWS; wait $LWS 2>/dev/null

# --- Observe-Composite: FETCH / with two paths, notifications carry both
L=$((PORT + 31))
"$B" lwm2m server --listen 127.0.0.1:$L --db :memory: --observe-composite /3/0/2,/3303/0/5700 > loc.log 2>&1 &
LWS=$!
sleep 0.3
"$B" lwm2m client --server coap://127.0.0.1:$L --ep devC --duration 2 --interval 300 > locc.log 2>&1
kill -TERM $LWS; wait $LWS 2>/dev/null
check "Observe-Composite: $(grep -c 'notify devC /3303/0/5700' loc.log) notifications, each with both values" \
    test "$(grep -c 'notify devC /3303/0/5700' loc.log)" -ge 3 \
    -a "$(grep -c 'notify devC /3/0/2 = devC' loc.log)" = "$(grep -c 'notify devC /3303/0/5700' loc.log)"

# --- Firmware Update (object 5): push block-wise over OSCORE, pull from a URI, Execute
L=$((PORT + 38))
H=$((PORT + 39))
F=$((PORT + 40))
mkdir fwroot
# keys of their own: a server on an empty database would start the restart test's context at SSN 0 again,
# numbers dev05 has seen (its window is in dev05.state), and be refused as a replay, rightly
sed 's/5566778899aabbcc/0f0e0d0c0b0a0908/; s/dev05.state/devfw.state/' dev05.json > devfw.json
sed 's/5566778899aabbcc/0f0e0d0c0b0a0908/' srv05.json > srvfw.json
head -c 70000 /dev/urandom > fwroot/push.bin
head -c 5000 /dev/urandom > fwroot/pull.bin
"$B" lwm2m server --listen 127.0.0.1:$L --db :memory: --oscore srvfw.json --http 127.0.0.1:$H > lfw.log 2>&1 &
LWS=$!
"$B" serve --listen 127.0.0.1:$F --root fwroot > fwsrv.log 2>&1 &
FWS=$!
wait_for lfw.log 'listening on'
"$B" lwm2m client --server coap://127.0.0.1:$L --ep dev05 --oscore devfw.json --duration 15 > lfwc.log 2>&1 &
LWC=$!
wait_for lfw.log 'registered dev05'
fwapi() { curl -s -o fw.out -w '%{http_code}' "$@"; }
FWU=http://127.0.0.1:$H/api/clients/dev05
code=$(fwapi -X PUT -H 'Content-Type: application/octet-stream' --data-binary @fwroot/push.bin $FWU/5/0/0)
state=$(fwapi $FWU/5/0/3 > /dev/null; grep -o '"v":"[0-9]*"' fw.out)
fwapi -X POST $FWU/5/0/2 > /dev/null
version=$(fwapi $FWU/3/0/3 > /dev/null; grep -o 'fw-[0-9a-f]*' fw.out)
result=$(fwapi $FWU/5/0/5 > /dev/null; grep -o '"v":"[0-9]*"' fw.out)
check "Firmware push: 70 KB written block-wise into /5/0/0 over OSCORE ($code), Downloaded, Execute installs it (result $result)" \
    test "$code" = 200 -a "$state" = '"v":"2"' -a "$version" = "fw-$(sha256sum fwroot/push.bin | cut -c1-16)" \
    -a "$result" = '"v":"1"' -a -n "$(grep 'firmware package of 70000 bytes downloaded (pushed block-wise)' lfwc.log)"
code=$(fwapi -X PUT -H 'Content-Type: text/plain' --data "coap://127.0.0.1:$F/pull.bin" $FWU/5/0/1)
for _ in $(seq 50); do grep -q 'pulled block-wise' lfwc.log && break; sleep 0.1; done
fwapi -X POST $FWU/5/0/2 > /dev/null
version=$(fwapi $FWU/3/0/3 > /dev/null; grep -o 'fw-[0-9a-f]*' fw.out)
check "Firmware pull: the device downloads the /5/0/1 URI block-wise and Execute installs it ($code)" \
    test "$code" = 200 -a "$version" = "fw-$(sha256sum fwroot/pull.bin | cut -c1-16)"
fwapi -X PUT -H 'Content-Type: text/plain' --data "https://127.0.0.1/x.bin" $FWU/5/0/1 > /dev/null
result=$(fwapi $FWU/5/0/5 > /dev/null; grep -o '"v":"[0-9]*"' fw.out)
code=$(fwapi -X POST $FWU/5/0/2)
check "Firmware: an https URI gives Update Result 9 (unsupported protocol); Execute without a package is refused ($code)" \
    test "$result" = '"v":"9"' -a "$code" != 200
kill -TERM $LWC; wait $LWC # it de-registers while the server is there
kill -TERM $LWS $FWS; wait $LWS $FWS 2>/dev/null

# --- queue mode: a request for a sleeping client waits for its next Update
L=$((PORT + 29))
H=$((PORT + 30))
"$B" lwm2m server --listen 127.0.0.1:$L --db :memory: --http 127.0.0.1:$H --queue-awake 0.5 > lq.log 2>&1 &
LWS=$!
wait_for lq.log 'listening on' 
"$B" lwm2m client --server coap://127.0.0.1:$L --ep devQ --queue=500 --lifetime 10 --duration 7 > lqc.log 2>&1 &
LWC=$!
sleep 1.5 # registered, listened half a second, asleep now
t0=$(date +%s%N)
code=$(curl -s -o lq.out -w '%{http_code}' "http://127.0.0.1:$H/api/clients/devQ/3/0/0")
waited=$((($(date +%s%N) - t0) / 1000000))
check "queue mode: a Read for a sleeping client waits for its Update (${waited} ms), then is answered ($code)" \
    test "$code" = 200 -a "$waited" -ge 2000 -a -n "$(grep 'devQ is asleep (queue mode): /3/0/0 waits' lq.log)" \
    -a -n "$(grep '"v":"coreseal"' lq.out)" -a -n "$(grep 'registered devQ lt=10 objects' lq.log)"
[ "$code" = 200 ] || tail -5 lq.log
wait $LWC
kill -TERM $LWS; wait $LWS 2>/dev/null

[ $fail -eq 0 ] || { echo "--- server log"; tail -40 server.log; }
echo "e2e: $pass passed, $fail failed"
[ $fail -eq 0 ]
