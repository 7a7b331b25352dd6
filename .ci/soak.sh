#!/usr/bin/env bash
# Soak: 30 s of mixed pool traffic on loopback (reuse, churn, graceful and abortive closes,
# cancellations, HttpClient through UseTuplePool, several destinations). Fails on any untyped
# error or when a pool's ledger and `ss` disagree after the settle period.
#   SOAK_SECONDS=600 .ci/soak.sh   for a longer run
set -euo pipefail
cd "$(dirname "$0")/.."
dotnet build tests/TuplePool.Soak -c Release --nologo -v quiet >/dev/null
exec dotnet tests/TuplePool.Soak/bin/Release/net10.0/TuplePool.Soak.dll --seconds "${SOAK_SECONDS:-30}"
