#!/usr/bin/env bash
# scripts/brokers.sh - install, start, stop and check the RabbitMQ broker that the
# integration and e2e tests run against (AMQP 0-9-1 and, through the
# rabbitmq_amqp1_0 plugin, AMQP 1.0, both on the same port).
#
#   bash scripts/brokers.sh start [rabbitmq]   install if missing, start if down, wait until usable
#   bash scripts/brokers.sh status [rabbitmq]  print whether it is up (exit 0 up, 1 down)
#   bash scripts/brokers.sh stop [rabbitmq]    stop the node (rabbitmqctl shutdown)
#
# Idempotent: on a machine where the node is already up, `start` only verifies it
# (a few seconds: each Erlang CLI call costs 0.5-1 s). It is written for Debian 12
# as root, including containers with no systemd where apt's policy-rc.d refuses to
# start services, so we start the node ourselves with `rabbitmq-server -detached`.
#
# The standard RabbitMQ variables are honoured and passed through to the node and
# the CLI tools, which makes a throwaway second node possible, for example:
#   RABBITMQ_NODENAME=bf@localhost RABBITMQ_NODE_PORT=5682 RABBITMQ_DIST_PORT=25682 \
#   RABBITMQ_MNESIA_BASE=/tmp/bf-rabbit/mnesia RABBITMQ_LOG_BASE=/tmp/bf-rabbit/log \
#   RABBITMQ_ENABLED_PLUGINS_FILE=/tmp/bf-rabbit/enabled_plugins \
#   RABBITMQ_CONFIG_FILE=/tmp/bf-rabbit/rabbitmq.conf bash scripts/brokers.sh start
# (the directory must be owned by the rabbitmq user). A listener set in /etc/rabbitmq/rabbitmq.conf
# (listeners.tcp.*) wins over RABBITMQ_NODE_PORT, hence the separate, empty config file.
#
# Other knobs: BROKERS_WAIT (seconds per wait phase, default 120).
set -euo pipefail

# The RabbitMQ CLI tools live in /usr/sbin, which is not on PATH for every user or CI shell.
export PATH="$PATH:/usr/sbin:/sbin"

PLUGIN=rabbitmq_amqp1_0                # management is deliberately not enabled: tests do not need it
PORT="${RABBITMQ_NODE_PORT:-5672}"     # the AMQP port the tests connect to
WAIT="${BROKERS_WAIT:-120}"            # upper bound, in seconds, for each wait phase
CLI_TIMEOUT=60                         # no single CLI call may hang longer than this
LOG_BASE="${RABBITMQ_LOG_BASE:-/var/log/rabbitmq}"

# Probe loopback unless the caller bound the node to one specific address.
case "${RABBITMQ_NODE_IP_ADDRESS:-}" in
  "" | 0.0.0.0 | :: | "[::]") HOST=127.0.0.1 ;;
  *) HOST="$RABBITMQ_NODE_IP_ADDRESS" ;;
esac

log() { echo "brokers.sh: $*"; }

# Print the end of the node's logs, so that a CI failure can be diagnosed from the job output alone.
show_logs() {
  local f newest
  if [[ -n "${START_OUT:-}" && -s "$START_OUT" ]]; then
    echo "----- output of rabbitmq-server -detached -----"
    cat "$START_OUT"
  fi
  # The node writes <nodename>.log; the newest *.log is the one that matters. startup_err is
  # written by Debian's wrapper when the server is started as the rabbitmq user.
  newest="$(ls -t "$LOG_BASE"/*.log 2>/dev/null | head -n 1 || true)"
  for f in "$newest" "$LOG_BASE/startup_err"; do
    if [[ -s "$f" ]]; then
      echo "----- tail of $f -----"
      tail -n 60 "$f"
    fi
  done
}

die() {
  echo "brokers.sh: ERROR: $*" >&2
  exit 1
}

# For failures of the node itself: the reason is in its log, not in our message.
die_with_logs() {
  echo "brokers.sh: ERROR: $*" >&2
  show_logs >&2 || true
  exit 1
}

# True when something accepts TCP connections on HOST:PORT (bash's /dev/tcp, no netcat needed).
port_open() {
  timeout 3 bash -c "exec 3<>/dev/tcp/$HOST/$PORT" 2>/dev/null
}

# True when the Erlang node answers (the VM is up; the rabbit app may still be booting).
node_up() {
  timeout "$CLI_TIMEOUT" rabbitmq-diagnostics -q ping >/dev/null 2>&1
}

have_cli() { command -v rabbitmq-server >/dev/null 2>&1 && command -v rabbitmqctl >/dev/null 2>&1; }

# Debian's wrappers only let root or the rabbitmq user run the CLI tools (they need the Erlang cookie).
can_admin() { [[ "$(id -u)" -eq 0 || "$(id -un)" == rabbitmq ]]; }

install_hint() {
  cat >&2 <<EOF
brokers.sh: the tests need RabbitMQ with the $PLUGIN plugin listening on $HOST:$PORT.
  On Debian/Ubuntu, as root:
    apt-get update && apt-get install -y --no-install-recommends rabbitmq-server
    rabbitmq-plugins enable $PLUGIN
    rabbitmq-server -detached        # if no service manager starts it
  Or run RabbitMQ 3.x elsewhere (e.g. a container publishing port $PORT) with $PLUGIN enabled.
EOF
}

ensure_installed() {
  have_cli && return 0
  # A broker we cannot manage (say, a container publishing the port) is good enough:
  # use it rather than install a second one that would clash on the port.
  if port_open; then
    log "WARNING: no RabbitMQ CLI here, but $HOST:$PORT accepts connections; assuming an external broker" \
        "(make sure it has $PLUGIN enabled)."
    exit 0
  fi
  if [[ "$(id -u)" -ne 0 ]] || ! command -v apt-get >/dev/null 2>&1; then
    echo "brokers.sh: ERROR: rabbitmq-server is not installed and cannot be installed here (needs root and apt-get)." >&2
    install_hint
    exit 1
  fi
  log "installing rabbitmq-server with apt-get"
  # No prompts (CI has no stdin); wait for a concurrent apt/dpkg run rather than fail on its lock.
  export DEBIAN_FRONTEND=noninteractive
  apt-get -o DPkg::Lock::Timeout=300 update -qq
  apt-get -o DPkg::Lock::Timeout=300 install -y -qq --no-install-recommends rabbitmq-server
  have_cli || die "apt-get install finished but the rabbitmq CLI tools are still missing"
}

wait_for() { # wait_for <description> <command...>: poll until the command succeeds or WAIT seconds pass
  local what="$1"; shift
  local deadline=$((SECONDS + WAIT))
  until "$@"; do
    ((SECONDS < deadline)) || die_with_logs "timed out after ${WAIT}s waiting for $what"
    sleep 0.5
  done
}

start_rabbitmq() {
  ensure_installed
  if ! can_admin; then
    if port_open; then
      log "WARNING: not root, so the node and its $PLUGIN plugin cannot be checked; $HOST:$PORT accepts connections."
      exit 0
    fi
    echo "brokers.sh: ERROR: RabbitMQ is not reachable on $HOST:$PORT and only root can start it." >&2
    install_hint
    exit 1
  fi

  if node_up; then
    log "node ${RABBITMQ_NODENAME:-(default)} is already running"
    # A running node does not re-read enabled_plugins, so enable the plugin online if needed.
    if ! timeout "$CLI_TIMEOUT" rabbitmq-plugins -q is_enabled "$PLUGIN" >/dev/null 2>&1; then
      log "enabling $PLUGIN on the running node"
      timeout "$CLI_TIMEOUT" rabbitmq-plugins -q enable "$PLUGIN" >/dev/null || die_with_logs "could not enable $PLUGIN"
    fi
  else
    # Our node is down, so whatever holds the port would only make the new node fail to boot (eaddrinuse).
    if port_open; then
      die "$HOST:$PORT is already taken by another process (another broker, or a RabbitMQ node with" \
          "a different name?) while node ${RABBITMQ_NODENAME:-(default)} is down; free the port or set RABBITMQ_NODE_PORT"
    fi
    # Offline: only edits the enabled_plugins file, which the node reads when it boots; a no-op if already there.
    timeout "$CLI_TIMEOUT" rabbitmq-plugins -q enable --offline "$PLUGIN" >/dev/null \
      || die_with_logs "could not enable $PLUGIN (offline)"
    # Tests connect to loopback and guest may only log in from loopback, so do not listen on every
    # interface when we are the ones starting the node. (Honour an address the caller chose.)
    export RABBITMQ_NODE_IP_ADDRESS="${RABBITMQ_NODE_IP_ADDRESS:-127.0.0.1}"
    log "starting node ${RABBITMQ_NODENAME:-(default)} on $HOST:$PORT"
    START_OUT="$(mktemp)"
    trap 'rm -f "$START_OUT"' EXIT
    # As root, Debian's wrapper re-runs this as the rabbitmq user (su keeps the RABBITMQ_* variables).
    timeout "$CLI_TIMEOUT" rabbitmq-server -detached >"$START_OUT" 2>&1 || die_with_logs "rabbitmq-server -detached failed"
    wait_for "the Erlang node to answer ping" node_up
  fi

  # ping only proves the VM is up; await_startup waits for the rabbit application itself.
  timeout $((WAIT + 10)) rabbitmqctl -q await_startup --timeout "$WAIT" >/dev/null \
    || die_with_logs "the node failed to boot (or took more than ${WAIT}s)"
  wait_for "$HOST:$PORT to accept connections" port_open
  log "RabbitMQ is up on $HOST:$PORT with $PLUGIN (AMQP 0-9-1 and 1.0, guest/guest)"
}

stop_rabbitmq() {
  have_cli || { log "rabbitmq-server is not installed; nothing to stop"; return 0; }
  can_admin || { echo "brokers.sh: ERROR: only root or rabbitmq can stop the node" >&2; exit 1; }
  if ! node_up; then
    log "node ${RABBITMQ_NODENAME:-(default)} is not running"
    return 0
  fi
  # shutdown (unlike stop) also waits until the VM process has exited, so a following start is safe.
  timeout $((WAIT + 10)) rabbitmqctl -q shutdown >/dev/null || die "rabbitmqctl shutdown failed"
  log "node ${RABBITMQ_NODENAME:-(default)} stopped"
}

status_rabbitmq() {
  local node=down port=closed plugin=unknown
  if have_cli && can_admin; then
    if node_up; then
      node=up
      if timeout "$CLI_TIMEOUT" rabbitmq-plugins -q is_enabled "$PLUGIN" >/dev/null 2>&1; then
        plugin=enabled
      else
        plugin="NOT enabled"
      fi
    fi
  elif have_cli; then
    node="unknown (only root or rabbitmq can ask the node)"
  else
    node="unknown (RabbitMQ CLI not installed)"
  fi
  port_open && port=open
  log "rabbitmq node ${RABBITMQ_NODENAME:-(default)}: $node; $HOST:$PORT $port; $PLUGIN: $plugin"
  [[ "$port" == open && "$node" != down ]]
}

main() {
  local action="${1:-}" broker="${2:-rabbitmq}"
  [[ "$broker" == rabbitmq ]] || { echo "brokers.sh: unknown broker '$broker' (only rabbitmq)" >&2; exit 2; }
  case "$action" in
    start) start_rabbitmq ;;
    stop) stop_rabbitmq ;;
    status) status_rabbitmq ;;
    *) echo "usage: bash scripts/brokers.sh start|stop|status [rabbitmq]" >&2; exit 2 ;;
  esac
}

main "$@"
