#!/usr/bin/env bash
# The one command that runs the whole test suite, against both backends:
#   scripts/test.sh [extra nextest args]
# It starts a throwaway PostgreSQL cluster (scripts/with-postgres.sh), so the
# store contract tests run on SQLite and on Postgres, then tears it down.
# Python client compatibility checks (pyairtable, notion-client against the
# sandbox) run too when python3 is present; set SKIP_COMPAT=1 to skip them.
set -euo pipefail
cd "$(dirname "$0")/.."

# One dev build of everything (the binary the tests spawn, the tests, the
# bench harness); nextest below reuses it.
cargo build --workspace --all-targets --locked

if [[ "${SKIP_COMPAT:-0}" != "1" ]]; then
  if command -v python3 >/dev/null; then
    BIN="$PWD/target/debug/notion-airtable-sync" tests/compat/run.sh
  else
    echo "python3 not found: skipping the Python client compatibility checks" >&2
  fi
fi

# nextest runs every test in a process of its own, which the suite relies on:
# the integration tests are one binary (tests/it), and some of them read
# process-wide state (the metrics registry, a captured log).
if ! cargo nextest --version >/dev/null 2>&1; then
  echo "cargo-nextest not found: cargo install --locked cargo-nextest" >&2
  exit 1
fi
exec scripts/with-postgres.sh cargo nextest run --workspace --locked --no-fail-fast "$@"
