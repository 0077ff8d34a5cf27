#!/usr/bin/env bash
# The one command that runs the whole test suite, against both backends:
#   scripts/test.sh [extra nextest args]
# It starts a throwaway PostgreSQL cluster (scripts/with-postgres.sh), so the
# store contract tests run on SQLite and on Postgres, then tears it down.
# Python client compatibility checks (pyairtable, notion-client against the
# sandbox) run too when python3 is present; set SKIP_COMPAT=1 to skip them.
set -euo pipefail
cd "$(dirname "$0")/.."

cargo build --workspace --all-targets --locked

if [[ "${SKIP_COMPAT:-0}" != "1" ]]; then
  if command -v python3 >/dev/null; then
    BIN="$PWD/target/debug/notion-airtable-sync" tests/compat/run.sh
  else
    echo "python3 not found: skipping the Python client compatibility checks" >&2
  fi
fi

if cargo nextest --version >/dev/null 2>&1; then
  runner=(cargo nextest run --workspace --locked --no-fail-fast)
else
  echo "cargo-nextest not found: using cargo test" >&2
  runner=(cargo test --workspace --locked --no-fail-fast)
fi
exec scripts/with-postgres.sh "${runner[@]}" "$@"
