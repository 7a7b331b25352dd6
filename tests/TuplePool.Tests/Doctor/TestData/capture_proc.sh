#!/bin/sh
# Captures the /proc files `tuplepool doctor` reads into ./proc-6.18 (run on a Linux host).
# The socket tables keep only their header line: tests add the sockets they need.
set -eu
out="$(dirname "$0")/proc-6.18"
rm -rf "$out"
for f in sys/net/ipv4/ip_local_port_range sys/net/ipv4/ip_local_reserved_ports sys/net/ipv4/tcp_tw_reuse \
         sys/net/ipv4/tcp_tw_reuse_delay sys/net/ipv4/tcp_timestamps sys/net/ipv4/tcp_fin_timeout \
         sys/kernel/osrelease sys/net/netfilter/nf_conntrack_count sys/net/netfilter/nf_conntrack_max self/limits; do
  mkdir -p "$out/$(dirname "$f")"
  cat "/proc/$f" > "$out/$f"
done
mkdir -p "$out/net"
head -n 1 /proc/net/tcp > "$out/net/tcp"
head -n 1 /proc/net/tcp6 > "$out/net/tcp6"
# The IPv6 routing table, for the source prefix check (a local route serves an IPv6 prefix).
cat /proc/net/ipv6_route > "$out/net/ipv6_route"
