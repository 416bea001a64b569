#!/usr/bin/env bash
# scripts/proton-brokers.sh - the Qpid Proton 0.37 *example* brokers (AMQP 1.0 only, in memory)
# that the AMQP 1.0 adapter's tests run against besides RabbitMQ: they are the only local peers
# that accept dynamic receivers, and they show the adapter on a broker that is not RabbitMQ.
#
#   bash scripts/proton-brokers.sh start    install if missing, build the C++ one, start both, wait
#   bash scripts/proton-brokers.sh status   exit 0 when both answer
#   bash scripts/proton-brokers.sh stop     stop both (only the processes this script started)
#
# Python broker.py on 127.0.0.1:${PROTON_PY_PORT:-5674}, C++ broker.cpp on 127.0.0.1:${PROTON_CPP_PORT:-5675}.
# Idempotent: packages are installed only when missing, the C++ broker is compiled only when its
# binary is missing or older than the example source, and a broker that answers is left alone.
# Debian 12 packages: python3-qpid-proton, libqpid-proton11-dev-examples, libqpid-proton-cpp12-dev, g++.
set -euo pipefail

PY_PORT="${PROTON_PY_PORT:-5674}"
CPP_PORT="${PROTON_CPP_PORT:-5675}"
DIR="${PROTON_DIR:-/var/tmp/gofer-proton}"
EXAMPLES=/usr/share/proton/examples
WAIT="${BROKERS_WAIT:-30}"
PACKAGES=(python3-qpid-proton libqpid-proton11-dev-examples libqpid-proton-cpp12-dev g++)
# Debian's python3, not a pyenv one that cannot see python3-qpid-proton.
PYTHON=/usr/bin/python3

log() { echo "proton-brokers.sh: $*"; }
die() { echo "proton-brokers.sh: ERROR: $*" >&2; exit 1; }

port_open() { timeout 3 bash -c "exec 3<>/dev/tcp/127.0.0.1/$1" 2>/dev/null; }

installed() { dpkg-query -W -f='${Status}' "$1" 2>/dev/null | grep -q 'ok installed'; }

ensure_packages() {
  local missing=() p
  for p in "${PACKAGES[@]}"; do installed "$p" || missing+=("$p"); done
  ((${#missing[@]} == 0)) && return 0
  [[ "$(id -u)" -eq 0 ]] && command -v apt-get >/dev/null 2>&1 \
    || die "missing packages ${missing[*]}; install them as root: apt-get install -y --no-install-recommends ${missing[*]}"
  log "installing ${missing[*]}"
  export DEBIAN_FRONTEND=noninteractive
  apt-get -o DPkg::Lock::Timeout=300 install -y -qq --no-install-recommends "${missing[@]}" >/dev/null 2>&1 || {
    apt-get -o DPkg::Lock::Timeout=300 update -qq
    apt-get -o DPkg::Lock::Timeout=300 install -y -qq --no-install-recommends "${missing[@]}"
  }
}

build_cpp() {
  mkdir -p "$DIR"
  if [[ -x "$DIR/broker" && "$DIR/broker" -nt "$EXAMPLES/cpp/broker.cpp" ]]; then return 0; fi
  log "building the C++ example broker"
  cp "$EXAMPLES/cpp/broker.cpp" "$EXAMPLES/cpp/options.hpp" "$DIR/"
  g++ -O2 -std=c++11 "$DIR/broker.cpp" -o "$DIR/broker.tmp" -lqpid-proton-cpp -pthread
  mv "$DIR/broker.tmp" "$DIR/broker"
}

# start_one <name> <port> <command...>: start detached unless the port already answers.
start_one() {
  local name="$1" port="$2"; shift 2
  if port_open "$port"; then
    log "$name broker already answers on 127.0.0.1:$port"
    return 0
  fi
  nohup "$@" >"$DIR/$name.log" 2>&1 </dev/null &
  echo $! >"$DIR/$name.pid"
  local deadline=$((SECONDS + WAIT))
  until port_open "$port"; do
    if ! kill -0 "$(cat "$DIR/$name.pid")" 2>/dev/null; then
      cat "$DIR/$name.log" >&2 || true
      die "$name broker exited at start"
    fi
    ((SECONDS < deadline)) || die "$name broker did not listen on 127.0.0.1:$port within ${WAIT}s"
    sleep 0.2
  done
  log "$name broker up on 127.0.0.1:$port (pid $(cat "$DIR/$name.pid"))"
}

stop_one() {
  local name="$1" pidfile="$DIR/$1.pid"
  [[ -f "$pidfile" ]] || { log "$name broker: not started by this script"; return 0; }
  local pid; pid="$(cat "$pidfile")"
  if kill -0 "$pid" 2>/dev/null; then kill -TERM "$pid"; log "$name broker (pid $pid) stopped"; fi
  rm -f "$pidfile"
}

case "${1:-}" in
  start)
    ensure_packages
    build_cpp
    start_one python "$PY_PORT" "$PYTHON" "$EXAMPLES/python/broker.py" -a "127.0.0.1:$PY_PORT"
    start_one cpp "$CPP_PORT" "$DIR/broker" -a "127.0.0.1:$CPP_PORT"
    ;;
  stop)
    stop_one python
    stop_one cpp
    ;;
  status)
    ok=0
    if port_open "$PY_PORT"; then log "python broker: up on $PY_PORT"; else log "python broker: down"; ok=1; fi
    if port_open "$CPP_PORT"; then log "cpp broker: up on $CPP_PORT"; else log "cpp broker: down"; ok=1; fi
    exit "$ok"
    ;;
  *) echo "usage: bash scripts/proton-brokers.sh start|stop|status" >&2; exit 2 ;;
esac
