#!/usr/bin/env bash
# Interoperability with an independent CoAP stack: Debian's libcoap3-bin
# (coap-client / coap-server 4.3.1, no OSCORE). Plain CoAP both ways:
# GET, block-wise GET and PUT, Observe. Usage: libcoap.sh CORESEAL [BASE_PORT]
# Exits 77 (skipped) when libcoap's tools are not installed.
set -u
B=$(readlink -f "$1")
PORT=${2:-$((10000 + ($$ * 89) % 22000))}
CC=$(command -v coap-client-notls || command -v coap-client || true)
CS=$(command -v coap-server-notls || command -v coap-server || true)
[ -n "$CC" ] && [ -n "$CS" ] || { echo "libcoap3-bin not installed: skipped"; exit 77; }
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
mkdir www
printf 'hello from coreseal' > www/a.txt
head -c 20000 /dev/urandom > big.bin
cp big.bin www/big.bin

# libcoap client -> coreseal server
"$B" serve --listen 127.0.0.1:$PORT --root www > server.log 2>&1 &
sleep 0.3
U=coap://127.0.0.1:$PORT
check "coap-client GET" test "$("$CC" -m get $U/a.txt 2>/dev/null)" = "hello from coreseal"
"$CC" -m get -b 64 $U/big.bin -o got.bin 2>/dev/null
check "coap-client block-wise GET (64-byte blocks)" cmp -s got.bin big.bin
"$CC" -m put -b 256 -f big.bin $U/up.bin 2>/dev/null
check "coap-client block-wise PUT (256-byte blocks)" cmp -s www/up.bin big.bin
"$CC" -m delete $U/up.bin 2>/dev/null
check "coap-client DELETE" test ! -e www/up.bin
links=$("$CC" -m get $U/.well-known/core 2>/dev/null)
check "coap-client reads /.well-known/core" grep -q '</a.txt>' <<< "$links"
(for i in 1 2 3 4 5; do sleep 0.4; printf 'v%s' $i > www/a.txt; done) &
"$CC" -m get -s 3 $U/a.txt > obs.txt 2>/dev/null
check "coap-client Observe sees file changes ($(grep -c v obs.txt) notifications)" grep -q v5 obs.txt

# coreseal client -> libcoap server
"$CS" -A 127.0.0.1 -p $((PORT + 1)) > cs.log 2>&1 &
sleep 0.3
U2=coap://127.0.0.1:$((PORT + 1))
out=$("$B" get $U2/ 2>&1)
check "coreseal get from coap-server" grep -q "libcoap" <<< "$out"
"$B" get --observe=3 $U2/time > time.txt 2>/dev/null
check "coreseal observes coap-server /time ($(wc -l < time.txt) notifications)" test "$(wc -l < time.txt)" -ge 2
"$B" put -e "x" $U2/example_data > /dev/null 2>&1
"$B" get $U2/example_data > data.txt 2>/dev/null; rc=$?
check "coreseal PUT/GET /example_data on coap-server" test $rc = 0 -a "$(cat data.txt)" = "x"
echo "libcoap interop: $pass passed, $fail failed"
[ $fail -eq 0 ]
