#!/usr/bin/env bash
# YARP without and with UseTuplePool under wrk, on loopback: keep-alive and churn, runs alternating,
# requests/s, p50/p99 and the ratio pool/plain in one report (benchmarks/README.md, "Gateway").
# Options go to the program (--help lists them), e.g.: bash benchmarks/gateway.sh --rounds 5
# Run it on a quiet machine: nothing else building or testing.
set -euo pipefail
cd "$(dirname "$0")/.."
if ! command -v wrk >/dev/null 2>&1; then
  echo "wrk not found: install it (Debian: apt-get install wrk)" >&2
  exit 1
fi
dotnet build benchmarks/TuplePool.Benchmarks.Gateway -c Release --nologo -v quiet
exec dotnet benchmarks/TuplePool.Benchmarks.Gateway/bin/Release/net10.0/TuplePool.Benchmarks.Gateway.dll "$@"
