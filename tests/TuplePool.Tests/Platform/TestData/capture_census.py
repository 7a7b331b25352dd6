#!/usr/bin/env python3
"""Captures real /proc/net/tcp and /proc/net/tcp6 text while holding known loopback connections.

Run on Linux from this folder: python3 capture_census.py
Writes proc-net-tcp.txt and proc-net-tcp6.txt next to itself and prints what it held, for the
README and the assertions in KernelCensusParserTests. Loopback only; client ports come from
33900-33949 (IP_LOCAL_PORT_RANGE), listeners use port 0.
"""
import os
import socket
import struct
import time

SOL_IP = 0
IP_BIND_ADDRESS_NO_PORT = 24
IP_LOCAL_PORT_RANGE = 51
FIRST, LAST = 33900, 33949

here = os.path.dirname(os.path.abspath(__file__))


def client(family, source, destination):
    s = socket.socket(family, socket.SOCK_STREAM)
    if family == socket.AF_INET6:
        s.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_V6ONLY, 0)
    s.setsockopt(SOL_IP, IP_BIND_ADDRESS_NO_PORT, 1)
    s.setsockopt(SOL_IP, IP_LOCAL_PORT_RANGE, struct.pack("=I", FIRST | (LAST << 16)))
    s.bind((source, 0))
    s.connect(destination)
    return s


l4 = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
l4.bind(("127.0.0.1", 0))
l4.listen(16)
p4 = l4.getsockname()[1]

l6 = socket.socket(socket.AF_INET6, socket.SOCK_STREAM)
l6.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_V6ONLY, 1)
l6.bind(("::1", 0))
l6.listen(16)
p6 = l6.getsockname()[1]

held = {}

# 1, 2: plain ESTABLISHED from two sources.
held["est 127.0.0.1"] = client(socket.AF_INET, "127.0.0.1", ("127.0.0.1", p4)), l4.accept()[0]
held["est 127.0.0.2"] = client(socket.AF_INET, "127.0.0.2", ("127.0.0.1", p4)), l4.accept()[0]

# 3: the client closes first -> the client side ends in TIME_WAIT.
tw_client = client(socket.AF_INET, "127.0.0.1", ("127.0.0.1", p4))
tw_server = l4.accept()[0]
tw_port = tw_client.getsockname()[1]
tw_client.close()
assert tw_server.recv(1) == b""
tw_server.close()

# 4: the server closes first -> server FIN_WAIT2, client CLOSE_WAIT.
cw_client = client(socket.AF_INET, "127.0.0.3", ("127.0.0.1", p4))
cw_server = l4.accept()[0]
cw_server.close()
held["close-wait 127.0.0.3"] = cw_client, None

# 5: IPv6 ::1 -> ::1.
held["est ::1"] = client(socket.AF_INET6, "::1", ("::1", p6)), l6.accept()[0]

# 6: a dual-stack AF_INET6 socket talking IPv4 (shows in tcp6 as ::ffff:127.0.0.4).
held["mapped ::ffff:127.0.0.4"] = client(socket.AF_INET6, "::ffff:127.0.0.4", ("::ffff:127.0.0.1", p4)), l4.accept()[0]

time.sleep(0.3)
with open("/proc/net/tcp") as f:
    tcp = f.read()
with open("/proc/net/tcp6") as f:
    tcp6 = f.read()
with open(os.path.join(here, "proc-net-tcp.txt"), "w") as f:
    f.write(tcp)
with open(os.path.join(here, "proc-net-tcp6.txt"), "w") as f:
    f.write(tcp6)

print(f"kernel {os.uname().release}, IPv4 listener 127.0.0.1:{p4}, IPv6 listener [::1]:{p6}")
print(f"TIME_WAIT client 127.0.0.1:{tw_port}")
for name, (c, s) in held.items():
    print(f"{name}: client {c.getsockname()[:2]}")
print(f"lines: tcp {tcp.count(chr(10)) - 1}, tcp6 {tcp6.count(chr(10)) - 1}")

for c, s in held.values():
    c.close()
    if s is not None:
        s.close()
l4.close()
l6.close()
