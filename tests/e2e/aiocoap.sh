#!/usr/bin/env bash
# OSCORE interoperability with an independent implementation: aiocoap (Debian
# bookworm-backports python3-aiocoap 0.4.12, its own OSCORE code in Python)
# against coreseal both ways: aiocoap-client -> coreseal serve and coreseal
# get/put -> aiocoap-fileserver, block-wise, and the Echo recovery of RFC 8613
# B.1.2 after a server lost its replay window, in each direction; then the
# OSCORE plugtest suite (tests 0-17) with aiocoap's plugtest client.
# Usage: aiocoap.sh CORESEAL [BASE_PORT]. Exits 77 (skipped) without aiocoap.
#
# aiocoap's OSCORE transport imports its EDHOC (lakers) and group OSCORE
# (ge25519) modules, which Debian does not package; neither is used here, so
# empty stand-ins satisfy the imports, and AIOCOAP_*_TRANSPORT selects OSCORE.
set -u
B=$(readlink -f "$1")
PORT=${2:-$((10000 + ($$ * 83) % 22000))}
PY=/usr/bin/python3
[ -x /usr/bin/aiocoap-client ] && $PY -c 'import aiocoap.oscore, cbor2, cryptography, filelock' 2>/dev/null ||
    { echo "python3-aiocoap (with cryptography, cbor2, filelock) not installed: skipped"; exit 77; }
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
mkdir stubs www fsroot cctx sctx
: > stubs/lakers.py
: > stubs/ge25519.py
export PYTHONPATH=$W/stubs
aio() { AIOCOAP_CLIENT_TRANSPORT=oscore:udp6 timeout 30 $PY /usr/bin/aiocoap-client "$@"; }
MS=0102030405060708090a0b0c0d0e0f10
SALT=9e7ca92223786340
printf 'hello from coreseal' > www/a.txt
head -c 20000 /dev/urandom > big.bin
cp big.bin www/big.bin

# --- aiocoap client -> coreseal server (the RFC 8613 C.1 roles)
cat > cctx/settings.json <<J
{"sender-id_hex": "", "recipient-id_hex": "01", "secret_hex": "$MS", "salt_hex": "$SALT"}
J
echo "{\"coap://127.0.0.1:$PORT/*\": {\"oscore\": {\"contextfile\": \"$W/cctx/\"}}}" > ccreds.json
cat > server.json <<J
{"master_secret":"$MS","master_salt":"$SALT","sender_id":"01","recipient_id":"","state_file":"server.state"}
J
start_server() {
    "$B" serve --listen 127.0.0.1:$PORT --root www --oscore server.json --interop --require-oscore -v >> server.log 2>&1 &
    SERVER=$!
    for _ in $(seq 50); do grep -q listening server.log && return; sleep 0.1; done
}
start_server
U=coap://127.0.0.1:$PORT
check "aiocoap-client GET over OSCORE" test "$(aio --credentials ccreds.json $U/oscore/hello/1)" = "Hello World!"
check "aiocoap-client GET of a file over OSCORE" test "$(aio --credentials ccreds.json $U/a.txt)" = "hello from coreseal"
aio --credentials ccreds.json $U/big.bin > got.bin
check "aiocoap-client block-wise GET over OSCORE (20 KB, each block protected)" cmp -s got.bin big.bin
check "coreseal verified aiocoap's requests" test "$(grep -c '(inner, verified)' server.log)" -ge 3
kill -9 $SERVER; wait $SERVER 2>/dev/null
start_server # no replay window after a crash: Echo first (B.1.2)
check "aiocoap-client after a coreseal crash: 4.01 + Echo, retried, answered" \
    test "$(aio --credentials ccreds.json $U/oscore/hello/1)" = "Hello World!" -a -n "$(grep 'Echo challenge sent' server.log)"
kill $SERVER; wait $SERVER 2>/dev/null

# --- coreseal client -> aiocoap server
F=$((PORT + 1))
printf 'file from aiocoap' > fsroot/hello.txt
cp big.bin fsroot/big.bin
cat > sctx/settings.json <<J
{"sender-id_hex": "01", "recipient-id_hex": "", "secret_hex": "$MS", "salt_hex": "$SALT"}
J
echo "{\":coreseal\": {\"oscore\": {\"contextfile\": \"$W/sctx/\"}}}" > screds.json
cat > client.json <<J
{"master_secret":"$MS","master_salt":"$SALT","sender_id":"","recipient_id":"01","state_file":"client.state"}
J
start_fs() {
    AIOCOAP_SERVER_TRANSPORT=oscore:udp6 $PY /usr/bin/aiocoap-fileserver --bind 127.0.0.1:$F \
        --credentials screds.json --write fsroot >> fs.log 2>&1 &
    FS=$!
    for _ in $(seq 100); do
        [ "$("$B" get -T 1 coap://127.0.0.1:$F/hello.txt 2>/dev/null)" = "file from aiocoap" ] && return
        sleep 0.1
    done
}
start_fs
A=coap://127.0.0.1:$F
check "coreseal get over OSCORE from aiocoap-fileserver" \
    test "$("$B" get --oscore client.json $A/hello.txt)" = "file from aiocoap"
"$B" get --oscore client.json -o got2.bin $A/big.bin
check "coreseal block-wise GET over OSCORE from aiocoap (20 KB)" cmp -s got2.bin big.bin
"$B" put --oscore client.json -b 256 -f big.bin $A/up.bin
check "coreseal block-wise PUT over OSCORE to aiocoap (256-byte blocks, Request-Tag)" cmp -s fsroot/up.bin big.bin
kill -9 $FS; wait $FS 2>/dev/null
rm -f sctx/lock
start_fs # aiocoap lost its window: it answers 4.01 + Echo
out=$("$B" get -v --oscore client.json $A/hello.txt 2> echo.txt)
check "coreseal get after an aiocoap crash: aiocoap's Echo challenge answered, request served" \
    test "$out" = "file from aiocoap" -a -n "$(grep 'Echo' echo.txt)"
kill $FS; wait $FS 2>/dev/null

# --- the OSCORE plugtest (tests 0-17 of the IETF interop test description),
# run by aiocoap's own plugtest client from Debian's aiocoap source, against
# coreseal serve --interop with the test's contexts (C.1, and C.2 with an ID
# Context): every "verify"/"check" line must pass
PT_URL=http://deb.debian.org/debian/pool/main/a/aiocoap/aiocoap_0.4.14.orig.tar.gz
PT_SHA=e2aaed13d8b2c26467fde9cae3572b1300c8a752f5e4e8a89e3e5fc879110111
if curl -sSfo aiocoap-src.tgz "$PT_URL" 2>/dev/null && echo "$PT_SHA  aiocoap-src.tgz" | sha256sum -c --quiet; then
    tar xzf aiocoap-src.tgz aiocoap-0.4.14/contrib/oscore-plugtest
    P=$((PORT + 2))
    cat > ctx-b.json <<J
{"master_secret":"$MS","master_salt":"$SALT","sender_id":"01","recipient_id":""}
J
    cat > ctx-d.json <<J
{"master_secret":"$MS","master_salt":"$SALT","sender_id":"01","recipient_id":"","id_context":"37cbf3210017a2d3"}
J
    "$B" serve --listen 127.0.0.1:$P --oscore ctx-b.json --oscore ctx-d.json --interop --observe-interval 300 \
        > plug-server.log 2>&1 &
    PS=$!
    sleep 0.3
    for t in $(seq 0 17); do
        AIOCOAP_CLIENT_TRANSPORT=oscore:udp6 timeout 30 $PY aiocoap-0.4.14/contrib/oscore-plugtest/plugtest-client \
            127.0.0.1:$P plugctx $t > plug-$t.log 2>&1
        passed=$(grep -c -E '^(Additional verify passed|Check passed|Passed)' plug-$t.log)
        failed=$(grep -c -E '^(Additional verify failed|Failed|Dubious)|Traceback' plug-$t.log)
        check "OSCORE plugtest $t (aiocoap's client): $passed checks passed" test "$passed" -ge 1 -a "$failed" = 0
        [ "$failed" = 0 ] || grep -E 'failed|Failed|Dubious|Error' plug-$t.log | head -3
    done
    kill $PS; wait $PS 2>/dev/null

    # ... and the other way: coreseal's client runs the tests against
    # aiocoap's plugtest server, which checks every request it gets (the
    # negative tests 12-17 exercise the server, not the client: not here)
    Q=$((PORT + 3))
    AIOCOAP_SERVER_TRANSPORT=oscore:udp6 $PY aiocoap-0.4.14/contrib/oscore-plugtest/plugtest-server \
        --bind 127.0.0.1:$Q plugsrv > plug-aioserver.log 2>&1 &
    PA=$!
    Y=coap://127.0.0.1:$Q
    for _ in $(seq 100); do
        [ "$("$B" get -T 1 $Y/oscore/hello/coap 2>/dev/null)" = "Hello World!" ] && break
        sleep 0.1
    done
    cat > ctx-a.json <<J
{"master_secret":"$MS","master_salt":"$SALT","sender_id":"","recipient_id":"01","state_file":"ctx-a.state"}
J
    cat > ctx-c.json <<J
{"master_secret":"$MS","master_salt":"$SALT","sender_id":"","recipient_id":"01","id_context":"37cbf3210017a2d3","state_file":"ctx-c.state"}
J
    printf '\x8a' > p8a.bin
    hello="Hello World!"
    check "our plugtest client 0 (plain)" test "$("$B" get $Y/oscore/hello/coap)" = "$hello"
    check "our plugtest client 1 (context A)" test "$("$B" get --oscore ctx-a.json $Y/oscore/hello/1)" = "$hello"
    check "our plugtest client 2 (context C, ID Context)" test "$("$B" get --oscore ctx-c.json $Y/oscore/hello/1)" = "$hello"
    check "our plugtest client 3 (query, ETag)" test "$("$B" get --oscore ctx-a.json "$Y/oscore/hello/2?first=1")" = "$hello"
    check "our plugtest client 4 (Accept, Max-Age)" test "$("$B" get --oscore ctx-a.json -A 0 $Y/oscore/hello/3)" = "$hello"
    out=$("$B" get --oscore ctx-a.json --observe=10 $Y/oscore/observe1 2> obs.err)
    check "our plugtest client 6 (Observe: one, two, then 5.00 Terminate Observe)" \
        test "$(echo $out)" = "one two" -a -n "$(grep 'Terminate Observe' obs.err)"
    check "our plugtest client 8 (POST)" \
        test "$("$B" post --oscore ctx-a.json -t 0 -e J $Y/oscore/hello/6)" = "J"
    "$B" put --oscore ctx-a.json -t 0 -e z -O 1,0x7b $Y/oscore/hello/7
    check "our plugtest client 9 (PUT, If-Match)" test $? = 0
    "$B" put --oscore ctx-a.json -t 0 -f p8a.bin -O 5, $Y/oscore/hello/7 2> t10.err
    check "our plugtest client 10 (PUT, If-None-Match: 4.12)" grep -q '4.12' t10.err
    "$B" delete --oscore ctx-a.json $Y/oscore/test
    check "our plugtest client 11 (DELETE)" test $? = 0
    sleep 0.3
    kill $PA; wait $PA 2>/dev/null
    check "aiocoap's plugtest server found every request as the test expects ($(grep -c 'verify passed' plug-aioserver.log) checks)" \
        test "$(grep -c 'verify passed' plug-aioserver.log)" -ge 10 -a "$(grep -c 'verify failed' plug-aioserver.log)" = 0
else
    echo "SKIP the OSCORE plugtest: cannot fetch aiocoap's source from $PT_URL"
fi

[ $fail -eq 0 ] || { echo "--- coreseal server log"; tail -20 server.log; echo "--- aiocoap log"; tail -20 fs.log; }
echo "aiocoap interop: $pass passed, $fail failed"
[ $fail -eq 0 ]
