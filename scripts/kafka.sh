#!/usr/bin/env bash
# scripts/kafka.sh - run a real Apache Kafka 4.x broker (KRaft, no ZooKeeper, no Docker) for
# tests, CI and benchmarks. Needs Java 17+; Maven only for the first run, which downloads the
# broker and tool jars from Maven Central into .cache/kafka/libs (later runs are offline).
#
# Usage: scripts/kafka.sh COMMAND [ARGS]
#
#   up                          fresh one-node broker+controller on 127.0.0.1:9092 (controller 9093);
#                               stops nodes started earlier, wipes .cache/kafka/data, formats, starts,
#                               waits until the broker answers (timeout $KAFKA_START_TIMEOUT, 90 s)
#   down                        stop every node started by this script (SIGTERM, SIGKILL after 30 s)
#   status                      which nodes are running, on which ports (exit 3 if none)
#   version                     the pinned Kafka version (from scripts/kafka/pom.xml)
#   fetch                       only download the jars into .cache/kafka/libs (e.g. a CI cache step)
#
#   cluster up                  fresh 3-node cluster: PLAINTEXT 9092/9094/9096, controllers
#                               9093/9095/9097, static quorum, RF 3, min.insync.replicas 2
#   cluster down                same as down
#   node stop|kill|start N      SIGTERM / SIGKILL / restart (keeping its data) node N (1..3;
#                               only 1 after `up`); start waits until the node serves again
#
#   topics create NAME PARTITIONS [RF]     (RF defaults to the broker's: 1 after up, 3 after cluster up)
#   topics list | describe [NAME] | delete NAME
#   produce TOPIC [ConsoleProducer args]   lines from stdin, e.g. --property parse.key=true --property key.separator=:
#   consume TOPIC [MAX] [ConsoleConsumer args]  print from the beginning; stops after MAX records or
#                                          when nothing arrives for $KAFKA_CONSUME_TIMEOUT_MS (5000)
#   groups list | describe GROUP | delete GROUP
#   perf TOPIC RECORDS [SIZE]   ProducerPerformance, acks=all, unthrottled
#   run CLASS [ARGS]            any main class on the Kafka classpath, e.g. org.apache.kafka.tools.ConsumerPerformance
#   wait-port HOST:PORT SECONDS wait until something accepts TCP connections there
#
#   secure up                   fresh one-node broker with TLS and SASL, next to the plain one (own ports,
#                               data and logs under .cache/kafka/secure/): generates a test CA, broker and
#                               client certificates (openssl) and random passwords, then serves
#                                 SASL_SSL 127.0.0.1:9192  PLAIN, SCRAM-SHA-256, SCRAM-SHA-512 (user conveyor)
#                                 SSL      127.0.0.1:9196  server certificate only
#                                 SSL      127.0.0.1:9194  client certificate required (mutual TLS)
#                               (controller 9193, inter-broker 9195); the test settings go to
#                               .cache/kafka/secure/env (for KAFKA_SECURE_DIR=.cache/kafka/secure)
#   secure down | status        stop / show the secure broker only
#
# Environment:
#   KAFKA_BOOTSTRAP        bootstrap servers for topics/produce/consume/groups/perf (default 127.0.0.1:9092)
#   KAFKA_START_TIMEOUT    seconds to wait for a node to serve (default 90)
#   KAFKA_STOP_TIMEOUT     seconds to wait after SIGTERM before SIGKILL (default 30)
#   KAFKA_HEAP_OPTS        broker heap (default "-Xms256m -Xmx512m")
#   KAFKA_JVM_OPTS         extra JVM options for the broker
#   KAFKA_LOG_LEVEL        broker root log level (default WARN); logs in .cache/kafka/logs/nodeN.log
#   JAVA_HOME              which Java to use (default: java on PATH)
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
SRC="$ROOT/scripts/kafka"
CACHE="$ROOT/.cache/kafka"
LIBS="$CACHE/libs"
DATA="$CACHE/data"
LOGS="$CACHE/logs"
RUN="$CACHE/run"
STAMP="$LIBS/.stamp"

KAFKA_VERSION="$(sed -n 's:.*<kafka.version>\(.*\)</kafka.version>.*:\1:p' "$SRC/pom.xml")"
BOOTSTRAP="${KAFKA_BOOTSTRAP:-127.0.0.1:9092}"
START_TIMEOUT="${KAFKA_START_TIMEOUT:-90}"
STOP_TIMEOUT="${KAFKA_STOP_TIMEOUT:-30}"
read -r -a HEAP_OPTS <<<"${KAFKA_HEAP_OPTS:--Xms256m -Xmx512m}"
read -r -a EXTRA_JVM_OPTS <<<"${KAFKA_JVM_OPTS:-}"
LOG4J="-Dlog4j2.configurationFile=$SRC/log4j2.properties"
# the JVM flags of Kafka's bin/kafka-run-class.sh, plus: die on OOM instead of limping on
BROKER_JVM_OPTS=(-server -XX:+UseG1GC -XX:MaxGCPauseMillis=20 -XX:InitiatingHeapOccupancyPercent=35
  -XX:+ExplicitGCInvokesConcurrent -XX:+ExitOnOutOfMemoryError -Djava.awt.headless=true)
# short-lived admin tools: small heap, C1 only, serial GC -> start about twice as fast
ADMIN_JVM_OPTS=(-Xmx256m -XX:+UseSerialGC -XX:TieredStopAtLevel=1 -Djava.awt.headless=true)
JAVA=java

say() { echo "kafka.sh: $*" >&2; }
die() { echo "kafka.sh: error: $*" >&2; exit 1; }

usage() {
  sed -n '2,/^set -euo/{/^set -euo/d;s/^# \{0,1\}//;p}' "${BASH_SOURCE[0]}"
}

now() { # seconds since the epoch, with fractions where the shell has them
  if [[ -n "${EPOCHREALTIME:-}" ]]; then echo "${EPOCHREALTIME/,/.}"; else date +%s; fi
}
elapsed() { awk -v a="$1" -v b="$(now)" 'BEGIN { printf "%.1f", b - a }'; }

# ---------------------------------------------------------------- prerequisites

JAVA_OK=
need_java() {
  [[ -n "$JAVA_OK" ]] && return 0
  if [[ -n "${JAVA_HOME:-}" && -x "$JAVA_HOME/bin/java" ]]; then JAVA="$JAVA_HOME/bin/java"; fi
  command -v "$JAVA" >/dev/null 2>&1 ||
    die "java not found: install OpenJDK 17 or newer (Debian/Ubuntu: apt-get install openjdk-17-jre-headless; macOS: brew install openjdk@17) or set JAVA_HOME"
  local v major
  v="$("$JAVA" -version 2>&1 | sed -n 's/.*version "\([^"]*\)".*/\1/p' | head -n 1)"
  major="${v%%[.+-]*}"
  [[ "$major" == 1 ]] && major="$(echo "$v" | cut -d. -f2)"
  if [[ "$major" =~ ^[0-9]+$ ]] && ((major < 17)); then
    die "java $v is too old: Apache Kafka $KAFKA_VERSION needs Java 17 or newer (install OpenJDK 17, or point JAVA_HOME at one)"
  fi
  JAVA_OK=1
}

need_mvn() {
  command -v mvn >/dev/null 2>&1 ||
    die "mvn not found: install Apache Maven 3.6+ (Debian/Ubuntu: apt-get install maven; macOS: brew install maven); it is needed once, to download the Kafka $KAFKA_VERSION jars into ${LIBS#"$ROOT"/}"
}

pom_sum() { cksum <"$SRC/pom.xml" | cut -d' ' -f1; }
libs_ok() {
  [[ -f "$STAMP" && "$(cat "$STAMP")" == "kafka=$KAFKA_VERSION pom=$(pom_sum)" ]] &&
    compgen -G "$LIBS/kafka_2.13-$KAFKA_VERSION.jar" >/dev/null
}

# java (always) and, unless the jars are cached already, mvn -- checked before anything else happens
preflight() {
  [[ -n "$KAFKA_VERSION" ]] || die "cannot read <kafka.version> from $SRC/pom.xml"
  need_java
  libs_ok || need_mvn
}

ensure_libs() {
  preflight
  libs_ok && return 0
  local t0 tmp
  t0="$(now)"
  tmp="$CACHE/libs.tmp.$$"
  say "downloading Apache Kafka $KAFKA_VERSION jars with Maven into ${LIBS#"$ROOT"/} (first run only) ..."
  mkdir -p "$CACHE"
  rm -rf "$tmp"
  # (Maven 3.8 prints bare colour-reset codes even with -q -B; strip them and empty lines)
  if ! mvn -q -B -Dstyle.color=never -f "$SRC/pom.xml" dependency:copy-dependencies \
    -DoutputDirectory="$tmp" -DincludeScope=runtime 2>&1 |
    sed -e "s/$(printf '\033')\[[0-9;]*m//g" -e '/^[[:space:]]*$/d' >&2; then
    rm -rf "$tmp"
    die "mvn could not fetch the Kafka $KAFKA_VERSION jars (see above); the first run needs Maven Central (or a mirror in ~/.m2/settings.xml)"
  fi
  compgen -G "$tmp/kafka_2.13-$KAFKA_VERSION.jar" >/dev/null || { rm -rf "$tmp"; die "mvn finished but kafka_2.13-$KAFKA_VERSION.jar is missing"; }
  rm -rf "$LIBS"
  mv "$tmp" "$LIBS"
  echo "kafka=$KAFKA_VERSION pom=$(pom_sum)" >"$STAMP"
  local jars=("$LIBS"/*.jar)
  say "fetched ${#jars[@]} jars in $(elapsed "$t0") s"
}

# run a Kafka main class. admin_tool: short-lived CLI (fast-start JVM flags); java_run: full JIT.
admin_tool() {
  ensure_libs
  "$JAVA" "${ADMIN_JVM_OPTS[@]}" "$LOG4J" -Dkafka.appinfo.level=WARN -cp "$LIBS/*" "$@"
}
java_run() {
  ensure_libs
  "$JAVA" -Xmx512m -Djava.awt.headless=true "$LOG4J" -Dkafka.appinfo.level=WARN -cp "$LIBS/*" "$@"
}

with_timeout() { # SECONDS CMD...: coreutils timeout when there is one
  local s="$1"; shift
  if command -v timeout >/dev/null 2>&1; then timeout "$s" "$@"; else "$@"; fi
}

# ---------------------------------------------------------------- ports

port_open() { # HOST PORT
  # shellcheck disable=SC2016 # $1/$2 are expanded by the inner bash
  with_timeout 3 bash -c 'exec 3<>"/dev/tcp/$1/$2"' _ "$1" "$2" 2>/dev/null
}

split_hostport() { # HOST:PORT -> "HOST PORT"
  local hp="$1"
  [[ "$hp" == *:* ]] || die "expected HOST:PORT, got '$hp'"
  echo "${hp%:*} ${hp##*:}"
}

wait_port() { # HOST:PORT SECONDS [PID]: 0 when open; 1 on timeout; 2 if PID died
  local host port deadline
  read -r host port <<<"$(split_hostport "$1")"
  deadline=$((SECONDS + $2))
  while ((SECONDS < deadline)); do
    port_open "$host" "$port" && return 0
    if [[ -n "${3:-}" ]] && ! kill -0 "$3" 2>/dev/null; then return 2; fi
    sleep 0.2
  done
  port_open "$host" "$port"
}

# ---------------------------------------------------------------- nodes

conf_of() { echo "$RUN/node$1.properties"; }
pidfile_of() { echo "$RUN/node$1.pid"; }
log_of() { echo "$LOGS/node$1.log"; }
mode() { cat "$RUN/mode" 2>/dev/null || echo none; }

listener_of() { # N NAME -> HOST:PORT of that listener in node N's config
  sed -n "s#^listeners=.*$2://\([^,]*\).*#\1#p" "$(conf_of "$1")"
}

configured_nodes() {
  local f n
  for f in "$RUN"/node*.properties; do
    [[ -e "$f" ]] || continue
    n="${f##*/node}"
    echo "${n%.properties}"
  done
}

# PID of node N if it is running AND is the broker this script started for node N (checked
# against the process's command line, so a recycled PID is never touched); else fails.
node_pid() {
  local pf pid args
  pf="$(pidfile_of "$1")"
  [[ -f "$pf" ]] || return 1
  pid="$(cat "$pf")"
  [[ "$pid" =~ ^[0-9]+$ ]] || return 1
  kill -0 "$pid" 2>/dev/null || return 1
  if [[ -r "/proc/$pid/cmdline" ]]; then
    args="$(tr '\0' ' ' <"/proc/$pid/cmdline")"
  else
    args="$(ps -ww -p "$pid" -o args= 2>/dev/null || true)"
  fi
  [[ "$args" == *kafka.Kafka*"$(conf_of "$1")"* ]] || return 1
  echo "$pid"
}

render_conf() { # TEMPLATE N
  mkdir -p "$RUN"
  sed "s#@DATA_DIR@#$DATA#g" "$1" >"$(conf_of "$2")"
}

launch_node() { # N: start the broker process in the background (own session, survives the shell)
  local n="$1" conf log pid
  conf="$(conf_of "$n")"
  log="$(log_of "$n")"
  mkdir -p "$LOGS" "$RUN"
  echo "=== $(date '+%Y-%m-%d %H:%M:%S') kafka.sh starting node $n (Apache Kafka $KAFKA_VERSION, $conf)" >>"$log"
  local -a detach=()
  command -v setsid >/dev/null 2>&1 && detach=(setsid)
  (
    cd "$CACHE"
    exec ${detach[@]+"${detach[@]}"} "$JAVA" "${HEAP_OPTS[@]}" "${BROKER_JVM_OPTS[@]}" ${EXTRA_JVM_OPTS[@]+"${EXTRA_JVM_OPTS[@]}"} \
      "$LOG4J" -Dkafka.root.level="${KAFKA_LOG_LEVEL:-WARN}" -Dkafka.logs.dir="$LOGS" \
      -cp "$LIBS/*" kafka.Kafka "$conf"
  ) </dev/null >>"$log" 2>&1 &
  pid=$!
  echo "$pid" >"$(pidfile_of "$n")"
}

# broker ids the cluster reports as serving (registered and unfenced), asked via BOOTSTRAP
serving_ids() {
  with_timeout 30 "$JAVA" "${ADMIN_JVM_OPTS[@]}" "$LOG4J" -Dkafka.appinfo.level=WARN -cp "$LIBS/*" \
    org.apache.kafka.tools.BrokerApiVersionsCommand --bootstrap-server "$1" 2>/dev/null |
    sed -n 's/.*(id: \([0-9][0-9]*\) rack.*/\1/p' | sort -n | tr '\n' ' '
}

fail_start() { # MESSAGE NODES...: stop what we started, show the log tails, fail
  local msg="$1" n
  shift
  for n in "$@"; do
    echo "----- last lines of ${LOGS#"$ROOT"/}/node$n.log -----" >&2
    tail -n 40 "$(log_of "$n")" >&2 || true
  done
  echo "-----" >&2
  stop_nodes TERM "$@" >/dev/null 2>&1 || true
  die "$msg"
}

# wait until every node in NODES serves: its port is open and BrokerApiVersions via BOOTSTRAP lists it
wait_serving() { # DEADLINE(SECONDS) BOOTSTRAP NODES...
  local deadline="$1" bootstrap="$2" n pid ids rc
  shift 2
  for n in "$@"; do
    pid="$(cat "$(pidfile_of "$n")")"
    rc=0
    wait_port "$(listener_of "$n" PLAINTEXT)" $((deadline - SECONDS > 0 ? deadline - SECONDS : 0)) "$pid" || rc=$?
    ((rc == 2)) && fail_start "node $n (pid $pid) exited during startup" "$@"
    ((rc == 0)) || fail_start "node $n: nothing listening on $(listener_of "$n" PLAINTEXT) after ${START_TIMEOUT} s" "$@"
  done
  while :; do
    for n in "$@"; do
      node_pid "$n" >/dev/null || fail_start "node $n exited during startup" "$@"
    done
    ids=" $(serving_ids "$bootstrap" || true)"
    local missing=""
    for n in "$@"; do [[ "$ids" == *" $n "* ]] || missing+=" $n"; done
    [[ -z "$missing" ]] && return 0
    ((SECONDS < deadline)) || fail_start "node(s)$missing not serving on $bootstrap after ${START_TIMEOUT} s (serving:${ids% })" "$@"
    sleep 1
  done
}

broker_version() { # N: the version the broker logged at startup (AppInfoParser), else the pinned one
  local v
  v="$(sed -n 's/.*Kafka version: \([^ ]*\).*/\1/p' "$(log_of "$1")" 2>/dev/null | tail -n 1)"
  echo "${v:-$KAFKA_VERSION}"
}

# stop_nodes SIGNAL NODES...: signal the nodes we started, wait for them to exit, SIGKILL stragglers
stop_nodes() {
  local sig="$1" n pid t0 deadline i
  shift
  local -a pids=() nodes=()
  t0="$(now)"
  for n in "$@"; do
    if pid="$(node_pid "$n")"; then
      kill -s "$sig" "$pid" 2>/dev/null || true
      pids+=("$pid")
      nodes+=("$n")
    fi
    rm -f "$(pidfile_of "$n")"
  done
  ((${#pids[@]})) || return 1
  deadline=$((SECONDS + STOP_TIMEOUT))
  local alive
  while :; do
    alive=()
    for pid in "${pids[@]}"; do kill -0 "$pid" 2>/dev/null && alive+=("$pid"); done
    ((${#alive[@]})) || break
    if ((SECONDS >= deadline)); then
      say "pid(s) ${alive[*]} still running ${STOP_TIMEOUT} s after SIG$sig: sending SIGKILL"
      kill -s KILL "${alive[@]}" 2>/dev/null || true
      deadline=$((SECONDS + 10))
      sig=KILL
    fi
    sleep 0.2
  done
  for i in "${!nodes[@]}"; do
    echo "stopped node ${nodes[$i]} (pid ${pids[$i]}) in $(elapsed "$t0") s"
  done
}

stop_all() {
  local nodes
  nodes="$(configured_nodes | tr '\n' ' ')"
  # shellcheck disable=SC2086
  [[ -n "$nodes" ]] && stop_nodes TERM $nodes
}

ensure_ports_free() { # HOST:PORT...: none of them may be in use (by anything: ours were stopped already)
  local hp host port
  for hp in "$@"; do
    read -r host port <<<"$(split_hostport "$hp")"
    if port_open "$host" "$port"; then
      die "$hp is already in use by a process kafka.sh did not start (another Kafka? docker compose?); stop it first (see: ss -ltnp | grep :$port)"
    fi
  done
}

new_cluster_id() { admin_tool kafka.tools.StorageTool random-uuid 2>/dev/null | tail -n 1; }

format_node() { # N CLUSTER_ID [--standalone]
  local n="$1" cid="$2"
  shift 2
  local out
  if ! out="$(admin_tool kafka.tools.StorageTool format -t "$cid" -c "$(conf_of "$n")" "$@" 2>&1)"; then
    echo "$out" >&2
    die "formatting the storage of node $n failed"
  fi
  echo "$out" >>"$(log_of "$n")"
}

reset_state() { # fresh data/logs/configs; called with no node of ours running
  rm -rf "$DATA" "$RUN" "$LOGS"
  mkdir -p "$DATA" "$RUN" "$LOGS"
}

cmd_up() {
  local t0 cid pid
  t0="$(now)"
  ensure_libs
  if stop_all >/dev/null; then say "stopped the nodes of the previous run first"; fi
  ensure_ports_free 127.0.0.1:9092 127.0.0.1:9093
  reset_state
  render_conf "$SRC/server.properties" 1
  echo single >"$RUN/mode"
  cid="$(new_cluster_id)"
  [[ -n "$cid" ]] || die "could not generate a cluster id"
  format_node 1 "$cid" --standalone
  launch_node 1
  wait_serving $((SECONDS + START_TIMEOUT)) "$(listener_of 1 PLAINTEXT)" 1
  pid="$(node_pid 1)"
  echo "Apache Kafka $(broker_version 1) broker up on $(listener_of 1 PLAINTEXT) (pid $pid) in $(elapsed "$t0") s"
}

cmd_cluster_up() {
  local t0 cid n pids=() addrs=()
  t0="$(now)"
  ensure_libs
  if stop_all >/dev/null; then say "stopped the nodes of the previous run first"; fi
  ensure_ports_free 127.0.0.1:9092 127.0.0.1:9093 127.0.0.1:9094 127.0.0.1:9095 127.0.0.1:9096 127.0.0.1:9097
  reset_state
  for n in 1 2 3; do render_conf "$SRC/n$n.properties" "$n"; done
  echo cluster >"$RUN/mode"
  cid="$(new_cluster_id)"
  [[ -n "$cid" ]] || die "could not generate a cluster id"
  # same cluster id, static quorum from controller.quorum.voters: no --standalone / --initial-controllers
  local fpids=()
  for n in 1 2 3; do
    format_node "$n" "$cid" &
    fpids+=($!)
  done
  for n in "${fpids[@]}"; do wait "$n" || die "formatting failed"; done
  for n in 1 2 3; do launch_node "$n"; done
  for n in 1 2 3; do addrs+=("$(listener_of "$n" PLAINTEXT)"); done
  wait_serving $((SECONDS + START_TIMEOUT)) "$(
    IFS=,
    echo "${addrs[*]}"
  )" 1 2 3
  for n in 1 2 3; do pids+=("$(node_pid "$n")"); done
  echo "Apache Kafka $(broker_version 1) 3-node cluster up on $(
    IFS=,
    echo "${addrs[*]}"
  ) (pids ${pids[*]}) in $(elapsed "$t0") s"
}

cmd_down() {
  if ! stop_all; then echo "no Kafka node started by kafka.sh is running"; fi
  # stale pid files of processes that are gone
  rm -f "$RUN"/node*.pid
}

cmd_status() {
  local n pid addr any=0 m
  m="$(mode)"
  if [[ "$m" == none ]] || [[ -z "$(configured_nodes)" ]]; then
    echo "no broker configured (run: scripts/kafka.sh up | cluster up)"
    return 3
  fi
  echo "mode: $m (Apache Kafka $KAFKA_VERSION, data in ${DATA#"$ROOT"/})"
  for n in $(configured_nodes); do
    addr="$(listener_of "$n" PLAINTEXT)"
    if pid="$(node_pid "$n")"; then
      any=1
      local host port state=listening
      read -r host port <<<"$(split_hostport "$addr")"
      port_open "$host" "$port" || state="not listening yet"
      echo "node $n: running, pid $pid, PLAINTEXT $addr ($state), CONTROLLER $(listener_of "$n" CONTROLLER)"
    else
      echo "node $n: stopped (PLAINTEXT $addr)"
    fi
  done
  ((any)) || return 3
}

cmd_node() {
  local action="${1:-}" n="${2:-}" pid t0 m
  [[ "$n" =~ ^[1-3]$ ]] || die "usage: kafka.sh node stop|kill|start N   (N = 1..3)"
  m="$(mode)"
  [[ -f "$(conf_of "$n")" ]] || die "node $n is not part of the current setup (mode: $m); run 'kafka.sh up' or 'kafka.sh cluster up' first"
  case "$action" in
  stop)
    stop_nodes TERM "$n" || echo "node $n is not running"
    ;;
  kill)
    if pid="$(node_pid "$n")"; then
      stop_nodes KILL "$n" >/dev/null
      echo "killed node $n (pid $pid) with SIGKILL"
    else
      echo "node $n is not running"
    fi
    ;;
  start)
    t0="$(now)"
    need_java
    if pid="$(node_pid "$n")"; then
      echo "node $n is already running (pid $pid)"
      return 0
    fi
    compgen -G "$DATA/node$n/meta.properties" >/dev/null || die "node $n has no formatted data in ${DATA#"$ROOT"/}/node$n; run 'kafka.sh up' or 'kafka.sh cluster up'"
    ensure_libs
    ensure_ports_free "$(listener_of "$n" PLAINTEXT)" "$(listener_of "$n" CONTROLLER)"
    if [[ "$m" == cluster ]]; then
      local others=0 o
      for o in 1 2 3; do [[ "$o" != "$n" ]] && node_pid "$o" >/dev/null && others=$((others + 1)); done
      ((others > 0)) || say "warning: no other node is running; node $n cannot reach a quorum (2 of 3 controllers) alone and exits after initial.broker.registration.timeout.ms (60 s). Start another node too, or use 'cluster up'."
    fi
    launch_node "$n"
    # the node itself must list itself as serving (it has caught up with the metadata and is unfenced)
    wait_serving $((SECONDS + START_TIMEOUT)) "$(listener_of "$n" PLAINTEXT)" "$n"
    echo "node $n up on $(listener_of "$n" PLAINTEXT) (pid $(node_pid "$n")) in $(elapsed "$t0") s, existing data kept"
    ;;
  *) die "usage: kafka.sh node stop|kill|start N" ;;
  esac
}

# ---------------------------------------------------------------- secure broker (TLS + SASL)
#
# A second, separate one-node broker for the security tests: its own ports (9192..9196), data,
# logs and pid file under .cache/kafka/secure/, so it runs next to the plain broker of `up` and
# neither `up`/`down` nor `secure up`/`secure down` touches the other.

SECURE="$CACHE/secure"
SECURE_USER=conveyor
SECURE_SASL_SSL=127.0.0.1:9192
SECURE_CONTROLLER=127.0.0.1:9193
SECURE_MTLS=127.0.0.1:9194
SECURE_INTERNAL=127.0.0.1:9195
SECURE_SSL=127.0.0.1:9196

use_secure_dirs() { # point the node helpers (launch_node, node_pid, stop_nodes, ...) at the secure broker
  DATA="$SECURE/data"
  LOGS="$SECURE/logs"
  RUN="$SECURE/run"
}

need_openssl() {
  command -v openssl >/dev/null 2>&1 ||
    die "openssl not found: it generates the test certificates (Debian/Ubuntu: apt-get install openssl; macOS: brew install openssl)"
}

random_secret() { openssl rand -hex 16; } # 32 hex digits: nothing to quote in properties, TOML or shell

# gen_key FILE: an unencrypted PKCS#8 EC P-256 key, readable by Java (Kafka PEM stores) and Go
gen_key() { openssl genpkey -algorithm EC -pkeyopt ec_paramgen_curve:P-256 -out "$1" 2>/dev/null; }

# gen_ca NAME CN: self-signed CA NAME.pem + NAME.key
gen_ca() {
  gen_key "$SECURE/$1.key"
  openssl req -new -x509 -config "$SECURE/openssl.cnf" -extensions ca_ext -key "$SECURE/$1.key" \
    -subj "/CN=$2" -days 7 -set_serial "0x$(openssl rand -hex 8)" -out "$SECURE/$1.pem" 2>/dev/null
}

# gen_cert NAME CA EXT CN: NAME.pem + NAME.key signed by CA.pem/CA.key with extensions EXT
gen_cert() {
  gen_key "$SECURE/$1.key"
  openssl req -new -config "$SECURE/openssl.cnf" -key "$SECURE/$1.key" -subj "/CN=$4" -out "$SECURE/$1.csr" 2>/dev/null
  openssl x509 -req -in "$SECURE/$1.csr" -CA "$SECURE/$2.pem" -CAkey "$SECURE/$2.key" -days 7 \
    -set_serial "0x$(openssl rand -hex 8)" -extfile "$SECURE/openssl.cnf" -extensions "$3" -out "$SECURE/$1.pem" 2>/dev/null
  rm -f "$SECURE/$1.csr"
}

# Fresh certificates for this run, all under $SECURE (git-ignored, never committed):
#   ca.pem/.key                     the test CA: signs the broker and client certificates
#   broker.pem/.key                 broker certificate, SAN DNS:localhost + IP:127.0.0.1
#   broker-keystore.pem             its key + chain, the broker's PEM key store
#   client.pem/.key                 client certificate for mutual TLS (signed by the test CA)
#   client-keystore.pem             its key + chain, for the Java tools
#   untrusted-ca.pem/.key           a second CA that signed nothing the broker trusts or serves
#   untrusted-client.pem/.key       a client certificate signed by the untrusted CA
gen_certs() {
  cat >"$SECURE/openssl.cnf" <<'CNF'
[req]
distinguished_name = dn
prompt = no
[dn]
CN = conveyor-test
[ca_ext]
basicConstraints = critical,CA:TRUE
keyUsage = critical,keyCertSign,cRLSign
subjectKeyIdentifier = hash
[server_ext]
basicConstraints = critical,CA:FALSE
keyUsage = critical,digitalSignature,keyEncipherment
extendedKeyUsage = serverAuth,clientAuth
subjectAltName = DNS:localhost,IP:127.0.0.1
subjectKeyIdentifier = hash
authorityKeyIdentifier = keyid
[client_ext]
basicConstraints = critical,CA:FALSE
keyUsage = critical,digitalSignature
extendedKeyUsage = clientAuth
subjectKeyIdentifier = hash
authorityKeyIdentifier = keyid
CNF
  local tag
  tag="$(date +%Y%m%d-%H%M%S)"
  gen_ca ca "conveyor test CA $tag" || die "openssl: generating the test CA failed"
  gen_cert broker ca server_ext localhost || die "openssl: generating the broker certificate failed"
  gen_cert client ca client_ext "$SECURE_USER" || die "openssl: generating the client certificate failed"
  gen_ca untrusted-ca "conveyor untrusted test CA $tag" || die "openssl: generating the untrusted CA failed"
  gen_cert untrusted-client untrusted-ca client_ext "$SECURE_USER" || die "openssl: generating the untrusted client certificate failed"
  cat "$SECURE/broker.key" "$SECURE/broker.pem" "$SECURE/ca.pem" >"$SECURE/broker-keystore.pem"
  cat "$SECURE/client.key" "$SECURE/client.pem" "$SECURE/ca.pem" >"$SECURE/client-keystore.pem"
  openssl verify -CAfile "$SECURE/ca.pem" "$SECURE/broker.pem" "$SECURE/client.pem" >/dev/null ||
    die "openssl: the generated certificates do not verify against the test CA"
}

secure_client_props() { # MECHANISM PASSWORD: Java client properties for the SASL_SSL listener
  local module=org.apache.kafka.common.security.scram.ScramLoginModule
  [[ "$1" == PLAIN ]] && module=org.apache.kafka.common.security.plain.PlainLoginModule
  cat <<PROPS
security.protocol=SASL_SSL
sasl.mechanism=$1
sasl.jaas.config=$module required username="$SECURE_USER" password="$2";
ssl.truststore.type=PEM
ssl.truststore.location=$SECURE/ca.pem
PROPS
}

# broker ids serving on the SASL_SSL listener, asked over TLS + SCRAM-SHA-512 (so an answer means
# the certificates, the listener and the SCRAM users all work)
secure_serving_ids() {
  with_timeout 30 "$JAVA" "${ADMIN_JVM_OPTS[@]}" "$LOG4J" -Dkafka.appinfo.level=WARN -cp "$LIBS/*" \
    org.apache.kafka.tools.BrokerApiVersionsCommand --bootstrap-server "$SECURE_SASL_SSL" \
    --command-config "$SECURE/client-scram-sha-512.properties" 2>/dev/null |
    sed -n 's/.*(id: \([0-9][0-9]*\) rack.*/\1/p' | sort -n | tr '\n' ' '
}

cmd_secure_up() {
  local t0 cid pid plain scram256 scram512 hp rc
  t0="$(now)"
  need_openssl
  ensure_libs
  use_secure_dirs
  read -r -a HEAP_OPTS <<<"${KAFKA_HEAP_OPTS:--Xms128m -Xmx384m}"
  if stop_all >/dev/null; then say "stopped the secure broker of the previous run first"; fi
  ensure_ports_free "$SECURE_SASL_SSL" "$SECURE_CONTROLLER" "$SECURE_MTLS" "$SECURE_INTERNAL" "$SECURE_SSL"
  rm -rf "$SECURE"
  mkdir -p "$SECURE" "$DATA" "$RUN" "$LOGS"
  chmod 700 "$SECURE"
  (
    umask 077
    gen_certs
  )
  plain="$(random_secret)"
  scram256="$(random_secret)"
  scram512="$(random_secret)"
  [[ ${#plain} -eq 32 && ${#scram256} -eq 32 && ${#scram512} -eq 32 ]] || die "openssl rand failed"
  (
    umask 077
    sed -e "s#@DATA_DIR@#$DATA#g" -e "s#@SECURE_DIR@#$SECURE#g" -e "s#@SASL_USER@#$SECURE_USER#g" \
      -e "s#@PLAIN_PASSWORD@#$plain#g" "$SRC/secure.properties" >"$(conf_of 1)"
    secure_client_props PLAIN "$plain" >"$SECURE/client-plain.properties"
    secure_client_props SCRAM-SHA-256 "$scram256" >"$SECURE/client-scram-sha-256.properties"
    secure_client_props SCRAM-SHA-512 "$scram512" >"$SECURE/client-scram-sha-512.properties"
    printf '%s\n' "security.protocol=SSL" "ssl.truststore.type=PEM" "ssl.truststore.location=$SECURE/ca.pem" \
      "ssl.keystore.type=PEM" "ssl.keystore.location=$SECURE/client-keystore.pem" >"$SECURE/client-mtls.properties"
    cat >"$SECURE/env" <<ENV
# written by scripts/kafka.sh secure up: the secure test broker of this run (passwords change every run)
export KAFKA_SECURE_DIR=$SECURE
export KAFKA_SECURE_SASL_SSL_BROKERS=$SECURE_SASL_SSL
export KAFKA_SECURE_SSL_BROKERS=$SECURE_SSL
export KAFKA_SECURE_MTLS_BROKERS=$SECURE_MTLS
export KAFKA_SECURE_USER=$SECURE_USER
export KAFKA_SECURE_PLAIN_PASSWORD=$plain
export KAFKA_SECURE_SCRAM_SHA_256_PASSWORD=$scram256
export KAFKA_SECURE_SCRAM_SHA_512_PASSWORD=$scram512
export KAFKA_SECURE_CA_FILE=$SECURE/ca.pem
export KAFKA_SECURE_CLIENT_CERT_FILE=$SECURE/client.pem
export KAFKA_SECURE_CLIENT_KEY_FILE=$SECURE/client.key
export KAFKA_SECURE_UNTRUSTED_CA_FILE=$SECURE/untrusted-ca.pem
export KAFKA_SECURE_UNTRUSTED_CLIENT_CERT_FILE=$SECURE/untrusted-client.pem
export KAFKA_SECURE_UNTRUSTED_CLIENT_KEY_FILE=$SECURE/untrusted-client.key
ENV
  )
  echo secure >"$RUN/mode"
  cid="$(new_cluster_id)"
  [[ -n "$cid" ]] || die "could not generate a cluster id"
  # SCRAM credentials are cluster metadata: written into the bootstrap snapshot at format time
  format_node 1 "$cid" --standalone \
    --add-scram "SCRAM-SHA-256=[name=$SECURE_USER,password=$scram256]" \
    --add-scram "SCRAM-SHA-512=[name=$SECURE_USER,password=$scram512]"
  launch_node 1
  pid="$(cat "$(pidfile_of 1)")"
  local deadline=$((SECONDS + START_TIMEOUT))
  for hp in "$SECURE_SASL_SSL" "$SECURE_MTLS" "$SECURE_SSL"; do
    rc=0
    wait_port "$hp" $((deadline - SECONDS > 0 ? deadline - SECONDS : 0)) "$pid" || rc=$?
    ((rc == 2)) && fail_start "the secure broker (pid $pid) exited during startup" 1
    ((rc == 0)) || fail_start "secure broker: nothing listening on $hp after ${START_TIMEOUT} s" 1
  done
  while [[ " $(secure_serving_ids || true)" != *" 1 "* ]]; do
    node_pid 1 >/dev/null || fail_start "the secure broker exited during startup" 1
    ((SECONDS < deadline)) || fail_start "secure broker: not answering over SASL_SSL + SCRAM-SHA-512 on $SECURE_SASL_SSL after ${START_TIMEOUT} s" 1
    sleep 1
  done
  echo "Apache Kafka $(broker_version 1) secure broker up (pid $(node_pid 1)) in $(elapsed "$t0") s:"
  echo "  SASL_SSL $SECURE_SASL_SSL (PLAIN, SCRAM-SHA-256, SCRAM-SHA-512; user $SECURE_USER)"
  echo "  SSL      $SECURE_SSL (server certificate only),  SSL $SECURE_MTLS (client certificate required)"
  echo "  certificates, passwords and client properties in ${SECURE#"$ROOT"/}/; for the tests:"
  echo "  KAFKA_SECURE_DIR=${SECURE#"$ROOT"/} go test -count=1 -v -run IntegrationSecurity ./flow"
}

cmd_secure_down() {
  use_secure_dirs
  if ! stop_all; then echo "no secure broker started by kafka.sh is running"; fi
  rm -f "$RUN"/node*.pid
}

cmd_secure_status() {
  use_secure_dirs
  local pid hp host port state
  if ! pid="$(node_pid 1)"; then
    echo "secure broker: not running (start it with: scripts/kafka.sh secure up)"
    return 3
  fi
  echo "secure broker: running, pid $pid (Apache Kafka $KAFKA_VERSION, files in ${SECURE#"$ROOT"/})"
  for hp in "SASL_SSL $SECURE_SASL_SSL" "CONTROLLER $SECURE_CONTROLLER" "MTLS $SECURE_MTLS" "INTERNAL $SECURE_INTERNAL" "SSL $SECURE_SSL"; do
    read -r host port <<<"$(split_hostport "${hp#* }")"
    state=listening
    port_open "$host" "$port" || state="not listening"
    printf '  %-10s %s (%s)\n' "${hp%% *}" "${hp#* }" "$state"
  done
  echo "  env file: ${SECURE#"$ROOT"/}/env"
}

cmd_secure() {
  case "${1:-}" in
  up) cmd_secure_up ;;
  down) cmd_secure_down ;;
  status) cmd_secure_status ;;
  *) die "usage: kafka.sh secure up|down|status" ;;
  esac
}

topic_regex() { echo "${1//./\\.}"; } # TopicCommand's --topic is a regex except for --create

cmd_topics() {
  local sub="${1:-}"
  shift || true
  local -a tc=(org.apache.kafka.tools.TopicCommand --bootstrap-server "$BOOTSTRAP")
  case "$sub" in
  create)
    [[ $# -ge 2 && "$2" =~ ^[0-9]+$ ]] || die "usage: kafka.sh topics create NAME PARTITIONS [RF]"
    local -a rf=()
    [[ -n "${3:-}" ]] && rf=(--replication-factor "$3")
    admin_tool "${tc[@]}" --create --if-not-exists --topic "$1" --partitions "$2" ${rf[@]+"${rf[@]}"}
    ;;
  list) admin_tool "${tc[@]}" --list ;;
  describe)
    if [[ -n "${1:-}" ]]; then admin_tool "${tc[@]}" --describe --topic "$(topic_regex "$1")"; else admin_tool "${tc[@]}" --describe; fi
    ;;
  delete)
    [[ -n "${1:-}" ]] || die "usage: kafka.sh topics delete NAME"
    admin_tool "${tc[@]}" --delete --topic "$(topic_regex "$1")"
    ;;
  *) die "usage: kafka.sh topics create NAME PARTITIONS [RF] | list | describe [NAME] | delete NAME" ;;
  esac
}

cmd_groups() {
  local sub="${1:-}"
  shift || true
  local -a gc=(org.apache.kafka.tools.consumer.group.ConsumerGroupCommand --bootstrap-server "$BOOTSTRAP")
  case "$sub" in
  list) admin_tool "${gc[@]}" --list ;;
  describe)
    [[ -n "${1:-}" ]] || die "usage: kafka.sh groups describe GROUP"
    admin_tool "${gc[@]}" --describe --group "$1"
    ;;
  delete)
    [[ -n "${1:-}" ]] || die "usage: kafka.sh groups delete GROUP"
    admin_tool "${gc[@]}" --delete --group "$1"
    ;;
  *) die "usage: kafka.sh groups list | describe GROUP | delete GROUP" ;;
  esac
}

cmd_consume() {
  [[ -n "${1:-}" ]] || die "usage: kafka.sh consume TOPIC [MAX] [ConsoleConsumer args]"
  local topic="$1"
  shift
  local -a max=()
  if [[ "${1:-}" =~ ^[0-9]+$ ]]; then
    max=(--max-messages "$1")
    shift
  fi
  admin_tool org.apache.kafka.tools.consumer.ConsoleConsumer --bootstrap-server "$BOOTSTRAP" \
    --topic "$topic" --from-beginning --timeout-ms "${KAFKA_CONSUME_TIMEOUT_MS:-5000}" ${max[@]+"${max[@]}"} \
    --property print.partition=true --property print.offset=true \
    --property print.key=true "$@"
}

cmd_produce() {
  [[ -n "${1:-}" ]] || die "usage: kafka.sh produce TOPIC [ConsoleProducer args] < lines"
  local topic="$1"
  shift
  admin_tool org.apache.kafka.tools.ConsoleProducer --bootstrap-server "$BOOTSTRAP" --topic "$topic" "$@"
}

cmd_perf() {
  [[ -n "${1:-}" && "${2:-}" =~ ^[0-9]+$ ]] || die "usage: kafka.sh perf TOPIC RECORDS [SIZE]"
  java_run org.apache.kafka.tools.ProducerPerformance --topic "$1" --num-records "$2" \
    --record-size "${3:-100}" --throughput -1 \
    --producer-props bootstrap.servers="$BOOTSTRAP" acks=all
}

main() {
  local cmd="${1:-help}"
  shift || true
  case "$cmd" in
  up) cmd_up ;;
  down) cmd_down ;;
  status) cmd_status ;;
  version) echo "$KAFKA_VERSION" ;;
  fetch) ensure_libs && echo "Apache Kafka $KAFKA_VERSION jars in ${LIBS#"$ROOT"/}" ;;
  cluster)
    case "${1:-}" in
    up) cmd_cluster_up ;;
    down) cmd_down ;;
    *) die "usage: kafka.sh cluster up|down" ;;
    esac
    ;;
  node) cmd_node "$@" ;;
  secure) cmd_secure "$@" ;;
  topics) cmd_topics "$@" ;;
  groups) cmd_groups "$@" ;;
  consume) cmd_consume "$@" ;;
  produce) cmd_produce "$@" ;;
  perf) cmd_perf "$@" ;;
  run)
    [[ -n "${1:-}" ]] || die "usage: kafka.sh run CLASS [ARGS]"
    java_run "$@"
    ;;
  wait-port)
    [[ $# -eq 2 && "$2" =~ ^[0-9]+$ ]] || die "usage: kafka.sh wait-port HOST:PORT SECONDS"
    wait_port "$1" "$2" || die "nothing listening on $1 after $2 s"
    ;;
  help | -h | --help) usage ;;
  *)
    usage >&2
    exit 2
    ;;
  esac
}

main "$@"
