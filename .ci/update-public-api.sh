#!/usr/bin/env bash
# Rewrites src/*/PublicAPI.Unshipped.txt from the code, for every packable library under src/.
#
#   bash .ci/update-public-api.sh          # rewrite, then show what changed (git diff --stat)
#   bash .ci/update-public-api.sh --check  # rewrite into a scratch copy; exit 1 if a file would change
#
# Run it after merging a branch that adds, changes or removes public API, review the diff, commit.
# The build enforces the files (RS0016: public symbol not listed, RS0017: listed symbol gone; both
# errors under TreatWarningsAsErrors), so a stale file fails CI.
#
# How: each Unshipped file is reset to its header and the analyzer's own code fixes are applied
# with `dotnet format analyzers` (RS0016 adds every public symbol not in Shipped, RS0017 marks
# Shipped symbols that are gone as *REMOVED*). Starting from the header drops lines a merge
# duplicated or left behind. PublicAPI.Shipped.txt is never touched: move lines there by hand
# when a version is released. A new library (OutputType Library, IsPackable true) gets both files.
set -uo pipefail
cd "$(dirname "$0")/.."

export DOTNET_CLI_TELEMETRY_OPTOUT=1 DOTNET_NOLOGO=1 DOTNET_SKIP_FIRST_TIME_EXPERIENCE=1

check=false
case "${1:-}" in
  --check) check=true ;;
  "") ;;
  *) echo "usage: $0 [--check]" >&2; exit 2 ;;
esac

header='#nullable enable'
projects=()
for proj in src/*/*.csproj; do
  props=$(dotnet msbuild "$proj" -getProperty:OutputType -getProperty:IsPackable 2>/dev/null) || {
    echo "cannot evaluate $proj" >&2; exit 1; }
  if grep -q '"OutputType": "Library"' <<<"$props" && grep -q '"IsPackable": "true"' <<<"$props"; then
    projects+=("$proj")
  fi
done
if [ ${#projects[@]} -eq 0 ]; then
  echo "no packable library under src/" >&2
  exit 1
fi

backup=$(mktemp -d)
trap 'rm -rf "$backup"' EXIT
for proj in "${projects[@]}"; do
  dir=$(dirname "$proj")
  mkdir -p "$backup/$dir"
  for f in PublicAPI.Shipped.txt PublicAPI.Unshipped.txt; do
    if [ -f "$dir/$f" ]; then cp "$dir/$f" "$backup/$dir/$f"; fi
  done
  [ -f "$dir/PublicAPI.Shipped.txt" ] || { echo "$dir: new library, creating PublicAPI.Shipped.txt"; echo "$header" > "$dir/PublicAPI.Shipped.txt"; }
  echo "$header" > "$dir/PublicAPI.Unshipped.txt"
done

# The analyzer package is referenced only where PublicAPI.Shipped.txt exists: restore after creating it.
dotnet restore TuplePool.sln >/dev/null || { echo "restore failed" >&2; exit 1; }

status=0
for proj in "${projects[@]}"; do
  echo "== $proj"
  # The fixes for both target frameworks land in the one file; the fixer merges duplicates.
  if ! dotnet format analyzers "$proj" --diagnostics RS0016 RS0017 --severity warn --no-restore >/dev/null; then
    echo "dotnet format failed for $proj" >&2
    status=1
  fi
done

# dotnet format writes only where it fixed something; the Shipped files must stay as they were.
changed=()
for proj in "${projects[@]}"; do
  dir=$(dirname "$proj")
  for f in PublicAPI.Shipped.txt PublicAPI.Unshipped.txt; do
    # Compared as sets of lines: the order of entries carries no meaning for the analyzer.
    if ! cmp -s <(sort "$dir/$f") <(sort "$backup/$dir/$f" 2>/dev/null); then changed+=("$dir/$f"); fi
  done
done

if $check; then
  # Put everything back: --check reports, it does not edit.
  for proj in "${projects[@]}"; do
    dir=$(dirname "$proj")
    for f in PublicAPI.Shipped.txt PublicAPI.Unshipped.txt; do
      if [ -f "$backup/$dir/$f" ]; then cp "$backup/$dir/$f" "$dir/$f"; else rm -f "$dir/$f"; fi
    done
  done
  if [ ${#changed[@]} -gt 0 ]; then
    printf 'public API files out of date (run bash .ci/update-public-api.sh): %s\n' "${changed[*]}" >&2
    exit 1
  fi
  echo "public API files up to date"
  exit "$status"
fi

if [ ${#changed[@]} -gt 0 ]; then
  printf 'updated: %s\n' "${changed[*]}"
  git --no-pager diff --stat -- "${changed[@]}" 2>/dev/null || true
else
  echo "public API files already up to date"
fi
exit "$status"
