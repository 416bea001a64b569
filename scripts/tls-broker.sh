#!/usr/bin/env bash
# scripts/tls-broker.sh - a throwaway RabbitMQ node with TLS listeners on loopback, for the TLS tests
# (test/integration/tls-*.test.ts). It runs beside the main node of scripts/brokers.sh and never
# touches it.
#
#   bash scripts/tls-broker.sh start    generate the certificates if missing, start the node, wait until usable
#   bash scripts/tls-broker.sh status   exit 0 when every TLS port accepts connections
#   bash scripts/tls-broker.sh stop     stop the node (its data and the certificates are kept)
#   bash scripts/tls-broker.sh certs    only generate the certificates
#
# Everything lives under GOFER_TLS_DIR (default /var/tmp/gofer-tls); the tests read the same variable:
#   certs/ca.pem, ca.key           the test CA (EC P-256, 10 years)
#   certs/server.pem, server.key   CN=localhost, SAN DNS:localhost IP:127.0.0.1, signed by the CA
#   certs/wronghost.pem, .key      CN/SAN wrong-host.invalid, signed by the CA (host-name mismatch)
#   certs/client.pem, client.key   CN=gofer-test-client (clientAuth), signed by the CA
#   certs/client-bundle.pem        client certificate and key in one file (gofer's clientcert-only form)
#   certs/other-client.pem, .key   a client certificate signed by other-ca (the broker must refuse it)
#   certs/other-ca.pem, .key       an unrelated CA (a client trusting it must refuse the server)
#   node/                          the node's config, mnesia and logs (owned by the rabbitmq user)
# The keys are throwaway test keys, world-readable on purpose so that any test user can use them.
#
# Listeners (all on 127.0.0.1; AMQP 0-9-1 and, through rabbitmq_amqp1_0, AMQP 1.0, guest/guest):
#   GOFER_TLS_PORT            5681  server.pem, does not ask for a client certificate
#   GOFER_TLS_VERIFY_PORT     5682  server.pem, requires a client certificate signed by the CA
#   GOFER_TLS_WRONGHOST_PORT  5683  wronghost.pem, does not ask for a client certificate
# RabbitMQ applies ssl_options to every TLS listener of a node, so only the first comes from the
# config file; the other two are added after boot with rabbit_networking:start_ssl_listener/3
# (one node instead of three saves ~120 MiB and ~5 s each).
# The plain AMQP listener is off; distribution uses GOFER_TLS_DIST_PORT (25681) on loopback.
# Node name: GOFER_TLS_NODENAME (gofertls@localhost). Waits are bounded by BROKERS_WAIT (120 s).
set -euo pipefail
export PATH="$PATH:/usr/sbin:/sbin"

DIR="${GOFER_TLS_DIR:-/var/tmp/gofer-tls}"
CERTS="$DIR/certs"
NODE="$DIR/node"
PORT="${GOFER_TLS_PORT:-5681}"
VERIFY_PORT="${GOFER_TLS_VERIFY_PORT:-5682}"
WRONGHOST_PORT="${GOFER_TLS_WRONGHOST_PORT:-5683}"
WAIT="${BROKERS_WAIT:-120}"
CLI_TIMEOUT=60

# Our own copies of every file RabbitMQ would otherwise read from /etc/rabbitmq: a machine's
# rabbitmq.conf may set a listener on 5672 (the main node's port), and its rabbitmq-env.conf a
# NODENAME, either of which would make this node clash with the main one.
export RABBITMQ_NODENAME="${GOFER_TLS_NODENAME:-gofertls@localhost}"
export RABBITMQ_DIST_PORT="${GOFER_TLS_DIST_PORT:-25681}"
export RABBITMQ_CONF_ENV_FILE="$NODE/rabbitmq-env.conf"
export RABBITMQ_CONFIG_FILE="$NODE/rabbitmq.conf"
export RABBITMQ_ADVANCED_CONFIG_FILE="$NODE/advanced.config"
export RABBITMQ_ENABLED_PLUGINS_FILE="$NODE/enabled_plugins"
export RABBITMQ_MNESIA_BASE="$NODE/mnesia"
export RABBITMQ_LOG_BASE="$NODE/log"
export RABBITMQ_PID_FILE="$NODE/pid"
# Only loopback: Erlang distribution and (if this node is the one that starts it) epmd.
export RABBITMQ_SERVER_ADDITIONAL_ERL_ARGS="-kernel inet_dist_use_interface {127,0,0,1}"
export ERL_EPMD_ADDRESS="${ERL_EPMD_ADDRESS:-127.0.0.1}"
# The VM runs in /var/lib/rabbitmq (Debian's wrapper cd's there): keep a crash dump out of the main node's home.
export ERL_CRASH_DUMP="$NODE/erl_crash.dump"

log() { echo "tls-broker.sh: $*"; }
die() { echo "tls-broker.sh: ERROR: $*" >&2; exit 1; }

# Why the node did not boot is in its crash dump (a VM that died early) or its log; print them
# so that CI output alone explains a failure. Only files written since this start are shown.
die_with_logs() {
  echo "tls-broker.sh: ERROR: $*" >&2
  local f
  crashed && grep -m1 '^Slogan:' "$ERL_CRASH_DUMP" >&2
  for f in ${START_OUT:-} "$(ls -t "$NODE"/log/*.log 2>/dev/null | head -n 1 || true)"; do
    [[ -n "$f" && -s "$f" && ( -z "${START_OUT:-}" || "$f" == "$START_OUT" || "$f" -nt "$START_OUT" ) ]] || continue
    { echo "----- tail of $f -----"; tail -n 40 "$f"; } >&2
  done
  exit 1
}

# True when the VM we started has died (it writes a crash dump), so waiting longer is pointless.
crashed() { [[ -n "${START_OUT:-}" && -s "$ERL_CRASH_DUMP" && "$ERL_CRASH_DUMP" -nt "$START_OUT" ]]; }
up_or_crashed() { node_up || { crashed && die_with_logs "node $RABBITMQ_NODENAME died while booting"; }; }

port_open() { timeout 3 bash -c "exec 3<>/dev/tcp/127.0.0.1/$1" 2>/dev/null; }
all_ports_open() { port_open "$PORT" && port_open "$VERIFY_PORT" && port_open "$WRONGHOST_PORT"; }
node_up() { timeout "$CLI_TIMEOUT" rabbitmq-diagnostics -q ping >/dev/null 2>&1; }
can_admin() { [[ "$(id -u)" -eq 0 || "$(id -un)" == rabbitmq ]]; }

wait_for() { # wait_for <description> <command...>
  local what="$1" deadline=$((SECONDS + WAIT)); shift
  until "$@"; do
    ((SECONDS < deadline)) || die_with_logs "timed out after ${WAIT}s waiting for $what"
    sleep 0.3
  done
}

# sign <name> <subject CN> <extensions> [ca]: a P-256 key and a certificate signed by ca (default: ca).
sign() {
  local name="$1" cn="$2" ext="$3" ca="${4:-ca}"
  openssl req -new -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -subj "/CN=$cn" \
    -keyout "$CERTS/$name.key" -out "$CERTS/$name.csr" 2>/dev/null
  openssl x509 -req -in "$CERTS/$name.csr" -CA "$CERTS/$ca.pem" -CAkey "$CERTS/$ca.key" -set_serial "0x$(openssl rand -hex 8)" \
    -days 3650 -extfile <(printf '%s\n' "basicConstraints=critical,CA:FALSE" "keyUsage=critical,digitalSignature,keyEncipherment" "$ext") \
    -out "$CERTS/$name.pem" 2>/dev/null
  rm -f "$CERTS/$name.csr"
}

new_ca() {
  openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -days 3650 -subj "/CN=$2" \
    -addext "basicConstraints=critical,CA:TRUE" -addext "keyUsage=critical,keyCertSign,cRLSign" \
    -keyout "$CERTS/$1.key" -out "$CERTS/$1.pem" 2>/dev/null
}

# Idempotent: regenerate everything when a file is missing or the server certificate expires within a day.
make_certs() {
  if ! command -v openssl >/dev/null; then
    # Minimal Debian images have libssl but not the openssl tool.
    [[ "$(id -u)" -eq 0 ]] && command -v apt-get >/dev/null || die "openssl is not installed (apt-get install -y openssl)"
    log "installing openssl with apt-get"
    DEBIAN_FRONTEND=noninteractive apt-get -o DPkg::Lock::Timeout=300 install -y -qq --no-install-recommends openssl >/dev/null \
      || { apt-get -o DPkg::Lock::Timeout=300 update -qq && DEBIAN_FRONTEND=noninteractive apt-get -o DPkg::Lock::Timeout=300 install -y -qq --no-install-recommends openssl >/dev/null; } \
      || die "could not install openssl"
  fi
  local f complete=yes
  for f in ca.pem server.pem server.key wronghost.pem wronghost.key client.pem client.key client-bundle.pem other-ca.pem \
           other-client.pem other-client.key; do
    [[ -s "$CERTS/$f" ]] || complete=no
  done
  if [[ $complete == yes ]] && openssl x509 -checkend 86400 -noout -in "$CERTS/server.pem" >/dev/null; then
    return 0
  fi
  log "generating test certificates in $CERTS"
  rm -rf "$CERTS.new" && mkdir -p "$CERTS.new"
  local final="$CERTS"; CERTS="$CERTS.new"
  new_ca ca "gofer test CA"
  new_ca other-ca "gofer unrelated test CA"
  sign server localhost "subjectAltName=DNS:localhost,IP:127.0.0.1"$'\n'"extendedKeyUsage=serverAuth"
  sign wronghost wrong-host.invalid "subjectAltName=DNS:wrong-host.invalid"$'\n'"extendedKeyUsage=serverAuth"
  sign client gofer-test-client "extendedKeyUsage=clientAuth"
  cat "$CERTS/client.pem" "$CERTS/client.key" >"$CERTS/client-bundle.pem"
  sign other-client gofer-untrusted-client "extendedKeyUsage=clientAuth" other-ca
  chmod 0755 "$CERTS" && chmod 0644 "$CERTS"/*
  CERTS="$final"
  # Swap in whole, so a reader never sees a half-written set; a running node keeps its loaded files.
  rm -rf "$CERTS.old"; [[ -d "$CERTS" ]] && mv "$CERTS" "$CERTS.old"
  mv "$CERTS.new" "$CERTS" && rm -rf "$CERTS.old"
  GENERATED=yes
}

write_node_config() {
  mkdir -p "$NODE/log" "$NODE/mnesia"
  : >"$NODE/rabbitmq-env.conf"
  echo '[].' >"$NODE/advanced.config"
  echo '[rabbitmq_amqp1_0].' >"$NODE/enabled_plugins"
  cat >"$NODE/rabbitmq.conf" <<EOF
listeners.tcp = none
listeners.ssl.1 = 127.0.0.1:$PORT
ssl_options.cacertfile = $CERTS/ca.pem
ssl_options.certfile = $CERTS/server.pem
ssl_options.keyfile = $CERTS/server.key
ssl_options.verify = verify_none
ssl_options.fail_if_no_peer_cert = false
EOF
  if [[ "$(id -u)" -eq 0 ]]; then chown -R rabbitmq:rabbitmq "$NODE"; fi
}

# The two listeners whose ssl options differ from the node-wide ones (see the header).
add_listeners() {
  local missing=()
  port_open "$VERIFY_PORT" || missing+=("{\"$VERIFY_PORT\", \"$CERTS/server\", verify_peer, true}")
  port_open "$WRONGHOST_PORT" || missing+=("{\"$WRONGHOST_PORT\", \"$CERTS/wronghost\", verify_none, false}")
  ((${#missing[@]})) || return 0
  local specs; specs="$(IFS=,; echo "${missing[*]}")"
  local expr="
    [ok = rabbit_networking:start_ssl_listener({\"127.0.0.1\", list_to_integer(P)},
            rabbit_ssl_options:fix([{cacertfile, \"$CERTS/ca.pem\"}, {certfile, F ++ \".pem\"}, {keyfile, F ++ \".key\"},
                                    {verify, V}, {fail_if_no_peer_cert, Fail}]), 1)
     || {P, F, V, Fail} <- [$specs]], ok."
  timeout "$CLI_TIMEOUT" rabbitmqctl -q eval "$expr" >/dev/null || die_with_logs "could not add the TLS listeners on $VERIFY_PORT/$WRONGHOST_PORT"
}

start() {
  make_certs
  command -v rabbitmq-server >/dev/null || die "rabbitmq-server is not installed; run bash scripts/brokers.sh start first"
  if ! can_admin; then
    all_ports_open && { log "not root; ports $PORT/$VERIFY_PORT/$WRONGHOST_PORT accept connections, assuming the TLS node is up"; exit 0; }
    die "only root (or rabbitmq) can start the TLS node"
  fi
  # A running node keeps the certificates it loaded, which no longer match the new CA.
  if [[ "${GENERATED:-}" == yes ]] && node_up; then
    log "certificates were regenerated; restarting node $RABBITMQ_NODENAME"
    stop
  fi
  if node_up; then
    log "node $RABBITMQ_NODENAME is already running"
  else
    local p
    for p in "$PORT" "$VERIFY_PORT" "$WRONGHOST_PORT"; do
      port_open "$p" && die "127.0.0.1:$p is taken by another process while node $RABBITMQ_NODENAME is down"
    done
    write_node_config
    log "starting node $RABBITMQ_NODENAME (TLS on 127.0.0.1:$PORT, $VERIFY_PORT, $WRONGHOST_PORT)"
    START_OUT="$(mktemp)"; trap 'rm -f "$START_OUT"' EXIT
    timeout "$CLI_TIMEOUT" rabbitmq-server -detached >"$START_OUT" 2>&1 || die_with_logs "rabbitmq-server -detached failed"
    wait_for "node $RABBITMQ_NODENAME to answer ping" up_or_crashed
  fi
  timeout $((WAIT + 10)) rabbitmqctl -q await_startup --timeout "$WAIT" >/dev/null || die_with_logs "the node failed to boot"
  wait_for "127.0.0.1:$PORT to accept connections" port_open "$PORT"
  add_listeners
  wait_for "the TLS listeners" all_ports_open
  log "TLS node up: 127.0.0.1:$PORT (no client cert), :$VERIFY_PORT (client cert required), :$WRONGHOST_PORT (wrong-host cert); certificates in $CERTS"
}

stop() {
  command -v rabbitmqctl >/dev/null || { log "rabbitmq-server is not installed; nothing to stop"; return 0; }
  can_admin || die "only root or rabbitmq can stop the node"
  node_up || { log "node $RABBITMQ_NODENAME is not running"; return 0; }
  timeout $((WAIT + 10)) rabbitmqctl -q shutdown >/dev/null || die "rabbitmqctl shutdown failed"
  log "node $RABBITMQ_NODENAME stopped"
}

status() {
  if all_ports_open; then log "up: 127.0.0.1:$PORT, $VERIFY_PORT, $WRONGHOST_PORT"; else log "down (some of $PORT/$VERIFY_PORT/$WRONGHOST_PORT closed)"; return 1; fi
}

case "${1:-}" in
  start) start ;;
  stop) stop ;;
  status) status ;;
  certs) make_certs; log "certificates in $CERTS" ;;
  *) echo "usage: bash scripts/tls-broker.sh start|stop|status|certs" >&2; exit 2 ;;
esac
