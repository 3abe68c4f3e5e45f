#!/usr/bin/env bash
# Builds Switchboard (Release, build/release) and runs it in the foreground with
# conf/switchboard.yaml (or the file in SB_CONFIG). When nothing answers at the broker address
# of that config and it is this machine, a private RabbitMQ node is started on that port for
# the daemon (data kept in ./state/rabbitmq between runs) and stopped again afterwards.
#
# Ctrl-C (or SIGTERM to this script) stops the daemon gracefully, then the broker; a second
# Ctrl-C makes the daemon exit without draining. Run as root on Debian 12, from anywhere.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
root=$PWD
# ccache keys on paths relative to the checkout, so a fresh clone reuses an earlier build.
export CCACHE_BASEDIR=${CCACHE_BASEDIR:-$root}

scripts/deps.sh

config=${SB_CONFIG:-conf/switchboard.yaml}
if [[ ! -f $config ]]; then
  echo "run.sh: no config file at $config" >&2
  exit 2
fi

cmake -S "$root" -B "$root/build/release" -DCMAKE_BUILD_TYPE=Release -DSB_TESTS=OFF >/dev/null
cmake --build "$root/build/release" -j2 --target switchboard
binary=$root/build/release/switchboard

# The store path of the default config is "${STATE_DIRECTORY:-state}/switchboard.db".
mkdir -p "${STATE_DIRECTORY:-state}"

# broker.url: the first `url:` inside the top-level `broker:` block, quotes and comment
# stripped, with ${VAR} and ${VAR:-default} expanded as the daemon does.
url=$(awk '
  /^[^[:space:]#]/ { in_broker = ($0 ~ /^broker:/) }
  in_broker && /^[[:space:]]+url:/ {
    sub(/^[[:space:]]+url:[[:space:]]*/, "")
    if ($0 ~ /^"/) { sub(/^"/, ""); sub(/".*$/, "") }
    else if ($0 ~ /^\047/) { sub(/^\047/, ""); sub(/\047.*$/, "") }
    else { sub(/[[:space:]]+#.*$/, ""); sub(/[[:space:]]+$/, "") }
    print; exit
  }' "$config")
for _ in 1 2 3 4 5 6 7 8; do
  [[ $url =~ \$\{([A-Za-z_][A-Za-z0-9_]*)(:-([^}]*))?\} ]] || break
  name=${BASH_REMATCH[1]}
  value=${!name:-${BASH_REMATCH[3]}}
  url=${url/"${BASH_REMATCH[0]}"/"$value"}
done
url=${url:-amqp://guest:guest@127.0.0.1:5672/%2f}

# amqp[s]://[user[:pass]@]host[:port][/vhost]
rest=${url#*://}
rest=${rest%%/*}
hostport=${rest##*@}
if [[ $hostport =~ ^\[([^]]*)\](:([0-9]+))?$ ]] || [[ $hostport =~ ^([^:]*)(:([0-9]+))?$ ]]; then
  host=${BASH_REMATCH[1]}
  port=${BASH_REMATCH[3]}
else
  echo "run.sh: cannot read host and port from broker.url in $config" >&2
  exit 2
fi
[[ -n $port ]] || { [[ $url == amqps://* ]] && port=5671 || port=5672; }
host=${host:-127.0.0.1}

# shellcheck source=scripts/broker.sh
source scripts/broker.sh
broker_dir=""
daemon=""
trap '[[ -z $broker_dir ]] || sb_broker_stop "$broker_dir" --keep || true' EXIT

case $host in
  127.0.0.1 | localhost | ::1) local_broker=1 ;;
  *) local_broker=0 ;;
esac
probe_host=$host
[[ $host == localhost ]] && probe_host=127.0.0.1
if sb_port_answers "$probe_host" "$port"; then
  echo "run.sh: using the RabbitMQ broker already answering at $host:$port" >&2
elif ((local_broker)) && [[ $url == amqp://* ]]; then
  # ./state/rabbitmq, unless the rabbitmq user cannot reach it (a checkout under /root, whose
  # mode is 0700): then a directory of its own under /var/lib/rabbitmq.
  broker_dir=$root/state/rabbitmq
  if ! runuser -u rabbitmq -- test -x "$root/state" 2>/dev/null; then
    broker_dir=/var/lib/rabbitmq/switchboard-local-$(printf %s "$root" | cksum | cut -d' ' -f1)
    echo "run.sh: $root/state is not reachable by the rabbitmq user; broker data goes to $broker_dir" >&2
  fi
  case $rest in
    *@*) user=${rest%@*}; user=${user%%:*} ;;
    *) user=guest ;;
  esac
  if [[ $user != guest ]]; then
    echo "run.sh: note: the local broker only has the user guest/guest; broker.url uses '$user'" >&2
  fi
  echo "run.sh: nothing answers at $host:$port; starting a local RabbitMQ node there" >&2
  sb_broker_start "$broker_dir" "$port" switchboard-local@localhost
else
  echo "run.sh: warning: no broker answers at $host:$port; the daemon keeps retrying until one does" >&2
fi

# The daemon runs in its own process group (job control on), so a Ctrl-C in the terminal
# reaches only this script, which passes exactly one signal on: the daemon drains on the first
# and exits at once on a second.
set -m
"$binary" --config "$config" &
daemon=$!
set +m
trap '[[ -z $daemon ]] || kill -INT "$daemon" 2>/dev/null || true' INT
trap '[[ -z $daemon ]] || kill -TERM "$daemon" 2>/dev/null || true' TERM HUP

status=0
while :; do
  if wait "$daemon"; then status=0; else status=$?; fi
  kill -0 "$daemon" 2>/dev/null || break
done
daemon=""
echo "run.sh: switchboard exited with status $status" >&2
exit "$status"
