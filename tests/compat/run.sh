#!/usr/bin/env bash
# Clients written by others against the sandbox: pyairtable and the official
# Notion Python SDK. Creates a throwaway venv, starts
# `notion-airtable-sync sandbox --seed team` on free ports, runs both checks,
# and stops the sandbox.
#
#   tests/compat/run.sh              # uses target/debug/notion-airtable-sync
#   BIN=path/to/binary tests/compat/run.sh
set -euo pipefail

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
root="$(cd "$here/../.." && pwd)"
bin="${BIN:-$root/target/debug/notion-airtable-sync}"
[ -x "$bin" ] || { echo "no binary at $bin (run cargo build, or set BIN)" >&2; exit 1; }

work="$(mktemp -d)"
sandbox_pid=""
cleanup() {
  if [ -n "$sandbox_pid" ]; then kill "$sandbox_pid" 2>/dev/null || true; wait "$sandbox_pid" 2>/dev/null || true; fi
  rm -rf "$work"
}
trap cleanup EXIT

python3 -m venv "$work/venv"
"$work/venv/bin/pip" install --quiet --disable-pip-version-check pyairtable notion-client

# A short Airtable penalty so that pyairtable's own 429 retries can recover.
"$bin" sandbox --seed team --notion-port 0 --airtable-port 0 --airtable-penalty-secs 1 \
  >"$work/sandbox.out" 2>"$work/sandbox.err" &
sandbox_pid=$!

for _ in $(seq 1 100); do   # up to 10 s for the JSON line
  grep -q '^{' "$work/sandbox.out" 2>/dev/null && break
  kill -0 "$sandbox_pid" 2>/dev/null || { cat "$work/sandbox.err" >&2; exit 1; }
  sleep 0.1
done
info="$(grep -m1 '^{' "$work/sandbox.out")" || { echo "the sandbox printed no JSON line" >&2; exit 1; }

export SANDBOX_INFO="$info"
status=0
for check in pyairtable_check.py notion_sdk_check.py; do
  if ! (cd "$here" && "$work/venv/bin/python" "$check"); then
    echo "$check failed" >&2
    status=1
  fi
done
exit $status
