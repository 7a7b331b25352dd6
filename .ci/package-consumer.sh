#!/usr/bin/env bash
# Proves the packages work outside the solution, installed the way README.md says:
#   bash .ci/package-consumer.sh <folder with the .nupkg files>
# 1. The folder holds one version of every package (one version per build, Directory.Build.props).
# 2. Copies tests/TuplePool.PackageConsumer out of the repository and runs in it the README's
#    "Install" lines for your project's folder, with feed= that folder: a nuget.config of its own
#    naming the folder by absolute path, then dotnet add package --prerelease, which must take the
#    folder's version (and TuplePool.Http's dependency on TuplePool must name that version too).
# 3. Runs it (JIT), publishes it with PublishAot=true (any trimming or AOT warning fails) and runs
#    the native executable. Each run leases a socket on loopback from a listener it opens below
#    port 32768 and must print OK.
# 4. Runs the README's doctor install lines (feed= the folder, HOME and the NuGet cache scratch
#    folders) and the installed doctor; as root inside a network namespace with nothing but lo,
#    so the lines are proven to need no network (not root: on the host's network).
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

# Every package of one pack carries one version: a stamp taken per project would differ.
for pkg in "$feed"/*.nupkg; do
  case "$(basename "$pkg")" in
    *."$version".nupkg) ;;
    *) echo "package consumer: $(basename "$pkg") is not of version $version (one pack, one version)" >&2; exit 1 ;;
  esac
done

work=$(mktemp -d)
netns=""
cleanup() {
  [ -n "$netns" ] && ip netns delete "$netns" 2>/dev/null
  rm -rf "$work"
}
trap cleanup EXIT
cp -r "$repo/tests/TuplePool.PackageConsumer" "$work/consumer"
rm -rf "$work/consumer/bin" "$work/consumer/obj"

# The lines of README.md's bash block in section $1 that follow the first line matching $2 (that
# line too when $3 is "with"), without comments, blank lines and the feed= assignment (feed is
# the folder given here).
readme_lines() {
  awk -v section="$1" -v from="$2" -v with="${3:-}" '
    /^## / { in_section = ($0 == "## " section) }
    in_section && /^```bash$/ { in_block = 1; started = 0; next }
    in_block && /^```$/ { in_block = 0; if (started) exit; next }
    in_block && !started && $0 ~ from { started = 1; if (with != "with") next }
    in_block && started && $0 !~ /^[[:space:]]*(#|$)/ && $0 !~ /^feed=/ { print }
  ' "$repo/README.md"
}

# A package of the same version restored before (an earlier run of an uncommitted tree under
# CI=true, whose version does not change) would be taken from the global packages folder instead
# of the folder just packed.
packages=${NUGET_PACKAGES:-$HOME/.nuget/packages}
for pkg in "$feed"/*."$version".nupkg; do
  id=$(basename "$pkg" ".$version.nupkg")
  rm -rf "$packages/${id,,}/$version"
done

install=$(readme_lines "Install" "^# In your project's folder")
if ! grep -q '^dotnet add package TuplePool ' <<<"$install"; then
  echo "package consumer: no install lines found in README.md (section Install, after \"# In your project's folder\")" >&2
  exit 1
fi
echo "package consumer: README.md's install lines, in the consumer's folder:"
sed 's/^/  $ /' <<<"$install"
(cd "$work/consumer" && feed="$feed" bash -euo pipefail -c "$install") || {
  echo "package consumer: README.md's install lines failed" >&2; exit 1; }
for id in TuplePool TuplePool.Http; do
  if ! grep -q "<PackageReference Include=\"$id\" Version=\"$version\"" "$work/consumer/TuplePool.PackageConsumer.csproj"; then
    echo "package consumer: dotnet add package $id --prerelease did not take $version:" >&2
    grep PackageReference "$work/consumer/TuplePool.PackageConsumer.csproj" >&2
    exit 1
  fi
done
if ! grep -A6 "\"TuplePool.Http/$version\": {" "$work/consumer/obj/project.assets.json" | grep -q "\"TuplePool\": \"$version\""; then
  echo "package consumer: TuplePool.Http $version does not depend on TuplePool $version" >&2
  exit 1
fi

props=(-c Release -r linux-x64 -p:PublishAot=true)
cd "$work/consumer" || exit 1

dotnet restore -r linux-x64 -p:PublishAot=true || {
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
aot_kib=$(du -k "$work/aot/TuplePool.PackageConsumer" | cut -f1)

# The doctor, installed as README.md says, with an empty NuGet cache and a scratch HOME; offline
# in a network namespace of its own when we may make one.
doctor=$(readme_lines "Doctor" "^dotnet tool update TuplePool.Doctor " with)
if ! grep -q '^dotnet tool update TuplePool.Doctor ' <<<"$doctor"; then
  echo "package consumer: no doctor install lines found in README.md (section Doctor)" >&2
  exit 1
fi
mkdir -p "$work/home"
run=()
where="on this host's network"
if [ "$(id -u)" -eq 0 ] && command -v ip >/dev/null 2>&1; then
  netns="tp-consumer-$$-1"
  if ip netns add "$netns" && ip netns exec "$netns" ip link set lo up; then
    run=(ip netns exec "$netns")
    where="offline: network namespace $netns, lo only"
  else
    netns=""
  fi
fi
echo "package consumer: README.md's doctor lines ($where):"
sed 's/^/  $ /' <<<"$doctor"
# Each dotnet line must succeed; the doctor itself exits 0, or 1 when it judges something "fail".
doctor_out=$(cd "$work/consumer" && "${run[@]}" env HOME="$work/home" NUGET_PACKAGES="$work/home/nuget-packages" feed="$feed" \
  bash -uo pipefail -c 'while IFS= read -r line; do
      eval "$line"; status=$?
      case "$line" in
        dotnet\ *) [ "$status" -eq 0 ] || { echo "FAILED ($status): $line"; exit 1; } ;;
        *) [ "$status" -le 1 ] || { echo "FAILED ($status): $line"; exit 1; } ;;
      esac
    done' <<<"$doctor" 2>&1)
doctor_status=$?
echo "$doctor_out" | sed 's/^/  doctor: /'
if [ "$doctor_status" -ne 0 ] || ! grep -Eq "Tool 'tuplepool.doctor' \(version '$version'\)" <<<"$doctor_out" \
   || ! grep -Eq '^[0-9]+ ok, [0-9]+ warn, [0-9]+ fail' <<<"$doctor_out"; then
  echo "package consumer: README.md's doctor lines did not install TuplePool.Doctor $version and run it" >&2
  exit 1
fi

echo "package consumer: OK (README install lines, JIT and NativeAOT, $aot_kib KiB native executable; doctor $where)"
