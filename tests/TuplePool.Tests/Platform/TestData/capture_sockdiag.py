#!/usr/bin/env python3
"""Captures real NETLINK_SOCK_DIAG (inet_diag) replies while holding known loopback connections.

Run on Linux from this folder: python3 capture_sockdiag.py
Writes the sockdiag-*.bin files next to itself (sockdiag-request-*.bin: a request as sent;
the others: the kernel's reply datagrams, concatenated in the order they were received: netlink
messages carry their own length, so a file is a stream of whole messages) and prints what it held,
for README.md and the assertions in SockDiagReaderTests and SockDiagRequestTests.
Loopback only; client ports come from 33950-33999 (IP_LOCAL_PORT_RANGE), the listeners bind below
32768. The requests are built here by hand, the way SockDiagRequest builds them (linux/inet_diag.h).
"""
import errno
import os
import socket
import struct
import time

SOL_IP = 0
IP_BIND_ADDRESS_NO_PORT = 24
IP_LOCAL_PORT_RANGE = 51
FIRST, LAST = 33950, 33999
NETLINK_SOCK_DIAG = 4
SOCK_DIAG_BY_FAMILY = 20
NLM_F_REQUEST, NLM_F_DUMP = 0x01, 0x300
NLMSG_ERROR, NLMSG_DONE = 2, 3
INET_DIAG_REQ_BYTECODE = 1
BC_S_GE, BC_S_LE, BC_S_COND, BC_D_COND = 2, 3, 7, 8
TCPF_ALL = 0x1FFE  # 1 << state for the states 1 (ESTABLISHED) to 12 (NEW_SYN_RECV)
TCPF_ALL_BUT_LISTEN = TCPF_ALL & ~(1 << 10)
NOCOOKIE = 0xFFFFFFFF

here = os.path.dirname(os.path.abspath(__file__))


def listen(family, address, first):
    for port in range(first, first + 200):
        s = socket.socket(family, socket.SOCK_STREAM)
        if family == socket.AF_INET6:
            s.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_V6ONLY, 1)
        try:
            s.bind((address, port))
        except OSError as e:
            s.close()
            if e.errno == errno.EADDRINUSE:
                continue
            raise
        s.listen(16)
        return s, port
    raise RuntimeError("no free listening port")


def client(family, source, destination):
    s = socket.socket(family, socket.SOCK_STREAM)
    if family == socket.AF_INET6:
        s.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_V6ONLY, 0)
    s.setsockopt(SOL_IP, IP_BIND_ADDRESS_NO_PORT, 1)
    s.setsockopt(SOL_IP, IP_LOCAL_PORT_RANGE, struct.pack("=I", FIRST | (LAST << 16)))
    s.bind((source, 0))
    s.connect(destination)
    return s


def hostcond(code, family, address, port, rest):
    """One S_COND/D_COND op: yes = its own length, no = past the end (reject)."""
    packed = socket.inet_pton(family, address)
    length = 4 + 8 + len(packed)
    return struct.pack("=BBH", code, length, rest + 4) + struct.pack("=BBxxi", family, len(packed) * 8, port) + packed


def port_op(code, port, rest):
    return struct.pack("=BBH", code, 8, rest + 4) + struct.pack("=BBH", 0, 0, port)


def program(ops):
    """Joins ops (functions of 'bytes from this op to the end'), each rejecting past the end."""
    sizes = [len(op(0)) for op in ops]
    out = b""
    for i, op in enumerate(ops):
        out += op(sum(sizes[i:]))
    return out


def dump_request(family, states, bytecode, seq, dport=0):
    req = struct.pack("=BBBBI", family, socket.IPPROTO_TCP, 0, 0, states)
    req += struct.pack("!HH", 0, dport) + b"\0" * 32 + struct.pack("=III", 0, NOCOOKIE, NOCOOKIE)
    attr = b""
    if bytecode:
        attr = struct.pack("=HH", 4 + len(bytecode), INET_DIAG_REQ_BYTECODE) + bytecode
    body = req + attr
    return struct.pack("=IHHII", 16 + len(body), SOCK_DIAG_BY_FAMILY, NLM_F_REQUEST | NLM_F_DUMP, seq, 0) + body


def exact_request(family, src, sport, dst, dport, seq):
    a = socket.inet_pton(family, src).ljust(16, b"\0")
    b = socket.inet_pton(family, dst).ljust(16, b"\0")
    req = struct.pack("=BBBBI", family, socket.IPPROTO_TCP, 0, 0, TCPF_ALL)
    req += struct.pack("!HH", sport, dport) + a + b + struct.pack("=III", 0, NOCOOKIE, NOCOOKIE)
    return struct.pack("=IHHII", 16 + len(req), SOCK_DIAG_BY_FAMILY, NLM_F_REQUEST, seq, 0) + req


def exchange(requests, replies_expected=None):
    """Sends the requests in one datagram; returns every reply datagram, concatenated."""
    nl = socket.socket(socket.AF_NETLINK, socket.SOCK_RAW, NETLINK_SOCK_DIAG)
    nl.settimeout(2)
    nl.send(b"".join(requests))
    out = b""
    answered = 0
    while True:
        data = nl.recv(65536)
        out += data
        offset = 0
        done = False
        while offset + 16 <= len(data):
            length, kind = struct.unpack_from("=IH", data, offset)
            if kind in (NLMSG_DONE, NLMSG_ERROR):
                done = True
            answered += 1
            offset += (length + 3) & ~3
        if replies_expected is None and done:
            break
        if replies_expected is not None and answered >= replies_expected:
            break
    nl.close()
    return out


def write(name, data):
    with open(os.path.join(here, name), "wb") as f:
        f.write(data)
    print(f"{name}: {len(data)} bytes")


l4, p4 = listen(socket.AF_INET, "127.0.0.1", 29950)
l6, p6 = listen(socket.AF_INET6, "::1", 29950)
held = {}

# Two ESTABLISHED from 127.0.0.5, one TIME_WAIT (the client closed first), one from 127.0.0.6.
held["est 127.0.0.5 a"] = client(socket.AF_INET, "127.0.0.5", ("127.0.0.1", p4)), l4.accept()[0]
held["est 127.0.0.5 b"] = client(socket.AF_INET, "127.0.0.5", ("127.0.0.1", p4)), l4.accept()[0]
held["est 127.0.0.6"] = client(socket.AF_INET, "127.0.0.6", ("127.0.0.1", p4)), l4.accept()[0]
tw_client = client(socket.AF_INET, "127.0.0.5", ("127.0.0.1", p4))
tw_server = l4.accept()[0]
tw_port = tw_client.getsockname()[1]
tw_client.close()
assert tw_server.recv(1) == b""
tw_server.close()

# IPv6 ::1 -> ::1 and a dual-stack AF_INET6 socket talking IPv4 from ::ffff:127.0.0.7.
held["est ::1"] = client(socket.AF_INET6, "::1", ("::1", p6)), l6.accept()[0]
held["mapped ::ffff:127.0.0.7"] = client(socket.AF_INET6, "::ffff:127.0.0.7", ("::ffff:127.0.0.1", p4)), l4.accept()[0]
time.sleep(0.3)

# 1. IPv4 dump of the tuple 127.0.0.5 -> 127.0.0.1:p4, every state but LISTEN.
v4 = program([
    lambda rest: hostcond(BC_S_COND, socket.AF_INET, "127.0.0.5", -1, rest),
    lambda rest: hostcond(BC_D_COND, socket.AF_INET, "127.0.0.1", p4, rest),
])
request = dump_request(socket.AF_INET, TCPF_ALL_BUT_LISTEN, v4, 1, p4)
write("sockdiag-request-v4-tuple.bin", request)
write("sockdiag-dump-v4-tuple.bin", exchange([request]))

# 2. IPv6 dump, any source, destination [::1]:p6, with the local-port slice as S_GE/S_LE.
v6 = program([
    lambda rest: hostcond(BC_D_COND, socket.AF_INET6, "::1", p6, rest),
    lambda rest: port_op(BC_S_GE, FIRST, rest),
    lambda rest: port_op(BC_S_LE, LAST, rest),
])
request = dump_request(socket.AF_INET6, TCPF_ALL_BUT_LISTEN, v6, 2, p6)
write("sockdiag-request-v6-tuple.bin", request)
write("sockdiag-dump-v6-tuple.bin", exchange([request]))

# 3. AF_INET6 dump for the IPv4 tuple (dual-stack sockets): mapped addresses in the hostcond.
mapped = program([lambda rest: hostcond(BC_D_COND, socket.AF_INET6, "::ffff:127.0.0.1", p4, rest)])
request = dump_request(socket.AF_INET6, TCPF_ALL_BUT_LISTEN, mapped, 3, p4)
write("sockdiag-request-v6-mapped.bin", request)
write("sockdiag-dump-v6-mapped.bin", exchange([request]))

# 4. The IPv4 listener: every state, no bytecode, only the listening port (S_COND port).
listener = program([lambda rest: hostcond(BC_S_COND, socket.AF_INET, "127.0.0.1", p4, rest)])
write("sockdiag-dump-v4-listener.bin", exchange([dump_request(socket.AF_INET, 1 << 10, listener, 4)]))

# 5. A bytecode the kernel refuses (a "no" that jumps into the middle of an op): NLMSG_ERROR -EINVAL.
bad = struct.pack("=BBH", BC_S_GE, 8, 6) + struct.pack("=BBH", 0, 0, 1)
write("sockdiag-error-einval.bin", exchange([dump_request(socket.AF_INET, TCPF_ALL_BUT_LISTEN, bad, 5)]))

# 6. Exact lookups in one datagram: the TIME_WAIT socket (found) and a port nobody holds (ENOENT).
found = exact_request(socket.AF_INET, "127.0.0.5", tw_port, "127.0.0.1", p4, 6)
write("sockdiag-request-exact.bin", found)
write("sockdiag-exact.bin", exchange([found, exact_request(socket.AF_INET, "127.0.0.5", LAST + 1, "127.0.0.1", p4, 7)], replies_expected=2))

print(f"kernel {os.uname().release}, IPv4 listener 127.0.0.1:{p4}, IPv6 listener [::1]:{p6}")
print(f"TIME_WAIT client 127.0.0.5:{tw_port}")
for name, (c, s) in held.items():
    print(f"{name}: client {c.getsockname()[:2]} -> {c.getpeername()[:2]}")

for c, s in held.values():
    c.close()
    s.close()
l4.close()
l6.close()
