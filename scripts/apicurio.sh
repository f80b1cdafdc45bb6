#!/usr/bin/env bash
# scripts/apicurio.sh - run a real schema registry for tests, CI and benchmarks: Apicurio Registry
# 3.x with in-memory storage and no Kafka, serving Confluent's schema registry API at
# http://127.0.0.1:$APICURIO_PORT/apis/ccompat/v7. Needs Java 21+ (Temurin 25 where installed);
# Maven only for the first run, which downloads the runnable distribution from Maven Central
# into .cache/apicurio (about 160 MB; later runs are offline).
#
# Usage: scripts/apicurio.sh COMMAND
#
#   up        start a fresh registry (stops one started earlier), wait until it answers
#             (timeout $APICURIO_START_TIMEOUT, 180 s), then set the global compatibility rule
#             to BACKWARD (Apicurio's default is NONE; Confluent's is BACKWARD); prints the URL
#   down      stop the registry started by this script (SIGTERM, SIGKILL after 20 s)
#   status    whether it runs, and its URL (exit 3 if not)
#   url       the Confluent-compatible URL, for schema_registry_url
#   fetch     only download and unpack the distribution (e.g. a CI cache step)
#
# Environment:
#   APICURIO_PORT           HTTP port (default 8081)
#   APICURIO_START_TIMEOUT  seconds to wait for it to answer (default 180)
#   APICURIO_HEAP_OPTS      heap (default "-Xms64m -Xmx384m")
#   APICURIO_JAVA           Java 21+ to run it with (default: Temurin 25 if installed, else java)
# The log is .cache/apicurio/registry.log.
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
VERSION=3.3.3
CACHE="$ROOT/.cache/apicurio"
TARBALL="$CACHE/apicurio-registry-app-$VERSION-all.tar.gz"
APP="$CACHE/app-$VERSION"
PIDFILE="$CACHE/registry.pid"
LOG="$CACHE/registry.log"
PORT="${APICURIO_PORT:-8081}"
START_TIMEOUT="${APICURIO_START_TIMEOUT:-180}"
read -r -a HEAP_OPTS <<<"${APICURIO_HEAP_OPTS:--Xms64m -Xmx384m}"
URL="http://127.0.0.1:$PORT/apis/ccompat/v7"

say() { echo "apicurio.sh: $*" >&2; }
die() { echo "apicurio.sh: error: $*" >&2; exit 1; }

java_bin() {
  if [[ -n "${APICURIO_JAVA:-}" ]]; then echo "$APICURIO_JAVA"; return; fi
  local t=/usr/lib/jvm/temurin-25-jdk-amd64/bin/java
  if [[ -x "$t" ]]; then echo "$t"; else echo java; fi
}

check_java() {
  local j v
  j="$(java_bin)"
  command -v "$j" >/dev/null 2>&1 || die "java not found: Apicurio Registry $VERSION needs Java 21 or newer (set APICURIO_JAVA)"
  v="$("$j" -version 2>&1 | sed -n 's/.*version "\([0-9]*\).*/\1/p' | head -1)"
  [[ -n "$v" && "$v" -ge 21 ]] || die "$j is Java ${v:-?}: Apicurio Registry $VERSION needs Java 21 or newer (set APICURIO_JAVA)"
}

fetch() {
  if [[ -f "$APP/quarkus-run.jar" ]]; then return; fi
  mkdir -p "$CACHE"
  if [[ ! -s "$TARBALL" ]]; then
    command -v mvn >/dev/null 2>&1 || die "mvn not found: install Apache Maven (apt-get install maven); it is needed once, to download Apicurio Registry $VERSION"
    say "downloading io.apicurio:apicurio-registry-app:$VERSION (tar.gz, classifier all) with Maven"
    mvn -q -B -Dstyle.color=never dependency:copy \
      -Dartifact="io.apicurio:apicurio-registry-app:$VERSION:tar.gz:all" -DoutputDirectory="$CACHE" >&2 ||
      die "mvn could not fetch io.apicurio:apicurio-registry-app:$VERSION (see above)"
  fi
  rm -rf "$APP.tmp" && mkdir -p "$APP.tmp"
  tar xzf "$TARBALL" -C "$APP.tmp"
  [[ -f "$APP.tmp/quarkus-run.jar" ]] || die "quarkus-run.jar is missing from $TARBALL"
  mv "$APP.tmp" "$APP"
}

running() { [[ -f "$PIDFILE" ]] && kill -0 "$(cat "$PIDFILE")" 2>/dev/null; }

down() {
  running || { rm -f "$PIDFILE"; return 0; }
  local pid i
  pid="$(cat "$PIDFILE")"
  kill "$pid" 2>/dev/null || true
  for ((i = 0; i < 200; i++)); do
    kill -0 "$pid" 2>/dev/null || break
    sleep 0.1
  done
  kill -0 "$pid" 2>/dev/null && kill -9 "$pid" 2>/dev/null || true
  rm -f "$PIDFILE"
  say "stopped"
}

up() {
  check_java
  fetch
  down
  local t0=$SECONDS
  # In-memory storage (the default: an H2 database in memory), no auth, no Kafka.
  (cd "$APP" && exec "$(java_bin)" "${HEAP_OPTS[@]}" -XX:+UseSerialGC -XX:TieredStopAtLevel=1 -XX:+ExitOnOutOfMemoryError \
    -Dquarkus.http.port="$PORT" -Dquarkus.http.host=127.0.0.1 -Dquarkus.log.level=WARN \
    -Dapicurio.rest.deletion.artifact.enabled=true -Dapicurio.rest.deletion.artifact-version.enabled=true \
    -jar quarkus-run.jar >"$LOG" 2>&1) &
  echo $! >"$PIDFILE"
  until curl -fsS -o /dev/null "$URL/subjects" 2>/dev/null; do
    running || die "the registry exited while starting; see ${LOG#"$ROOT"/}: $(tail -5 "$LOG")"
    ((SECONDS - t0 < START_TIMEOUT)) || { down; die "no answer at $URL after $START_TIMEOUT s; see ${LOG#"$ROOT"/}"; }
    sleep 0.3
  done
  curl -fsS -X PUT -H 'Content-Type: application/json' -d '{"compatibility":"BACKWARD"}' "$URL/config" >/dev/null ||
    die "could not set the global compatibility rule to BACKWARD"
  say "Apicurio Registry $VERSION ready in $((SECONDS - t0)) s, compatibility BACKWARD"
  echo "$URL"
}

case "${1:-}" in
  up) up ;;
  down) down ;;
  status) if running; then echo "running (pid $(cat "$PIDFILE")): $URL"; else echo "not running"; exit 3; fi ;;
  url) echo "$URL" ;;
  fetch) fetch && say "Apicurio Registry $VERSION in ${APP#"$ROOT"/}" ;;
  *) sed -n '2,/^set -euo/{/^set -euo/d;s/^# \{0,1\}//;p}' "${BASH_SOURCE[0]}"; exit 2 ;;
esac
