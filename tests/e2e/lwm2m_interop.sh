#!/usr/bin/env bash
# LwM2M interoperability (NoSec) with an independent implementation:
# Telefonica's lwm2m-node-lib (LwM2M 1.0, Node.js) from the npm registry.
#   their server, our client: Register, Read, Write, Read back, Execute, De-register
#   our server, their client: Register (their link format), De-register
# (Their client answers Device Management on a socket other than the one it
# registers from, so no server can reach it there; that direction stops at
# registration.) Usage: lwm2m_interop.sh CORESEAL WORK_DIR [BASE_PORT]
set -u
B=$(readlink -f "$1")
DIR=$(mkdir -p "$2" && readlink -f "$2")
PORT=${3:-$((10000 + ($$ * 89) % 22000))}
HERE=$(cd "$(dirname "$0")" && pwd)
pass=0
fail=0
check() {
    local name=$1
    shift
    if "$@"; then pass=$((pass + 1)); echo "ok   $name"; else fail=$((fail + 1)); echo "FAIL $name"; fi
}
command -v node >/dev/null && command -v npm >/dev/null || { echo "FAIL node and npm are needed"; echo "0 passed, 1 failed"; exit 1; }
# the peer, installed once per build directory from the lock file
if [ ! -d "$DIR/node_modules/lwm2m-node-lib" ]; then
    cp "$HERE/node/package.json" "$HERE/node/package-lock.json" "$DIR/"
    (cd "$DIR" && npm ci --no-audit --no-fund > npm.log 2>&1) ||
        { echo "FAIL npm ci of lwm2m-node-lib (see $DIR/npm.log)"; echo "0 passed, 1 failed"; exit 1; }
fi
cp "$HERE/node/lwm2m_node_peer.js" "$DIR/"
W=$(mktemp -d)
trap 'kill $(jobs -p) 2>/dev/null; rm -rf "$W"' EXIT
cd "$W" || exit 1
peer() { node "$DIR/lwm2m_node_peer.js" "$@" 2>/dev/null; }

node "$DIR/lwm2m_node_peer.js" server $PORT > ns.log 2>/dev/null & # not through peer(): kill must reach node
for _ in $(seq 50); do grep -q 'listening' ns.log && break; sleep 0.1; done
"$B" lwm2m client --server coap://127.0.0.1:$PORT --ep cs-dev --duration 3 > nc.log 2>&1; rc=$?
check "their server: our client registers (LwM2M 1.2 link format)" grep -q 'peer: registered cs-dev lt=300' ns.log
check "their server reads our /3/0/0 (text/plain)" grep -q 'peer: read /3/0/0 = coreseal' ns.log
check "their server writes and reads back our /1/0/1" \
    test -n "$(grep 'peer: write /1/0/1 = 120 done' ns.log)" -a -n "$(grep 'peer: read /1/0/1 = 120' ns.log)"
check "their server executes our /3/0/4 (Reboot)" \
    test -n "$(grep 'peer: execute /3/0/4 done' ns.log)" -a -n "$(grep 'client: reboot requested' nc.log)"
check "our client de-registers at the location their server gave (exit $rc)" \
    test $rc = 0 -a -n "$(grep 'peer: de-registered cs-dev' ns.log)"
kill %1 2>/dev/null

L=$((PORT + 1))
"$B" lwm2m server --listen 127.0.0.1:$L --db :memory: > os.log 2>&1 &
sleep 0.3
peer client 127.0.0.1 $L node-dev 1 > ncl.log; rc=$?
sleep 0.2
check "our server: their LwM2M 1.0 client registers and de-registers (exit $rc)" \
    test $rc = 0 -a -n "$(grep 'registered node-dev lt=60 objects </3/0>' os.log)" -a -n "$(grep 'de-registered node-dev' os.log)"
[ $fail -eq 0 ] || { echo "--- their server"; cat ns.log; echo "--- our client"; cat nc.log; echo "--- our server"; cat os.log; }
echo "lwm2m interop: $pass passed, $fail failed"
[ $fail -eq 0 ]
