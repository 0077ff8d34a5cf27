#!/usr/bin/env bash
# The benchmark harness (issue 6), the one documented command:
#   scripts/bench.sh [--quick] [--only ingest,propagation,calls,sync,burst,seed-sync]
#
# Builds the release binary, then runs benches/harness against the sandbox
# servers with a throwaway PostgreSQL cluster (scripts/with-postgres.sh) for
# the Postgres figures, and prints one table: figure | setting | measured |
# target | bound | met?, then the side-by-side with the team's original
# polling script (../shared/peers/seed-sync, when it is there). The table is
# also written to target/bench-report.md; progress goes to stderr.
#
# --quick: shorter runs and smaller N, for development (about 6 minutes);
# the full run takes about 14 minutes. SKIP_POSTGRES=1 runs without
# PostgreSQL (its figures are printed as skipped).
set -euo pipefail
cd "$(dirname "$0")/.."

cargo build --release --locked
bin="$PWD/target/release/notion-airtable-sync"
# Build the harness before the timed part starts.
cargo bench --locked --bench harness --no-run

report=target/bench-report.md
run=(cargo bench --locked --quiet --bench harness -- --serve-bin "$bin" "$@")
if [[ "${SKIP_POSTGRES:-0}" == "1" ]]; then
  "${run[@]}" | tee "$report"
else
  scripts/with-postgres.sh "${run[@]}" | tee "$report"
fi
echo "bench: table written to $report" >&2
