#!/usr/bin/env bash
# scripts/prometheus.sh - run a throwaway Prometheus server (Debian's `prometheus` package) that
# scrapes given targets every second, for tests and CI. Its config and data live in a temporary
# directory, removed by `down`.
#
# Usage: scripts/prometheus.sh COMMAND [ARGS]
#
#   install              apt-get install prometheus (which brings promtool) when it is missing
#   up HOST:PORT...      install if needed, write a config scraping the targets every 1 s (job
#                        "conveyor"), start Prometheus on 127.0.0.1:$PROMETHEUS_PORT, and wait
#                        until it is ready (timeout $PROMETHEUS_START_TIMEOUT, 30 s)
#   down                 stop the server started by up (SIGTERM, SIGKILL after 10 s), remove its directory
#   query EXPR           instant query through the HTTP API; prints the JSON answer
#   url                  the server's base URL
#
# Environment:
#   PROMETHEUS_PORT           port to serve on (default 9090)
#   PROMETHEUS_DIR            config, data, log and pid (default .cache/prometheus; removed by down)
#   PROMETHEUS_START_TIMEOUT  seconds to wait for the server to be ready (default 30)
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
PORT="${PROMETHEUS_PORT:-9090}"
DIR="${PROMETHEUS_DIR:-$ROOT/.cache/prometheus}"
START_TIMEOUT="${PROMETHEUS_START_TIMEOUT:-30}"
URL="http://127.0.0.1:$PORT"

say() { echo "prometheus.sh: $*" >&2; }
die() { echo "prometheus.sh: error: $*" >&2; exit 1; }

install() {
  if command -v prometheus >/dev/null && command -v promtool >/dev/null; then
    return
  fi
  say "installing Debian's prometheus package"
  local sudo=()
  [ "$(id -u)" = 0 ] || sudo=(sudo)
  "${sudo[@]}" env DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends prometheus >/dev/null ||
    { "${sudo[@]}" apt-get update >/dev/null && "${sudo[@]}" env DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends prometheus >/dev/null; } ||
    die "apt-get install prometheus failed"
}

up() {
  [ $# -gt 0 ] || die "up: name at least one HOST:PORT to scrape"
  install
  down 2>/dev/null || true
  mkdir -p "$DIR/data"
  local targets
  targets=$(printf "'%s', " "$@")
  cat >"$DIR/prometheus.yml" <<YML
global:
  scrape_interval: 1s
  scrape_timeout: 1s
  evaluation_interval: 1s
scrape_configs:
  - job_name: conveyor
    static_configs:
      - targets: [${targets%, }]
YML
  prometheus --config.file="$DIR/prometheus.yml" --storage.tsdb.path="$DIR/data" \
    --web.listen-address="127.0.0.1:$PORT" --storage.tsdb.retention.time=1h >"$DIR/prometheus.log" 2>&1 &
  echo $! >"$DIR/pid"
  local deadline=$((SECONDS + START_TIMEOUT))
  until curl -fsS "$URL/-/ready" >/dev/null 2>&1; do
    if ! kill -0 "$(cat "$DIR/pid")" 2>/dev/null; then
      tail -n 20 "$DIR/prometheus.log" >&2
      die "prometheus exited; log above"
    fi
    ((SECONDS < deadline)) || die "prometheus not ready on $URL after ${START_TIMEOUT}s"
    sleep 0.2
  done
  say "ready on $URL, scraping $* every 1s ($(prometheus --version 2>&1 | head -n 1))"
}

down() {
  [ -f "$DIR/pid" ] || return 0
  local pid
  pid=$(cat "$DIR/pid")
  if kill "$pid" 2>/dev/null; then
    for _ in $(seq 100); do
      kill -0 "$pid" 2>/dev/null || break
      sleep 0.1
    done
    kill -9 "$pid" 2>/dev/null || true
  fi
  rm -rf "$DIR"
}

query() {
  [ $# -eq 1 ] || die "query: want one PromQL expression"
  curl -fsS --get "$URL/api/v1/query" --data-urlencode "query=$1"
  echo
}

cmd="${1:-}"
shift || true
case "$cmd" in
install) install ;;
up) up "$@" ;;
down) down ;;
query) query "$@" ;;
url) echo "$URL" ;;
*) sed -n '2,/^set -euo/{/^set -euo/d;s/^# \{0,1\}//;p}' "${BASH_SOURCE[0]}"; [ -z "$cmd" ] || exit 2 ;;
esac
