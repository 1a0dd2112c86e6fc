#!/usr/bin/env bash
# Runs the whole test suite on a fresh Debian or Ubuntu machine.
#  1. Installs the real servers the tests talk to on loopback when they are missing
#     (tinyproxy, microsocks, redis-server) with apt-get (through sudo when not root).
#  2. Runs the architecture check (tools/architecture-check.cs), then `dotnet test` on the solution.
#  3. Prints the totals of all test projects as one line: "N passed, N failed, N skipped".
# Set CI=true to make tests that need a missing server fail instead of being skipped.
set -uo pipefail
cd "$(dirname "$0")"

packages=(tinyproxy microsocks redis-server)
binaries=(tinyproxy microsocks redis-server)

missing=()
for i in "${!binaries[@]}"; do
  command -v "${binaries[$i]}" >/dev/null 2>&1 || missing+=("${packages[$i]}")
done

if [ ${#missing[@]} -gt 0 ]; then
  if command -v apt-get >/dev/null 2>&1; then
    sudo=""
    if [ "$(id -u)" -ne 0 ]; then
      if command -v sudo >/dev/null 2>&1; then sudo="sudo"; else
        echo "test.sh: need root or sudo to install: ${missing[*]}" >&2
      fi
    fi
    echo "test.sh: installing ${missing[*]} with apt-get"
    export DEBIAN_FRONTEND=noninteractive
    $sudo apt-get update -qq || echo "test.sh: apt-get update failed" >&2
    $sudo apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null \
      || echo "test.sh: could not install ${missing[*]}; tests that need them are skipped (they fail when CI=true)" >&2
  else
    echo "test.sh: not a Debian/Ubuntu system; install these yourself for the full suite: ${missing[*]}" >&2
  fi
fi

if ! command -v dotnet >/dev/null 2>&1; then
  echo "test.sh: the .NET 10 SDK is required (https://dotnet.microsoft.com/download); 'dotnet' is not on PATH." >&2
  exit 2
fi

# The architecture check (tools/architecture-check.cs): largest files and room dependencies; fails on a back edge
# between rooms or a file over the bound that is not a known debt in tools/architecture-baseline.txt.
dotnet run tools/architecture-check.cs
architecture=$?

log=$(mktemp)
trap 'rm -f "$log"' EXIT

# A test that hangs is aborted after 10 minutes (its process is dumped and the run fails) instead of holding CI.
dotnet test ProxyScheduler.sln -c Release --nologo --blame-hang-timeout 10m "$@" 2>&1 | tee "$log"
status=${PIPESTATUS[0]}

# Each test project prints a summary such as:
#   Passed!  - Failed:     0, Passed:    65, Skipped:     0, Total:    65, Duration: 2 s - X.dll (net10.0)
totals=$(grep -E '(Passed|Failed)! +- +Failed: +[0-9]+, +Passed: +[0-9]+, +Skipped: +[0-9]+' "$log" \
  | sed -E 's/.*Failed: +([0-9]+), +Passed: +([0-9]+), +Skipped: +([0-9]+).*/\1 \2 \3/' \
  | awk '{ f += $1; p += $2; s += $3 } END { printf "%d passed, %d failed, %d skipped\n", p, f, s }')
projects=$(grep -cE '(Passed|Failed)! +- +Failed:' "$log" || true)

echo
if [ "${projects:-0}" -eq 0 ]; then
  echo "test.sh: no test project reported results" >&2
  echo "0 passed, 0 failed, 0 skipped"
  [ "$status" -eq 0 ] && status=1
else
  echo "$totals"
fi
if [ "$architecture" -ne 0 ]; then
  echo "test.sh: the architecture check failed (see its output above)" >&2
  [ "$status" -eq 0 ] && status=1
fi
exit "$status"
