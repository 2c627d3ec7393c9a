#!/usr/bin/env bash
# The HTTP-to-CoAP cross-proxy (RFC 8075) and OSCORE over HTTP hops (RFC 8613
# §11): curl (an independent HTTP client) and `coreseal get http://` through
# `coreseal proxy --listen-http` to CoAP servers over UDP and TCP; block-wise
# bodies gathered for HTTP; status and media type mapping; OSCORE end to end
# with the proxy seeing only ciphertext, and its tampering rejected. Then the
# other direction (RFC 7252 §10.1, RFC 8613 §11.6): CoAP clients (ours and
# libcoap's) through the forward proxy to HTTP servers, Python's http.server
# (independent) and `coreseal serve --listen-http` as an OSCORE endpoint.
# Usage: http.sh CORESEAL [BASE_PORT]
set -u
B=$(readlink -f "$1")
PORT=${2:-$((10000 + ($$ * 71) % 22000))}
command -v curl > /dev/null || { echo "curl not installed: skipped"; exit 77; }
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
printf 'hello over http' > www/a.txt
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
S=$PORT H=$((PORT + 1)) A=$((PORT + 2)) P=$((PORT + 3)) PY=$((PORT + 4)) SH=$((PORT + 5))
"$B" serve --listen 127.0.0.1:$S --listen-tcp 127.0.0.1:$S --listen-http 127.0.0.1:$SH --root www \
    --oscore server.json --interop > server.log 2>&1 &
"$B" proxy -v --listen 127.0.0.1:$P --listen-http 127.0.0.1:$H --forward --log proxy.log > proxy.err 2>&1 &
wait_for server.log "CoAP over TCP" && wait_for proxy.err "HTTP on" ||
    { echo "FAIL the servers did not start"; cat ./*.log ./*.err 2>/dev/null | head -40; exit 1; }
HC=http://127.0.0.1:$H/hc
T=coap://127.0.0.1:$S

# --- curl, an independent HTTP client
out=$(curl -s -D headers.txt $HC/$T/a.txt)
check "curl GET through the cross-proxy" test "$out" = "hello over http"
check "2.05 -> 200, Content-Format 0 -> text/plain;charset=utf-8" \
    bash -c "grep -q '^HTTP/1.1 200' headers.txt && grep -qi '^Content-Type: text/plain;charset=utf-8' headers.txt"
curl -s -o got.bin $HC/$T/big.bin
check "curl GET of 20 KB: the proxy gathers the Block2 blocks" cmp -s got.bin big.bin
code=$(curl -s -o /dev/null -w '%{http_code}' -X PUT -H 'Content-Type: text/plain' --data 'put by curl' $HC/$T/c.txt)
check "curl PUT -> 2.01 -> 201" test "$code" = 201 -a "$(cat www/c.txt)" = "put by curl"
code=$(curl -s -o /dev/null -w '%{http_code}' -X DELETE $HC/$T/c.txt)
check "curl DELETE -> 2.02 -> 204" test "$code" = 204 -a ! -e www/c.txt
out=$(curl -s -D headers.txt $HC/$T/missing)
check "4.04 -> 404 with the diagnostic payload as text/plain" \
    bash -c "grep -q '^HTTP/1.1 404' headers.txt && [ '$out' = 'no such file' ]"
check "a target without a scheme -> 400 (RFC 8075 5.3.1)" \
    test "$(curl -s -o /dev/null -w '%{http_code}' $HC/127.0.0.1:$S/a.txt)" = 400
check "the simple form ?target_uri= works too" \
    test "$(curl -s "http://127.0.0.1:$H/hc/?target_uri=$T/a.txt")" = "hello over http"
check "a method CoAP lacks -> 501" test "$(curl -s -o /dev/null -w '%{http_code}' -X OPTIONS $HC/$T/a.txt)" = 501
check "a Content-Type CoAP lacks -> 415" \
    test "$(curl -s -o /dev/null -w '%{http_code}' -X PUT -H 'Content-Type: image/png' --data x $HC/$T/x)" = 415
check "curl GET through the proxy to a CoAP-over-TCP server" \
    test "$(curl -s $HC/coap+tcp://127.0.0.1:$S/a.txt)" = "hello over http"

# --- coreseal get http://: plain, and OSCORE end to end over the HTTP hop
check "coreseal get http:// (plain)" test "$("$B" get $HC/$T/a.txt)" = "hello over http"
"$B" put -e 'put by coreseal' $HC/$T/d.txt
check "coreseal put http:// (plain)" test "$(cat www/d.txt)" = "put by coreseal"
out=$("$B" get -v --oscore client.json $HC/$T/oscore/hello/1 2> v.txt)
check "OSCORE GET over HTTP (RFC 8613 11): Hello World!" test "$out" = "Hello World!"
check "... the request was POST with the OSCORE header field and application/oscore" \
    bash -c "grep -q '> HTTP POST http://127.0.0.1:$H/hc/coap://127.0.0.1:$S/  OSCORE: ' v.txt && grep -q '< HTTP 200 application/oscore  OSCORE: AA' v.txt"
"$B" get --oscore client.json -o got2.bin $HC/$T/big.bin
check "OSCORE block-wise GET over HTTP (20 KB, inner Block2)" cmp -s got2.bin big.bin
"$B" put --oscore client.json -f big.bin $HC/$T/up.bin
check "OSCORE block-wise PUT over HTTP (20 KB, inner Block1)" cmp -s www/up.bin big.bin
check "OSCORE over HTTP to a CoAP-over-TCP server" \
    test "$("$B" get --oscore client.json $HC/coap+tcp://127.0.0.1:$S/oscore/hello/1)" = "Hello World!"
check "the proxy saw the plain exchanges' payloads" grep -q 'hello over http' proxy.log
check "the proxy never saw OSCORE plaintext (no path, no payload)" \
    bash -c "! grep -q 'Hello World' proxy.log && ! grep -q 'oscore/hello' proxy.log"
"$B" get --oscore client.json $HC/$T/missing 2> miss.txt
rc=$?
check "an OSCORE 4.04 arrives protected inside a 200 and is read by the client (rc $rc)" \
    bash -c "[ $rc -eq 5 ] && grep -q '4.04' miss.txt"

# --- the cross-proxy as attacker: flips toward the server, none accepted
"$B" proxy --listen 127.0.0.1:$((P + 10)) --listen-http 127.0.0.1:$A --attack flip --attack-direction to-server \
    > attack.err 2>&1 &
ATK=$!
wait_for attack.err "HTTP on"
ok=0 bad=0 altered=0 # intact is possible: a flip in the outer code or message ID changes nothing protected
for i in $(seq 10); do
    out=$("$B" get -T 5 --oscore client.json http://127.0.0.1:$A/hc/$T/oscore/hello/1 2>/dev/null)
    rc=$?
    if [ $rc -ne 0 ]; then bad=$((bad + 1)); elif [ "$out" = "Hello World!" ]; then ok=$((ok + 1)); else altered=$((altered + 1)); fi
done
kill -INT $ATK
wait $ATK 2>/dev/null
flips=$(sed -n 's/.*flip \([0-9]*\),.*/\1/p' attack.err)
check "bit flips by the cross-proxy: $flips made, $altered of 10 altered accepted ($bad rejected, $ok intact)" \
    test $altered -eq 0 -a $bad -ge 5 -a "${flips:-0}" -ge 10
check "... and the honest proxy still works after them" \
    test "$("$B" get --oscore client.json $HC/$T/oscore/hello/1)" = "Hello World!"

# --- CoAP to HTTP: the forward proxy fetches http:// resources (RFC 7252 10.1)
(cd www && exec python3 -m http.server $PY --bind 127.0.0.1 > ../py.log 2>&1) &
for _ in $(seq 50); do curl -s -o /dev/null http://127.0.0.1:$PY/a.txt && break; sleep 0.1; done
PX=coap://127.0.0.1:$P
check "CoAP GET of an http:// resource through the proxy (Python's http.server)" \
    test "$("$B" get -P $PX http://127.0.0.1:$PY/a.txt)" = "hello over http"
"$B" get -P $PX -o got3.bin http://127.0.0.1:$PY/big.bin
check "... 20 KB of it in Block2 blocks cut by the proxy" cmp -s got3.bin big.bin
check "... the proxy's HTTP request had the path, as the CoAP request did" grep -q "proxy->http GET http://127.0.0.1:$PY/a.txt " proxy.log
"$B" get -P $PX http://127.0.0.1:$PY/missing > /dev/null 2> miss2.txt
rc=$?
check "HTTP 404 -> 4.04 (rc $rc)" bash -c "[ $rc -eq 5 ] && grep -q '4.04' miss2.txt"
"$B" get http://127.0.0.1:$PY/a.txt > /dev/null 2> nop.txt
rc=$?
check "an http:// URI that embeds no coap:// target and no -P: a usage error that says what to do (rc $rc)" \
    bash -c "[ $rc -eq 1 ] && grep -q -- '-P coap://PROXY' nop.txt"
if command -v coap-client-notls > /dev/null; then
    check "libcoap's coap-client with Proxy-Uri http://... through the proxy" \
        test "$(timeout 20 coap-client-notls -m get -P $PX http://127.0.0.1:$PY/a.txt)" = "hello over http"
fi
cat > put_server.py <<'PY'
import http.server, sys
class H(http.server.BaseHTTPRequestHandler):
    def do_PUT(self):
        body = self.rfile.read(int(self.headers.get('Content-Length', 0)))
        open('www' + self.path, 'wb').write(body)
        self.send_response(201)
        self.send_header('Content-Length', '0')
        self.end_headers()
    def log_message(self, *a):
        pass
http.server.HTTPServer(('127.0.0.1', int(sys.argv[1])), H).serve_forever()
PY
PU=$((PORT + 6))
python3 put_server.py $PU &
for _ in $(seq 50); do curl -s -o /dev/null -X PUT --data x http://127.0.0.1:$PU/probe && break; sleep 0.1; done
"$B" put -P $PX -f big.bin http://127.0.0.1:$PU/put.bin
check "CoAP PUT of 20 KB in Block1 blocks: the proxy gathers them into one HTTP PUT" \
    bash -c "cmp -s www/put.bin big.bin && grep -q 'proxy->http PUT http://127.0.0.1:$PU/put.bin (20000 bytes)' proxy.log"
if command -v coap-client-notls > /dev/null; then
    timeout 20 coap-client-notls -m put -P $PX -f big.bin http://127.0.0.1:$PU/put2.bin
    check "... and libcoap's block-wise PUT the same way" cmp -s www/put2.bin big.bin
fi
check "serve --listen-http is an HTTP origin server (curl GET)" \
    test "$(curl -s http://127.0.0.1:$SH/a.txt)" = "hello over http"
: > proxy.log
out=$("$B" get --oscore client.json -P $PX http://127.0.0.1:$SH/oscore/hello/1)
check "OSCORE from a CoAP client to an HTTP server through the proxy (RFC 8613 11.6): Hello World!" \
    test "$out" = "Hello World!"
check "... the proxy sent POST http://server/ with the OSCORE header: no path, no plaintext" \
    bash -c "grep -q 'proxy->http POST http://127.0.0.1:$SH/ (24 bytes, OSCORE)' proxy.log && ! grep -q 'Hello World' proxy.log && ! grep -q 'oscore/hello' proxy.log"
"$B" get --oscore client.json -P $PX -o got4.bin http://127.0.0.1:$SH/big.bin
check "OSCORE block-wise GET from the HTTP server through the proxy (20 KB, inner Block2)" cmp -s got4.bin big.bin
"$B" put --oscore client.json -P $PX -f big.bin http://127.0.0.1:$SH/up2.bin
check "OSCORE block-wise PUT to the HTTP server through the proxy (20 KB, inner Block1)" cmp -s www/up2.bin big.bin
"$B" proxy --listen 127.0.0.1:$((P + 11)) --forward --attack flip --attack-direction to-client > attack2.err 2>&1 &
ATK=$!
wait_for attack2.err "ATTACKING"
ok=0 bad=0 altered=0
for i in $(seq 10); do
    out=$("$B" get -T 5 --oscore client.json -P coap://127.0.0.1:$((P + 11)) http://127.0.0.1:$SH/oscore/hello/1 2>/dev/null)
    rc=$?
    if [ $rc -ne 0 ]; then bad=$((bad + 1)); elif [ "$out" = "Hello World!" ]; then ok=$((ok + 1)); else altered=$((altered + 1)); fi
done
kill -INT $ATK
wait $ATK 2>/dev/null
check "flips in the HTTP server's answers relayed to the client: $altered of 10 altered accepted ($bad rejected, $ok intact)" \
    test $altered -eq 0 -a $bad -ge 3

echo "http: $pass passed, $fail failed"
[ $fail -eq 0 ]
