#!/usr/bin/env bash
# `coreseal proxy --cache`: plain CoAP answers to GET reused for their Max-Age
# with the remaining freshness (RFC 7252 §5.6, §5.7.1), unsafe requests
# invalidating them, and OSCORE answers never cached (each is bound to its
# request). And the reverse proxy's routes file: by Uri-Host and by path
# prefix, with a default. Usage: proxy_cache_routes.sh CORESEAL [BASE_PORT]
set -u
B=$(readlink -f "$1")
PORT=${2:-$((10000 + ($$ * 67) % 22000))}
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
printf 'version 1' > www/v.txt
for who in server client; do
    sid=01 rid=""
    [ $who = client ] && sid="" rid=01
    cat > $who.json <<J
{"master_secret":"0102030405060708090a0b0c0d0e0f10","master_salt":"9e7ca92223786340",
 "sender_id":"$sid","recipient_id":"$rid","state_file":"$who.state"}
J
done
S=$PORT P=$((PORT + 1))
"$B" serve -v --listen 127.0.0.1:$S --root www --oscore server.json --interop > server.log 2>&1 &
"$B" proxy --listen 127.0.0.1:$P --forward --cache --log proxy.log > proxy.err 2>&1 &
PROXY=$!
wait_for server.log listening && wait_for proxy.err listening ||
    { echo "FAIL the servers did not start"; cat ./*.log ./*.err 2>/dev/null | head -40; exit 1; }
T=coap://127.0.0.1:$S
served() { grep -c "^< .*GET.*/v.txt" server.log; }

check "first GET through the caching proxy" test "$("$B" get -P coap://127.0.0.1:$P $T/v.txt)" = "version 1"
printf 'version 2' > www/v.txt # changed behind the proxy's back: the cache does not know
sleep 1.1
out=$("$B" get -v -P coap://127.0.0.1:$P $T/v.txt 2> v.txt)
check "a repeat is answered from the cache (the server saw $(served) GET)" test "$out" = "version 1" -a "$(served)" = 1
check "... with Max-Age lowered to the freshness left (59 of 60 s)" grep -q '^< .*Max-Age=59' v.txt
check "the proxy's log says so" grep -q '^cache hit (1 s old)' proxy.log
"$B" put -e 'version 3' -P coap://127.0.0.1:$P $T/v.txt
check "a PUT through the proxy invalidates the entry" \
    test "$("$B" get -P coap://127.0.0.1:$P $T/v.txt)" = "version 3" -a "$(served)" = 2
check "another resource is another entry (Uri-Path in the key)" \
    bash -c "printf other > www/w.txt; [ \"\$('$B' get -P coap://127.0.0.1:$P $T/w.txt)\" = other ]"
"$B" get --oscore client.json -P coap://127.0.0.1:$P $T/oscore/hello/1 > o1.txt
"$B" get --oscore client.json -P coap://127.0.0.1:$P $T/oscore/hello/1 > o2.txt
check "OSCORE answers are never cached: both requests reached the server and verified" \
    bash -c "[ \"\$(cat o1.txt o2.txt)\" = 'Hello World!Hello World!' ] && [ \$(grep -c '^< .*POST.*OSCORE' server.log) -ge 2 ]"
kill -INT $PROXY
wait $PROXY 2>/dev/null
check "the proxy counts its cache hits" grep -q '1 answered from the cache' proxy.err

# --- routes from a file: by path prefix and by Uri-Host, else the default
S2=$((PORT + 2)) R=$((PORT + 3))
mkdir -p www2/b
printf 'from backend two' > www2/b/x.txt
printf 'two at its root' > www2/v.txt
"$B" serve --listen 127.0.0.1:$S2 --root www2 > server2.log 2>&1 &
cat > routes.json <<J
{"routes": [{"path": "/b", "target": "coap://127.0.0.1:$S2"},
            {"host": "two.example", "target": "coap://127.0.0.1:$S2"}],
 "default": "coap://127.0.0.1:$S"}
J
"$B" proxy --listen 127.0.0.1:$R --routes routes.json > rproxy.err 2>&1 &
wait_for server2.log listening && wait_for rproxy.err listening
check "a path-prefix route (/b)" test "$("$B" get coap://127.0.0.1:$R/b/x.txt)" = "from backend two"
check "a Uri-Host route (two.example)" test "$("$B" get -O 3,two.example coap://127.0.0.1:$R/v.txt)" = "two at its root"
check "everything else to the default" test "$("$B" get coap://127.0.0.1:$R/v.txt)" = "version 3"
check "OSCORE requests hide their path: the default serves them" \
    test "$("$B" get --oscore client.json coap://127.0.0.1:$R/oscore/hello/1)" = "Hello World!"
printf '{"routes": [{"path": "b", "target": "coap://x"}]}' > bad.json
"$B" proxy --listen 127.0.0.1:$((PORT + 4)) --routes bad.json > bad.err 2>&1
rc=$?
check "a bad routes file: exit 2 with the reason" \
    bash -c "[ $rc -eq 2 ] && grep -q 'bad.json: routes\[0\]: path must start with /' bad.err"

echo "proxy_cache_routes: $pass passed, $fail failed"
[ $fail -eq 0 ]
