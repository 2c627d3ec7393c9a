#!/usr/bin/env bash
# CoAP over WebSockets (RFC 8323 §4) end to end: `serve --listen-ws`, `get
# coap+ws://`, and the proxy translating WebSockets <-> UDP with OSCORE end to
# end; the opening handshake against RFC 6455's own example key (curl), and
# the npm `ws` package (an independent WebSocket implementation) as client and
# server. Usage: ws.sh CORESEAL WORK_DIR [BASE_PORT]
set -u
B=$(readlink -f "$1")
DIR=$(mkdir -p "$2" && readlink -f "$2")
PORT=${3:-$((10000 + ($$ * 61) % 22000))}
HERE=$(cd "$(dirname "$0")" && pwd)
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
command -v node >/dev/null && command -v npm >/dev/null || { echo "FAIL node and npm are needed"; exit 1; }
if [ ! -d "$DIR/node_modules/ws" ]; then # the peer, once per build directory, from the lock file
    cp "$HERE/node-ws/package.json" "$HERE/node-ws/package-lock.json" "$DIR/"
    (cd "$DIR" && npm ci --no-audit --no-fund > npm.log 2>&1) || { echo "FAIL npm ci of ws (see $DIR/npm.log)"; exit 1; }
fi
cp "$HERE/node-ws/ws_peer.js" "$DIR/"
PEER="node $DIR/ws_peer.js"
W=$(mktemp -d)
trap 'kill $(jobs -p) 2>/dev/null; [ -n "${KEEP:-}" ] || rm -rf "$W"' EXIT
cd "$W" || exit 1
mkdir www
printf 'hello over websockets' > www/a.txt
head -c 20000 /dev/urandom > big.bin
cp big.bin www/big.bin
for who in server client; do
    sid=01 rid=""
    [ $who = client ] && sid="" rid=01
    cat > $who.json <<J
{"master_secret":"0102030405060708090a0b0c0d0e0f10","master_salt":"9e7ca92223786340",
 "sender_id":"$sid","recipient_id":"$rid","state_file":"$who.state"}
J
done
S=$PORT SW=$((PORT + 1)) P=$((PORT + 2)) PW=$((PORT + 3)) NW=$((PORT + 4))
"$B" serve --listen 127.0.0.1:$S --listen-ws 127.0.0.1:$SW --root www --oscore server.json --interop \
    --observe-interval 50 > server.log 2>&1 &
"$B" proxy --listen 127.0.0.1:$P --listen-ws 127.0.0.1:$PW --forward --default coap://127.0.0.1:$S --log proxy.log \
    > proxy.err 2>&1 &
$PEER server $NW > peer.log 2>&1 &
wait_for server.log "WebSockets on" && wait_for proxy.err "WebSockets on" && wait_for peer.log listening ||
    { echo "FAIL the servers did not start"; cat ./*.log ./*.err 2>/dev/null | head -40; exit 1; }
WS=coap+ws://127.0.0.1:$SW U=coap://127.0.0.1:$S

# --- the opening handshake, with RFC 6455 §1.3's example key and accept value
curl -s -i --max-time 2 -H 'Connection: Upgrade' -H 'Upgrade: websocket' -H 'Sec-WebSocket-Version: 13' \
    -H 'Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==' -H 'Sec-WebSocket-Protocol: coap' \
    http://127.0.0.1:$SW/.well-known/coap > hs.txt 2>&1
check "handshake: 101 with RFC 6455's Sec-WebSocket-Accept for its example key, subprotocol coap" \
    bash -c "grep -q '^HTTP/1.1 101' hs.txt && grep -q 's3pPLMBiTxaQ9kYGzzhZRbK+xOo=' hs.txt && grep -qi 'Sec-WebSocket-Protocol: coap' hs.txt"
check "handshake: another path is 404" bash -c "curl -s -i --max-time 2 -H 'Connection: Upgrade' -H 'Upgrade: websocket' \
    -H 'Sec-WebSocket-Version: 13' -H 'Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==' -H 'Sec-WebSocket-Protocol: coap' \
    http://127.0.0.1:$SW/other | grep -q '^HTTP/1.1 404'"
check "handshake: without the coap subprotocol it is refused" bash -c "curl -s -i --max-time 2 -H 'Connection: Upgrade' \
    -H 'Upgrade: websocket' -H 'Sec-WebSocket-Version: 13' -H 'Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==' \
    http://127.0.0.1:$SW/.well-known/coap | grep -q '^HTTP/1.1 400'"

# --- the npm ws package both ways
check "ws (npm) client -> coreseal serve: CSM first, then the answer" \
    test "$($PEER get ws://127.0.0.1:$SW/.well-known/coap /a.txt 2>peer_get.txt)" = "hello over websockets"
check "coreseal get coap+ws:// -> ws (npm) server" test "$("$B" get coap+ws://127.0.0.1:$NW/x/y)" = "ws peer: /x/y"

# --- coreseal both ends
check "plain GET over WebSockets" test "$("$B" get $WS/a.txt)" = "hello over websockets"
"$B" get -o got.bin $WS/big.bin
check "block-wise GET over WebSockets (20 KB)" cmp -s got.bin big.bin
"$B" put -f big.bin $WS/up.bin
check "block-wise PUT over WebSockets (20 KB)" cmp -s www/up.bin big.bin
check "OSCORE GET over WebSockets" test "$("$B" get --oscore client.json $WS/oscore/hello/1)" = "Hello World!"
"$B" get --oscore client.json --observe=2 $WS/oscore/observe2 > notes.txt
check "OSCORE Observe over WebSockets" test "$(head -3 notes.txt | tr '\n' ' ')" = "one two three "

# --- the proxy between WebSockets and UDP, OSCORE end to end
check "ws (npm) client -> proxy (reverse) -> UDP server" \
    test "$($PEER get ws://127.0.0.1:$PW/.well-known/coap /a.txt 2>/dev/null)" = "hello over websockets"
check "WebSocket client -> proxy (forward) -> UDP server" \
    test "$("$B" get -P coap+ws://127.0.0.1:$PW $U/a.txt)" = "hello over websockets"
check "WebSocket client -> proxy -> UDP server, OSCORE" \
    test "$("$B" get --oscore client.json -P coap+ws://127.0.0.1:$PW $U/oscore/hello/1)" = "Hello World!"
check "UDP client -> proxy -> WebSocket server, OSCORE" \
    test "$("$B" get --oscore client.json -P coap://127.0.0.1:$P $WS/oscore/hello/1)" = "Hello World!"
"$B" get --oscore client.json -P coap+ws://127.0.0.1:$PW -o got2.bin $U/big.bin
check "OSCORE block-wise GET, WebSocket client -> proxy -> UDP server" cmp -s got2.bin big.bin
"$B" put --oscore client.json -P coap+ws://127.0.0.1:$PW -f big.bin $U/up2.bin
check "OSCORE block-wise PUT, WebSocket client -> proxy -> UDP server" cmp -s www/up2.bin big.bin
"$B" get --oscore client.json -P coap+ws://127.0.0.1:$PW --observe=2 $U/oscore/observe2 > notes2.txt
check "OSCORE Observe, WebSocket client -> proxy -> UDP server" test "$(head -3 notes2.txt | tr '\n' ' ')" = "one two three "
"$B" get --oscore client.json -P coap://127.0.0.1:$P --observe=2 $WS/oscore/observe2 > notes3.txt
check "OSCORE Observe, UDP client -> proxy -> WebSocket server" test "$(head -3 notes3.txt | tr '\n' ' ')" = "one two three "
check "the proxy log holds no OSCORE plaintext" bash -c "! grep -q 'Hello World' proxy.log"

echo "ws: $pass passed, $fail failed"
[ $fail -eq 0 ]
