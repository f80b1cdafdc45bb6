#!/usr/bin/env bash
# scripts/postgres.sh - run a throwaway PostgreSQL server for tests and CI, from the machine's
# Debian package (no Docker). Installs the `postgresql` package with apt-get when it is missing
# (as root). The server runs as the invoking user, or as the `postgres` user when run as root
# (PostgreSQL refuses to run as root); it listens on 127.0.0.1 only and trusts local connections.
#
# Usage: scripts/postgres.sh COMMAND
#
#   up        fresh server on 127.0.0.1:$POSTGRES_PORT (15432): stops one started earlier, wipes
#             .cache/postgres/data, runs initdb, starts, creates database "conveyor", waits until
#             it answers, and prints the DSN (also written to .cache/postgres/dsn)
#   down      stop the server (fast shutdown); the data stays until the next up
#   restart   stop and start it again with its data (what a reconnect test needs)
#   status    running or not (exit 3 if not)
#   dsn       print the DSN
#
# Everything goes under .cache/postgres/ (git-ignored): data/, postgres.log, sock/, dsn.
# For the tests: POSTGRES_DSN="$(scripts/postgres.sh dsn)" go test -count=1 -v -run SQL ./connectors/sql
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
DIR="$ROOT/.cache/postgres"
DATA="$DIR/data"
SOCK="$DIR/sock"
LOG="$DIR/postgres.log"
PORT="${POSTGRES_PORT:-15432}"
DB=conveyor
USER_NAME=conveyor
DSN="postgres://$USER_NAME@127.0.0.1:$PORT/$DB?sslmode=disable"

say() { echo "postgres.sh: $*" >&2; }
die() { echo "postgres.sh: error: $*" >&2; exit 1; }
usage() { sed -n '2,/^set -euo/{/^set -euo/d;s/^# \{0,1\}//;p}' "${BASH_SOURCE[0]}"; }

BIN=
find_bin() {
  BIN="$(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -n 1 || true)"
  [[ -n "$BIN" && -x "$BIN/initdb" ]]
}

need_bin() {
  find_bin && return 0
  if [[ $(id -u) -eq 0 ]] && command -v apt-get >/dev/null 2>&1; then
    say "installing the postgresql package (apt-get)"
    DEBIAN_FRONTEND=noninteractive apt-get install -y -q postgresql >&2 ||
      { apt-get update -q >&2 && DEBIAN_FRONTEND=noninteractive apt-get install -y -q postgresql >&2; } ||
      die "apt-get install postgresql failed"
    find_bin || die "postgresql installed, but no /usr/lib/postgresql/*/bin/initdb"
    return 0
  fi
  die "PostgreSQL not found under /usr/lib/postgresql/*/bin: install it (Debian/Ubuntu: apt-get install postgresql)"
}

# as_owner CMD...: run as the server's owner (postgres when we are root).
as_owner() {
  if [[ $(id -u) -eq 0 ]]; then
    runuser -u postgres -- "$@"
  else
    "$@"
  fi
}

running() { [[ -f "$DATA/postmaster.pid" ]] && as_owner "$BIN/pg_ctl" -D "$DATA" status >/dev/null 2>&1; }

cmd_down() {
  find_bin || { echo "no PostgreSQL installed"; return 0; }
  if running; then
    as_owner "$BIN/pg_ctl" -D "$DATA" stop -m fast -w -t 30 >/dev/null
    echo "PostgreSQL on 127.0.0.1:$PORT stopped"
  else
    echo "no PostgreSQL started by postgres.sh is running"
  fi
}

cmd_up() {
  need_bin
  local t0=$SECONDS
  running && cmd_down >/dev/null
  if (exec 3<>"/dev/tcp/127.0.0.1/$PORT") 2>/dev/null; then
    die "something else listens on 127.0.0.1:$PORT: stop it, or set POSTGRES_PORT"
  fi
  rm -rf "$DATA" "$SOCK"
  mkdir -p "$DATA" "$SOCK"
  if [[ $(id -u) -eq 0 ]]; then
    id postgres >/dev/null 2>&1 || die "running as root needs the postgres user (created by the postgresql package)"
    chown postgres "$DIR" "$DATA" "$SOCK"
  fi
  as_owner "$BIN/initdb" -D "$DATA" -U "$USER_NAME" --auth=trust -E UTF8 --locale=C.UTF-8 --no-sync >"$DIR/initdb.log" 2>&1 ||
    { cat "$DIR/initdb.log" >&2; die "initdb failed"; }
  : >"$LOG"
  [[ $(id -u) -eq 0 ]] && chown postgres "$LOG"
  if ! as_owner "$BIN/pg_ctl" -D "$DATA" -l "$LOG" -w -t 60 start \
    -o "-p $PORT -c listen_addresses=127.0.0.1 -k $SOCK -c max_connections=200" >/dev/null; then
    tail -n 30 "$LOG" >&2
    die "the server did not start (log: ${LOG#"$ROOT"/})"
  fi
  as_owner "$BIN/createdb" -h 127.0.0.1 -p "$PORT" -U "$USER_NAME" "$DB"
  echo "$DSN" >"$DIR/dsn"
  echo "PostgreSQL $("$BIN/postgres" -V | awk '{print $3}') up on 127.0.0.1:$PORT in $((SECONDS - t0)) s (data in ${DATA#"$ROOT"/}, log ${LOG#"$ROOT"/})"
  echo "POSTGRES_DSN=$DSN"
}

cmd_restart() {
  find_bin && running || die "no PostgreSQL started by postgres.sh is running (scripts/postgres.sh up)"
  as_owner "$BIN/pg_ctl" -D "$DATA" -l "$LOG" -w -t 60 restart -m fast \
    -o "-p $PORT -c listen_addresses=127.0.0.1 -k $SOCK -c max_connections=200" >/dev/null ||
    { tail -n 30 "$LOG" >&2; die "the server did not restart"; }
  echo "PostgreSQL on 127.0.0.1:$PORT restarted"
}

cmd_status() {
  if find_bin && running; then
    echo "PostgreSQL running on 127.0.0.1:$PORT (data in ${DATA#"$ROOT"/}); POSTGRES_DSN=$DSN"
  else
    echo "PostgreSQL: not running (start it with: scripts/postgres.sh up)"
    return 3
  fi
}

case "${1:-help}" in
up) cmd_up ;;
down) cmd_down ;;
restart) cmd_restart ;;
status) cmd_status ;;
dsn) echo "$DSN" ;;
help | -h | --help) usage ;;
*)
  usage >&2
  exit 2
  ;;
esac
