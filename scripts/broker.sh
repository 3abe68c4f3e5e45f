#!/usr/bin/env bash
# shellcheck disable=SC2030,SC2031  # the exports in the ( ) & below are meant for the broker only
# A private RabbitMQ node (Debian's rabbitmq-server 3.10) for tests and local runs.
#
# As a library (bash):
#   source scripts/broker.sh
#   sb_broker_start DIR [PORT] [NODE]   # PORT and NODE are picked when empty
#   ...                                 # SB_TEST_AMQP_URL, SB_TEST_BROKER_NODE are exported
#   sb_broker_stop DIR [--keep]         # --keep leaves the data in DIR (for the next start)
# sb_broker_start is sb_broker_launch (returns at once) followed by sb_broker_wait, so a
# caller can build while the broker boots.
#
# As a command:
#   eval "$(scripts/broker.sh start DIR)"   # prints the export lines
#   scripts/broker.sh stop DIR [--keep]
#
# Everything the node needs lives in DIR (owned by rabbitmq:rabbitmq: the node runs as that
# user, as Debian's scripts run it): DIR/broker.env records the node, ports and pids for stop.
# The AMQP port and the Erlang distribution port are picked free from a random base, so two
# private brokers (or one beside a system broker on 5672/25672) never clash. Run as root.

# Ports: probe 127.0.0.1 with a connect (something listens) and, when Debian's python3 is
# there, a bind (something holds it without listening).
sb_port_free() {
  local port=$1
  # Reserved by RabbitMQ itself: 25672+ is the default distribution port of a system broker,
  # and Debian's rabbitmq-env pins rabbitmqctl's own Erlang listener to 35672-35682.
  if ((port >= 25672 && port <= 25682)) || ((port >= 35672 && port <= 35682)); then
    return 1
  fi
  if (exec 3<>"/dev/tcp/127.0.0.1/$port") 2>/dev/null; then
    return 1
  fi
  if [[ -x /usr/bin/python3 ]]; then
    /usr/bin/python3 -c 'import socket, sys
s = socket.socket()
s.bind(("127.0.0.1", int(sys.argv[1])))' "$port" 2>/dev/null || return 1
  fi
  return 0
}

# sb_pick_port FROM: prints the first free port at or after FROM.
sb_pick_port() {
  local port=$1
  while ! sb_port_free "$port"; do
    port=$((port + 1))
    if ((port > 45000)); then
      echo "broker.sh: no free port found" >&2
      return 1
    fi
  done
  echo "$port"
}

# sb_port_answers HOST PORT: something accepts TCP connections there.
sb_port_answers() {
  (exec 3<>"/dev/tcp/$1/$2") 2>/dev/null
}

sb__log_tail() {
  local dir=$1 f
  echo "---- broker output ($dir/console.log) ----" >&2
  tail -n 30 "$dir/console.log" >&2 2>/dev/null || true
  for f in "$dir"/log/*.log; do
    [[ -f $f ]] || continue
    echo "---- broker log ($f) ----" >&2
    tail -n 40 "$f" >&2
  done
}

# sb_broker_env DIR: exports the variables for a broker described by DIR/broker.env.
sb_broker_env() {
  local dir=$1
  # shellcheck source=/dev/null
  source "$dir/broker.env"
  export SB_TEST_AMQP_URL="amqp://guest:guest@127.0.0.1:${SB_BROKER_PORT}/%2f"
  export SB_TEST_BROKER_NODE=$SB_BROKER_NODE
  # So a bare `rabbitmqctl` (and the CLI's own distribution port range) target this node.
  export RABBITMQ_NODENAME=$SB_BROKER_NODE RABBITMQ_DIST_PORT=$SB_BROKER_DIST_PORT
}

# sb_broker_launch DIR [PORT] [NODE]: starts the node in the background and returns.
sb_broker_launch() {
  local dir=${1:?usage: sb_broker_launch DIR [PORT] [NODE]} port=${2:-} node=${3:-}
  if [[ $EUID -ne 0 ]]; then
    echo "broker.sh: must run as root (the RabbitMQ scripts switch to the rabbitmq user)" >&2
    return 1
  fi
  if [[ ! -x /usr/lib/rabbitmq/bin/rabbitmq-server ]]; then
    echo "broker.sh: rabbitmq-server is not installed (run scripts/deps.sh)" >&2
    return 1
  fi
  [[ -n $node ]] || node="sbtest-$$-$RANDOM@localhost"
  # Below the kernel's ephemeral range (32768+), so outgoing connections never take our port.
  local base=$((20000 + RANDOM % 12000))
  if [[ -z $port ]]; then
    port=$(sb_pick_port "$base") || return 1
  elif ! sb_port_free "$port"; then
    echo "broker.sh: port $port on 127.0.0.1 is already in use" >&2
    return 1
  fi
  local dist
  dist=$(sb_pick_port $((base + 1))) || return 1
  if ((dist == port)); then
    dist=$(sb_pick_port $((port + 1))) || return 1
  fi

  mkdir -p "$dir/mnesia" "$dir/log"
  dir=$(cd "$dir" && pwd)
  # The rabbitmq user must be able to reach DIR: every parent needs o+x.
  local p=$dir
  while [[ $p != / ]]; do
    p=$(dirname "$p")
    if ! runuser -u rabbitmq -- test -x "$p" 2>/dev/null; then
      echo "broker.sh: $p is not traversable by the rabbitmq user (chmod o+x it, or use another dir)" >&2
      return 1
    fi
  done
  cat >"$dir/rabbitmq.conf" <<EOF
# Written by scripts/broker.sh: a private node on loopback only.
listeners.tcp.default = 127.0.0.1:$port
loopback_users.guest = true
log.console = false
log.file.level = info
EOF
  echo '[].' >"$dir/enabled_plugins"
  # The CLI's erlang cookie is /var/lib/rabbitmq/.erlang.cookie (HOME of rabbitmq): the node
  # and rabbitmqctl both run as that user, so they share it.
  cat >"$dir/broker.env" <<EOF
SB_BROKER_DIR='$dir'
SB_BROKER_NODE='$node'
SB_BROKER_PORT=$port
SB_BROKER_DIST_PORT=$dist
EOF
  rm -f "$dir/rabbitmq.pid" "$dir/session.pid"
  chown -R rabbitmq:rabbitmq "$dir"

  (
    export RABBITMQ_NODENAME=$node
    export RABBITMQ_NODE_IP_ADDRESS=127.0.0.1
    export RABBITMQ_NODE_PORT=$port
    export RABBITMQ_DIST_PORT=$dist
    export RABBITMQ_MNESIA_BASE=$dir/mnesia
    export RABBITMQ_LOG_BASE=$dir/log
    export RABBITMQ_CONFIG_FILE=$dir/rabbitmq
    export RABBITMQ_ADVANCED_CONFIG_FILE=$dir/advanced.config
    export RABBITMQ_ENABLED_PLUGINS_FILE=$dir/enabled_plugins
    export RABBITMQ_PID_FILE=$dir/rabbitmq.pid
    # Erlang distribution on loopback only, too.
    export RABBITMQ_SERVER_ADDITIONAL_ERL_ARGS="-kernel inet_dist_use_interface {127,0,0,1}"
    export ERL_CRASH_DUMP=$dir/erl_crash.dump
    # The Debian wrapper /usr/sbin/rabbitmq-server would `su rabbitmq -c ...`, and su puts
    # the server in a session of its own that killing our process group does not reach (a
    # broker stopped while it boots would live on). So switch user here as the wrapper does
    # (HOME and cwd /var/lib/rabbitmq, where the erlang cookie that rabbitmqctl also uses is),
    # keeping the start script and the Erlang VM in the session that setsid makes: Ctrl-C in
    # the caller's terminal does not reach it, and stop can signal the whole group.
    # session.pid is that session's id.
    # shellcheck disable=SC2016  # $$ and $1 belong to the inner bash
    exec setsid bash -c 'echo $$ >"$1/session.pid"; cd /var/lib/rabbitmq
      exec setpriv --reuid=rabbitmq --regid=rabbitmq --init-groups \
        env HOME=/var/lib/rabbitmq USER=rabbitmq LOGNAME=rabbitmq SHELL=/bin/sh \
        /usr/lib/rabbitmq/bin/rabbitmq-server' _ "$dir" \
      </dev/null >"$dir/console.log" 2>&1
  ) &
  # Wait until the session id is recorded, so stop always has it.
  for _ in $(seq 50); do
    [[ -s $dir/session.pid ]] && break
    sleep 0.1
  done
  echo "SB_BROKER_SESSION=$(cat "$dir/session.pid" 2>/dev/null)" >>"$dir/broker.env"
  SB_BROKER_STARTED_AT=$(date +%s.%N)
  sb_broker_env "$dir"
}

# sb_broker_wait DIR [TIMEOUT]: waits until the AMQP port answers (default 60 s).
sb_broker_wait() {
  local dir=${1:?usage: sb_broker_wait DIR [TIMEOUT]} timeout=${2:-60}
  sb_broker_env "$dir"
  local deadline=$((SECONDS + timeout))
  while ! sb_port_answers 127.0.0.1 "$SB_BROKER_PORT"; do
    if [[ -n ${SB_BROKER_SESSION:-} ]] && ! kill -0 "$SB_BROKER_SESSION" 2>/dev/null; then
      echo "broker.sh: RabbitMQ node $SB_BROKER_NODE exited during start-up" >&2
      sb__log_tail "$dir"
      return 1
    fi
    if ((SECONDS >= deadline)); then
      echo "broker.sh: RabbitMQ node $SB_BROKER_NODE did not answer on 127.0.0.1:$SB_BROKER_PORT within ${timeout}s" >&2
      sb__log_tail "$dir"
      return 1
    fi
    sleep 0.2
  done
  local took=""
  if [[ -n ${SB_BROKER_STARTED_AT:-} ]]; then
    took=$(awk -v a="$SB_BROKER_STARTED_AT" -v b="$(date +%s.%N)" 'BEGIN{printf " %.1fs after launch", b - a}')
  fi
  echo "broker.sh: RabbitMQ node $SB_BROKER_NODE up on 127.0.0.1:$SB_BROKER_PORT$took (data in $dir)" >&2
}

# sb_broker_start DIR [PORT] [NODE]: launch + wait. On failure the node is stopped again.
sb_broker_start() {
  local dir=${1:?usage: sb_broker_start DIR [PORT] [NODE]}
  sb_broker_launch "$@" || return 1
  if ! sb_broker_wait "$dir"; then
    sb_broker_stop "$dir" --keep
    return 1
  fi
}

sb__alive() {
  [[ -n ${1:-} ]] && kill -0 "$1" 2>/dev/null
}

# sb__wait_gone PID SESSION: waits up to 5 s until neither is alive.
sb__wait_gone() {
  for _ in $(seq 50); do
    sb__alive "$1" || sb__alive "$2" || return 0
    sleep 0.1
  done
  return 1
}

# sb_broker_stop DIR [--keep]: stops the node (rabbitmqctl stop, then signals) and removes
# DIR unless --keep. Safe to call twice, or for a node that never came up.
sb_broker_stop() {
  local dir=${1:?usage: sb_broker_stop DIR [--keep]} keep=${2:-}
  if [[ ! -f $dir/broker.env ]]; then
    [[ $keep == --keep ]] || rm -rf "$dir"
    return 0
  fi
  local SB_BROKER_NODE="" SB_BROKER_SESSION="" beam=""
  # shellcheck source=/dev/null
  source "$dir/broker.env"
  beam=$(cat "$dir/rabbitmq.pid" 2>/dev/null || true)
  if sb__alive "$beam"; then
    # Passing the pid file makes rabbitmqctl wait until the node's OS process is gone.
    timeout 30 rabbitmqctl -q -n "$SB_BROKER_NODE" stop "$dir/rabbitmq.pid" >/dev/null 2>&1 || true
    sb__wait_gone "$beam" "$SB_BROKER_SESSION" || true
  fi
  # Still there (or stopped while booting): SIGTERM (a graceful stop for the Erlang VM), then
  # SIGKILL, to the VM, to its process group (the rabbitmq user's session that su opened: the
  # start script and the VM's helpers) and to the session we started.
  local sig group
  for sig in TERM KILL; do
    beam=$(cat "$dir/rabbitmq.pid" 2>/dev/null || echo "$beam")
    sb__alive "$beam" || sb__alive "$SB_BROKER_SESSION" || break
    echo "broker.sh: sending SIG$sig to RabbitMQ node $SB_BROKER_NODE" >&2
    if sb__alive "$beam"; then
      group=$(ps -o pgid= -p "$beam" 2>/dev/null | tr -d ' ' || true)
      kill -s "$sig" "$beam" 2>/dev/null || true
      [[ -z $group || $group == 1 ]] || kill -s "$sig" -- "-$group" 2>/dev/null || true
    fi
    if sb__alive "$SB_BROKER_SESSION"; then
      kill -s "$sig" -- "-$SB_BROKER_SESSION" 2>/dev/null || true
    fi
    sb__wait_gone "$beam" "$SB_BROKER_SESSION" || true
  done
  # epmd (the Erlang port mapper on 4369, started by the first node) is left running: it is
  # shared by every Erlang node on the machine, and ending it while another node is starting
  # up would make that node fail. It holds no files and detaches from our terminal.
  rm -f "$dir/rabbitmq.pid" "$dir/session.pid"
  if [[ $keep != --keep ]]; then
    rm -rf "$dir"
  fi
  return 0
}

# For the benchmarks (scripts/bench.sh, bench/cpu_pairs.sh): sb_bench_begin NAME makes $work,
# a private directory removed at exit, starts a node in $work/broker (stopped at exit), and
# kills $daemon_pid at exit when the caller has set it.
sb_bench_begin() {
  work=$(mktemp -d "${TMPDIR:-/tmp}/switchboard-$1.XXXXXX")
  chmod 755 "$work"
  daemon_pid=""
  trap sb__bench_end EXIT
  trap 'exit 130' INT
  trap 'exit 143' TERM
  mkdir -p "$work/broker"
  sb_broker_start "$work/broker" >/dev/null
}

sb__bench_end() {
  [[ -z $daemon_pid ]] || kill "$daemon_pid" 2>/dev/null || true
  sb_broker_stop "$work/broker" || true
  rm -rf "$work"
}

if [[ ${BASH_SOURCE[0]} == "$0" ]]; then
  set -euo pipefail
  case ${1:-} in
    start)
      [[ -n ${2:-} ]] || { echo "usage: $0 start DIR [PORT] [NODE]" >&2; exit 2; }
      sb_broker_start "$2" "${3:-}" "${4:-}"
      echo "export SB_TEST_AMQP_URL='$SB_TEST_AMQP_URL' SB_TEST_BROKER_NODE='$SB_TEST_BROKER_NODE'"
      echo "export RABBITMQ_NODENAME='$RABBITMQ_NODENAME' RABBITMQ_DIST_PORT='$RABBITMQ_DIST_PORT'"
      ;;
    stop)
      [[ -n ${2:-} ]] || { echo "usage: $0 stop DIR [--keep]" >&2; exit 2; }
      sb_broker_stop "$2" "${3:-}"
      ;;
    *)
      echo "usage: $0 start DIR [PORT] [NODE] | stop DIR [--keep]" >&2
      exit 2
      ;;
  esac
fi
