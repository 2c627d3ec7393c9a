#!/usr/bin/env python3
"""UDP relay for the cluster test: a client's datagrams go to the first
server port until SWITCH_FILE exists, then to the second (a NAT rebinding or a
load balancer moving the client to another node); whatever either server
sends goes back to the client. Stops after SECONDS.
usage: switch_relay.py LISTEN_PORT SERVER1_PORT SERVER2_PORT SWITCH_FILE SECONDS"""
import os
import select
import socket
import sys
import time

listen, first, second = (int(a) for a in sys.argv[1:4])
switch_file, end = sys.argv[4], time.time() + float(sys.argv[5])
sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
sock.bind(("127.0.0.1", listen))
client = None
counts = {first: 0, second: 0}
while time.time() < end:
    if not select.select([sock], [], [], 0.1)[0]:
        continue
    data, (host, port) = sock.recvfrom(4096)
    if port in (first, second):
        if client:
            sock.sendto(data, client)
        continue
    client = (host, port)
    target = second if os.path.exists(switch_file) else first
    counts[target] += 1
    sock.sendto(data, ("127.0.0.1", target))
print(f"switch_relay: {counts[first]} datagrams to the first node, {counts[second]} to the second", file=sys.stderr)
