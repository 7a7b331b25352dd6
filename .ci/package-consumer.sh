#!/usr/bin/env bash
# Proves the packages work outside the solution:
#   bash .ci/package-consumer.sh <folder with the .nupkg files>
# Copies tests/TuplePool.PackageConsumer out of the repository, restores TuplePool and
# TuplePool.Http from that folder (a nuget.config of its own: the folder, then the sources of the
# repository's nuget.config), runs it (JIT), publishes it with PublishAot=true (any trimming or
# AOT warning fails) and runs the native executable. Each run leases a socket on loopback from a
# listener it opens below port 32768 and must print OK.
# NativeAOT needs clang and zlib1g-dev (Debian); .ci/run installs them.
set -uo pipefail
repo=$(cd "$(dirname "$0")/.." && pwd)
feed=$(cd "${1:?usage: $0 <package folder>}" && pwd) || exit 1

export DOTNET_CLI_TELEMETRY_OPTOUT=1 DOTNET_NOLOGO=1 DOTNET_SKIP_FIRST_TIME_EXPERIENCE=1

nupkg=$(ls "$feed"/TuplePool.[0-9]*.nupkg 2>/dev/null | grep -v '\.symbols\.' | head -n 1)
if [ -z "$nupkg" ] || [ ! -f "$feed/TuplePool.Http.${nupkg#"$feed"/TuplePool.}" ]; then
  echo "package consumer: no TuplePool and TuplePool.Http package of one version in $feed" >&2
  exit 1
fi
version=${nupkg#"$feed"/TuplePool.}
version=${version%.nupkg}
echo "package consumer: TuplePool $version from $feed"

work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
cp -r "$repo/tests/TuplePool.PackageConsumer" "$work/consumer"
rm -rf "$work/consumer/bin" "$work/consumer/obj"

# The local folder first, then every source the repository's nuget.config names (it clears the
# machine's sources; so does this file).
{
  echo '<?xml version="1.0" encoding="utf-8"?>'
  echo '<configuration>'
  echo '  <packageSources>'
  echo '    <clear />'
  echo "    <add key=\"tuplepool-local\" value=\"$feed\" />"
  grep -E '^\s*<add key=' "$repo/nuget.config"
  echo '  </packageSources>'
  echo '</configuration>'
} > "$work/nuget.config"

# A package of the same version restored before (an earlier run of an uncommitted tree) would be
# taken from the global packages folder instead of the folder just packed.
packages=${NUGET_PACKAGES:-$HOME/.nuget/packages}
for pkg in "$feed"/*."$version".nupkg; do
  id=$(basename "$pkg" ".$version.nupkg")
  rm -rf "$packages/${id,,}/$version"
done

props=(-c Release -r linux-x64 -p:PublishAot=true -p:TuplePoolVersion="$version")
cd "$work/consumer" || exit 1

dotnet restore -r linux-x64 -p:PublishAot=true -p:TuplePoolVersion="$version" --configfile "$work/nuget.config" || {
  echo "package consumer: restore from $feed failed" >&2; exit 1; }

dotnet build "${props[@]}" --no-restore -o "$work/jit" || { echo "package consumer: build failed" >&2; exit 1; }
jit=$("$work/jit/TuplePool.PackageConsumer" 2>&1)
echo "$jit" | sed 's/^/  jit: /'
if [ "$(echo "$jit" | tail -n 1)" != "OK" ]; then
  echo "package consumer: the JIT run did not print OK" >&2
  exit 1
fi

log="$work/publish.log"
dotnet publish "${props[@]}" --no-restore -o "$work/aot" 2>&1 | tee "$log"
publish_status=${PIPESTATUS[0]}
# IlcTreatWarningsAsErrors and TreatWarningsAsErrors make them errors already; a warning that
# slips through (a tool that does not honour them) still fails here.
if grep -E ': warning [A-Z]+[0-9]+' "$log" >/dev/null; then
  echo "package consumer: the NativeAOT publish printed warnings:" >&2
  grep -E ': warning [A-Z]+[0-9]+' "$log" | sort -u >&2
  exit 1
fi
if [ "$publish_status" -ne 0 ] || [ ! -x "$work/aot/TuplePool.PackageConsumer" ]; then
  if ! command -v clang >/dev/null 2>&1; then
    echo "package consumer: NativeAOT needs clang and zlib1g-dev (apt-get install clang zlib1g-dev)" >&2
  fi
  echo "package consumer: the NativeAOT publish failed" >&2
  exit 1
fi
aot=$("$work/aot/TuplePool.PackageConsumer" 2>&1)
echo "$aot" | sed 's/^/  aot: /'
if [ "$(echo "$aot" | tail -n 1)" != "OK" ]; then
  echo "package consumer: the NativeAOT run did not print OK" >&2
  exit 1
fi
echo "package consumer: OK (JIT and NativeAOT, $(du -k "$work/aot/TuplePool.PackageConsumer" | cut -f1) KiB native executable)"
