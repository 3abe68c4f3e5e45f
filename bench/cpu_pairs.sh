#!/usr/bin/env bash
# Where the daemon's CPU goes, per thread, for two builds side by side (docs/performance.md):
# interleaved closed loops of the same signed webhooks (bench/gen_requests.py) against each
# binary in turn, on a fresh store each time, with a private RabbitMQ and bench/consumer
# draining the queues. Each daemon thread's CPU (utime + stime of /proc/PID/task/*/stat) is
# read before and after the load and divided by the messages the consumer received. This VM is
# noisy: compare pairs, not single runs.
#   bench/cpu_pairs.sh [--pairs N] [--count COUNT] [--connections C] BINARY_A BINARY_B
# Defaults: 5 pairs of 40,000 webhooks at 128 connections over 10,000 customers per channel
# type. The load generator and consumer come from build/release (built here if missing).
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
root=$PWD
pairs=5 count=40000 conns=128 customers=10000
while [[ ${1:-} == --* ]]; do
  case $1 in
    --pairs) pairs=$2 ;;
    --count) count=$2 ;;
    --connections) conns=$2 ;;
    *) echo "unknown option $1" >&2; exit 2 ;;
  esac
  shift 2
done
[[ $# -eq 2 && -x $1 && -x $2 ]] || {
  echo "usage: bench/cpu_pairs.sh [--pairs N] [--count COUNT] [--connections C] BINARY_A BINARY_B" >&2
  exit 2
}
bins=("$(realpath "$1")" "$(realpath "$2")")
build=$root/build/release
py=/usr/bin/python3
if [[ ! -x $build/loadgen || ! -x $build/consumer ]]; then
  cmake -S "$root" -B "$build" -DCMAKE_BUILD_TYPE=Release -DSB_TESTS=OFF >/dev/null
  cmake --build "$build" -j2 --target loadgen consumer
fi

# shellcheck source=scripts/broker.sh
source scripts/broker.sh
sb_bench_begin cpu-pairs
mkdir -p "$work/store"
port=$(sb_pick_port 38500)
$py bench/gen_requests.py --out "$work/gen" --port "$port" --amqp "$SB_TEST_AMQP_URL" \
  --exchange bench --store "$work/store/switchboard.db" --count "$count" \
  --customers "$customers" >/dev/null

threads() {  # one line per daemon thread: name ticks (threads of one name summed)
  for t in /proc/"$daemon_pid"/task/*; do
    awk '{sub(/^[0-9]+ \(/, ""); name = $0; sub(/\).*/, "", name); sub(/^[^)]*\) /, "");
          print name, $12 + $13}' "$t/stat" 2>/dev/null || true
  done | awk '{n = $1; sub(/-[0-9]+$/, "", n); s[n] += $2} END {for (k in s) print k, s[k]}'
}

one_run() {  # one_run LABEL BINARY: appends "label thread µs/message" lines and the rate
  local label=$1 bin=$2
  rm -rf "$work/store" && mkdir -p "$work/store"
  "$bin" --config "$work/gen/switchboard.yaml" --log-level warn >>"$work/daemon.log" 2>&1 &
  daemon_pid=$!
  until curl -sf "http://127.0.0.1:$port/healthz" >/dev/null 2>&1; do
    kill -0 "$daemon_pid" 2>/dev/null || { tail "$work/daemon.log" >&2; exit 1; }
    sleep 0.01
  done
  "$build/consumer" --url "$SB_TEST_AMQP_URL" --queue bench.general --queue bench.billing \
    --expect "$count" --idle 20 >"$work/consumer.json" &
  local consumer=$!
  threads >"$work/before"
  "$build/loadgen" --port "$port" --requests "$work/gen/requests.bin" \
    --connections "$conns" >"$work/load.json"
  wait "$consumer"  # the publisher's work ends when the last message is consumed
  threads >"$work/after"
  kill -TERM "$daemon_pid"
  wait "$daemon_pid" || true
  daemon_pid=""
  $py - "$label" "$work" "$(getconf CLK_TCK)" <<'EOF' >>"$work/results"
import json, sys
label, work, hz = sys.argv[1], sys.argv[2], int(sys.argv[3])
before = dict(l.split() for l in open(f"{work}/before"))
after = dict(l.split() for l in open(f"{work}/after"))
load = json.load(open(f"{work}/load.json"))
consumed = json.load(open(f"{work}/consumer.json"))["distinct"]
total = 0.0
merged_after, merged_before = {}, {}
for name in after:  # the main thread is named after the binary
    known = ("sb-http", "sb-writer", "sb-publisher", "sb-checkpoint")
    key = name if name in known else "main"
    merged_after[key] = merged_after.get(key, 0) + int(after[name])
    merged_before[key] = merged_before.get(key, 0) + int(before.get(name, 0))
after, before = merged_after, merged_before
for name in sorted(after):
    us = (int(after[name]) - int(before.get(name, 0))) / hz * 1e6 / max(consumed, 1)
    total += us
    print(label, name, f"{us:.1f}")
print(label, "daemon", f"{total:.1f}")
print(label, "rate", f"{load['throughput']:.0f}")
print(label, "2xx", f"{load['ok']}/{load['requests']}", "consumed", consumed)
EOF
}

for ((i = 1; i <= pairs; i++)); do
  # Alternate which goes first: the VM's slow minutes fall on both.
  if ((i % 2)); then order=(0 1); else order=(1 0); fi
  for k in "${order[@]}"; do
    one_run "$([[ $k == 0 ]] && echo A || echo B)" "${bins[$k]}"
  done
done

$py - "$work/results" "${bins[0]}" "${bins[1]}" "$count" "$conns" <<'EOF'
import collections, statistics, sys
path, a, b, count, conns = sys.argv[1:]
runs = collections.defaultdict(lambda: collections.defaultdict(list))
checks = []
for line in open(path):
    f = line.split()
    if f[1] == "2xx":
        checks.append(line.strip())
        continue
    runs[f[0]][f[1]].append(float(f[2]))
print(f"A = {a}\nB = {b}\n{count} webhooks per run, closed loop at {conns} connections; "
      "CPU µs per message consumed, each run, then the mean")
names = sorted(set(runs["A"]) | set(runs["B"]), key=lambda n: (n in ("daemon", "rate"), n))
for n in names:
    for label in ("A", "B"):
        v = runs[label].get(n, [])
        if v:
            print(f"{n:<14} {label}  {' '.join(f'{x:>7.1f}' for x in v)}   mean {statistics.mean(v):.1f}")
for c in checks:
    print(c)
EOF
