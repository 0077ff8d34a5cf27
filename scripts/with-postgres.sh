#!/usr/bin/env bash
# Run a command with a throwaway PostgreSQL cluster:
#   scripts/with-postgres.sh CMD [ARGS...]
# e.g. scripts/with-postgres.sh cargo nextest run --test it store_contract::
#
# Creates a cluster in a fresh temporary folder (trust auth, no fsync: the
# data is thrown away; PG_DURABLE=1 keeps PostgreSQL's durable defaults,
# fsync, synchronous_commit and full_page_writes on, as a user runs it and
# as the benchmarks measure), starts it on a free port of 127.0.0.1, exports
# TEST_POSTGRES_URL=postgres://postgres@127.0.0.1:PORT/postgres (a superuser:
# each test creates its own database), runs CMD, then stops the cluster and
# deletes the folder whatever happens. Exits with CMD's status.
#
# PostgreSQL refuses to run as root, so as root the server runs as the
# `postgres` system user (created if missing); CMD still runs as the caller.
set -euo pipefail

die() {
  echo "with-postgres: $*" >&2
  exit 1
}

[[ $# -ge 1 ]] || die "usage: scripts/with-postgres.sh CMD [ARGS...]"

# The server binaries: pg_config's bindir, else the newest /usr/lib/postgresql/*/bin.
find_bindir() {
  local dir
  if command -v pg_config >/dev/null 2>&1; then
    dir=$(pg_config --bindir 2>/dev/null || true)
    if [[ -x "$dir/initdb" && -x "$dir/pg_ctl" ]]; then
      echo "$dir"
      return 0
    fi
  fi
  dir=$(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -n 1)
  if [[ -n "$dir" && -x "$dir/initdb" && -x "$dir/pg_ctl" ]]; then
    echo "$dir"
    return 0
  fi
  return 1
}

bindir=$(find_bindir) ||
  die "PostgreSQL server binaries not found; install postgresql (apt-get install postgresql)"

# As root, run the server's commands as an unprivileged user.
server_user=""
if [[ $(id -u) -eq 0 ]]; then
  server_user=postgres
  if ! id -u "$server_user" >/dev/null 2>&1; then
    useradd --system --no-create-home --shell /usr/sbin/nologin "$server_user" ||
      die "cannot create the '$server_user' user to run PostgreSQL (it refuses to run as root)"
  fi
fi

# (From inside the temporary folder: the server user may not be allowed into
# the caller's working directory.)
as_server() {
  if [[ -z "$server_user" ]]; then
    "$@"
  elif command -v runuser >/dev/null 2>&1; then
    (cd "$tmp" && runuser -u "$server_user" -- "$@")
  else
    (cd "$tmp" && su -s /bin/sh "$server_user" -c "$(printf '%q ' "$@")")
  fi
}

tmp=$(mktemp -d "${TMPDIR:-/tmp}/with-postgres.XXXXXX")
data="$tmp/data"
[[ -n "$server_user" ]] && chown "$server_user" "$tmp"

cleanup() {
  if [[ -f "$data/postmaster.pid" ]]; then
    as_server "$bindir/pg_ctl" -D "$data" -m immediate -w stop >/dev/null 2>&1 || true
  fi
  rm -rf "$tmp"
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

free_port() {
  if command -v python3 >/dev/null 2>&1; then
    python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'
    return
  fi
  local port
  while :; do
    port=$((20000 + RANDOM % 40000))
    # Nothing answers on it: free (enough; a lost race is retried below).
    if ! (exec 3<>"/dev/tcp/127.0.0.1/$port") 2>/dev/null; then
      echo "$port"
      return
    fi
  done
}

as_server "$bindir/initdb" -D "$data" -U postgres --auth=trust --no-sync \
  --encoding=UTF8 --locale=C >"$tmp/initdb.log" 2>&1 ||
  { cat "$tmp/initdb.log" >&2; die "initdb failed"; }

# Start on a free port; another process may grab the port between the pick
# and the bind, so try a few.
durability="-c fsync=off -c synchronous_commit=off -c full_page_writes=off"
[[ "${PG_DURABLE:-0}" == "1" ]] && durability=""
start_server() {
  local port=$1
  log="$tmp/server-$port.log"
  as_server "$bindir/pg_ctl" -D "$data" -l "$log" -W \
    -o "-p $port -c listen_addresses=127.0.0.1 -c unix_socket_directories=$tmp \
        $durability -c max_connections=200" start >/dev/null
  local deadline=$((SECONDS + 30))
  while ((SECONDS < deadline)); do
    if "$bindir/pg_isready" -q -h 127.0.0.1 -p "$port" -U postgres -d postgres; then
      return 0
    fi
    # The port was taken after all: no point waiting.
    if grep -qE 'could not (bind|create any TCP/IP sockets)' "$log" 2>/dev/null; then
      return 1
    fi
    sleep 0.1
  done
  return 1
}

port=""
log=""
for _ in 1 2 3 4 5; do
  candidate=$(free_port)
  if start_server "$candidate"; then
    port=$candidate
    break
  fi
  as_server "$bindir/pg_ctl" -D "$data" -m immediate -w stop >/dev/null 2>&1 || true
done
if [[ -z "$port" ]]; then
  [[ -n "$log" ]] && tail -n 20 "$log" >&2
  die "PostgreSQL did not become ready"
fi

export TEST_POSTGRES_URL="postgres://postgres@127.0.0.1:$port/postgres"
echo "with-postgres: PostgreSQL $("$bindir/postgres" --version | awk '{print $3}') ready at $TEST_POSTGRES_URL" >&2

# The command runs in the background so that a signal to this script is
# handled at once (bash runs traps only between foreground commands): the
# command is stopped, then the cluster. Its stdin stays the caller's.
"$@" <&0 &
child=$!
stop_child() {
  kill -TERM "$child" 2>/dev/null || true
  wait "$child" 2>/dev/null || true
  exit "$1"
}
trap 'stop_child 130' INT
trap 'stop_child 143' TERM
set +e
wait "$child"
status=$?
set -e
exit "$status"
