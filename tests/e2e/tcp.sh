#!/usr/bin/env bash
# CoAP over TCP (RFC 8323) end to end: `coreseal serve --listen-tcp`, `coreseal
# get coap+tcp://`, and `coreseal proxy` translating UDP <-> TCP per hop while
# OSCORE runs end to end; block-wise and Observe across the translation; the
# signaling layer (CSM first, Ping/Pong, Abort on malformed input) checked with
# raw frames; libcoap's TCP client and server as independent peers when
# installed. Usage: tcp.sh CORESEAL [BASE_PORT]
set -u
B=$(readlink -f "$1")
PORT=${2:-$((10000 + ($$ * 83) % 22000))}
PY=/usr/bin/python3
CC=$(command -v coap-client-notls || command -v coap-client || true)
CS=$(command -v coap-server-notls || command -v coap-server || true)
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
printf 'hello over tcp' > www/a.txt
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

S=$PORT P=$((PORT + 1)) R=$((PORT + 2)) L=$((PORT + 3))
"$B" serve --listen 127.0.0.1:$S --listen-tcp 127.0.0.1:$S --root www --oscore server.json --interop \
    --observe-interval 50 > server.log 2>&1 &
"$B" proxy --listen 127.0.0.1:$P --listen-tcp 127.0.0.1:$P --forward --log proxy.log > proxy.err 2>&1 &
"$B" proxy --listen 127.0.0.1:$R --default coap+tcp://127.0.0.1:$S > reverse.err 2>&1 &
wait_for server.log "CoAP over TCP" && wait_for proxy.err listening && wait_for reverse.err listening ||
    { echo "FAIL the servers did not start"; cat ./*.log ./*.err 2>/dev/null | head -40; exit 1; }
T=coap+tcp://127.0.0.1:$S U=coap://127.0.0.1:$S

# --- direct, over TCP
check "plain GET over TCP" test "$("$B" get $T/a.txt)" = "hello over tcp"
"$B" get -o got.bin $T/big.bin
check "block-wise GET over TCP (20 KB)" cmp -s got.bin big.bin
"$B" put -f big.bin $T/up.bin
check "block-wise PUT over TCP (20 KB)" cmp -s www/up.bin big.bin
check "OSCORE GET over TCP" test "$("$B" get --oscore client.json $T/oscore/hello/1)" = "Hello World!"
"$B" get --oscore client.json -o got2.bin $T/big.bin
check "OSCORE block-wise GET over TCP" cmp -s got2.bin big.bin
"$B" get --oscore client.json --observe=2 $T/oscore/observe2 > notes.txt
check "OSCORE Observe over TCP (notifications arrive)" test "$(head -3 notes.txt | tr '\n' ' ')" = "one two three "

# --- a proxy translating transports; OSCORE end to end across it
check "UDP client -> proxy -> TCP server, OSCORE" \
    test "$("$B" get --oscore client.json -P coap://127.0.0.1:$P $T/oscore/hello/1)" = "Hello World!"
check "TCP client -> proxy -> UDP server, OSCORE" \
    test "$("$B" get --oscore client.json -P coap+tcp://127.0.0.1:$P $U/oscore/hello/1)" = "Hello World!"
"$B" get --oscore client.json -P coap+tcp://127.0.0.1:$P -o got3.bin $U/big.bin
check "OSCORE block-wise GET, TCP client -> proxy -> UDP server" cmp -s got3.bin big.bin
"$B" put --oscore client.json -P coap://127.0.0.1:$P -f big.bin $T/up2.bin
check "OSCORE block-wise PUT, UDP client -> proxy -> TCP server" cmp -s www/up2.bin big.bin
"$B" get --oscore client.json -P coap+tcp://127.0.0.1:$P --observe=2 $U/oscore/observe2 > notes2.txt
check "OSCORE Observe, TCP client -> proxy -> UDP server" test "$(head -3 notes2.txt | tr '\n' ' ')" = "one two three "
check "reverse proxy to a coap+tcp:// backend, OSCORE" \
    test "$("$B" get --oscore client.json coap://127.0.0.1:$R/oscore/hello/1)" = "Hello World!"
check "the proxy log shows the TCP hops" grep -q '(tcp) ' proxy.log
check "the proxy log holds no plaintext" bash -c "! grep -q 'Hello World' proxy.log"

# --- the attacker on a translating hop: every change to protected parts is caught
"$B" proxy --listen 127.0.0.1:$L --listen-tcp 127.0.0.1:$L --forward --attack flip > attack.err 2>&1 &
ATK=$!
wait_for attack.err listening
# a flip in what OSCORE leaves unprotected (type, message ID, outer code) may
# leave the answer intact; what must never be is an altered one accepted
ok=0 bad=0 altered=0
for i in $(seq 20); do
    out=$("$B" get -T 5 --ack-timeout 200 --oscore client.json -P coap+tcp://127.0.0.1:$L $U/oscore/hello/1 2>/dev/null)
    rc=$?
    if [ $rc -ne 0 ]; then bad=$((bad + 1)); elif [ "$out" = "Hello World!" ]; then ok=$((ok + 1)); else altered=$((altered + 1)); fi
done
kill $ATK 2>/dev/null
check "bit flips on a TCP -> UDP hop: $altered of 20 altered accepted ($bad rejected, $ok intact)" \
    test $altered -eq 0 -a $bad -ge 10

# --- connection loss is reported at once, not after the exchange lifetime
start=$(date +%s)
"$B" get -T 60 coap+tcp://127.0.0.1:$L/a.txt > /dev/null 2>&1
rc=$?
check "a refused TCP connection fails the request at once (rc $rc)" test $rc -eq 3 -a $(($(date +%s) - start)) -lt 5

# --- signaling (RFC 8323 §5), with raw frames
cat > raw.py <<'PY'
import socket, sys
port, case = int(sys.argv[1]), sys.argv[2]
s = socket.create_connection(("127.0.0.1", port), timeout=3)
def frames(data):
    out = []
    while data:
        n, tkl = data[0] >> 4, data[0] & 15
        ext = {13: 1, 14: 2, 15: 4}.get(n, 0)
        if ext:
            n = int.from_bytes(data[1:1 + ext], "big") + {1: 13, 2: 269, 4: 65805}[ext]
        size = 1 + ext + 1 + tkl + n
        out.append((data[1 + ext], data[2 + ext:2 + ext + tkl], data[2 + ext + tkl:size]))
        data = data[size:]
    return out
csm = bytes([0x00, 0xe1])
if case == "ping":
    s.sendall(csm + bytes([0x02, 0xe2, 0xab, 0xcd]))
elif case == "no-csm":
    s.sendall(bytes([0x01, 0x01, 0x42]))  # GET with token 42, no CSM before it
elif case == "malformed":
    s.sendall(csm + bytes([0x11, 0x01, 0x42]) + b"\xff")  # payload marker with nothing after it
data = b""
try:
    while True:
        chunk = s.recv(4096)
        if not chunk:
            break
        data += chunk
        if case == "ping" and len(frames(data)) >= 2:
            break
except socket.timeout:
    pass
for code, tok, rest in frames(data):
    print("%d.%02d %s %s" % (code >> 5, code & 31, tok.hex(), rest.hex()))
PY
$PY raw.py $S ping > ping.txt
check "the server opens with a CSM: Max-Message-Size 1152, Block-Wise-Transfer" grep -q '^7.01  22048020$' ping.txt
check "Ping is answered by Pong with its token" grep -q '^7.03 abcd' ping.txt
$PY raw.py $S no-csm > nocsm.txt
check "a request before the CSM: Abort with a diagnostic" \
    grep -q "^7.05  ff$(printf 'the first message must be a CSM' | od -An -tx1 | tr -d ' \n')" nocsm.txt
$PY raw.py $S malformed > bad.txt
check "a malformed message: Abort" grep -q '^7.05 ' bad.txt
check "the server serves on after aborted connections" test "$("$B" get $T/a.txt)" = "hello over tcp"

# --- libcoap's TCP client and server (independent implementation)
if [ -n "$CC" ] && [ -n "$CS" ]; then
    check "coap-client GET over TCP" test "$("$CC" -m get $T/a.txt 2>/dev/null)" = "hello over tcp"
    "$CC" -m put -f big.bin $T/lc.bin 2>/dev/null
    check "coap-client block-wise PUT over TCP" cmp -s www/lc.bin big.bin
    "$CC" -m get -o lc.bin $T/big.bin 2>/dev/null
    check "coap-client block-wise GET over TCP" cmp -s lc.bin big.bin
    check "coap-client over TCP -> proxy -> UDP server (Proxy-Uri)" \
        test "$("$CC" -m get -P coap+tcp://127.0.0.1:$P $U/a.txt 2>/dev/null)" = "hello over tcp"
    LS=$((PORT + 4))
    "$CS" -A 127.0.0.1 -p $LS > libcoap-server.log 2>&1 &
    for _ in $(seq 100); do (exec 3<> /dev/tcp/127.0.0.1/$LS) 2> /dev/null && break; sleep 0.05; done # listening
    check "coreseal get over TCP from coap-server" \
        bash -c "\"$B\" get coap+tcp://127.0.0.1:$LS/ | grep -q libcoap"
    check "UDP client -> proxy -> coap-server over TCP" \
        bash -c "\"$B\" get -P coap://127.0.0.1:$P coap+tcp://127.0.0.1:$LS/ | grep -q libcoap"
else
    echo "skip libcoap checks: libcoap3-bin not installed"
fi

echo "tcp: $pass passed, $fail failed"
[ $fail -eq 0 ]
