#!/usr/bin/env bash
# Builds the libFuzzer targets (fuzz/, issue #7) with clang in build/fuzz and runs each one:
#   scripts/fuzz.sh                          # every target, 600 s each
#   scripts/fuzz.sh 60                       # every target, 60 s each
#   scripts/fuzz.sh 30 fuzz_http fuzz_channel_chat
# Two targets run at a time (FUZZ_JOBS, default: the number of cores), stdin from /dev/null.
# Each starts from its working corpus build/fuzz/corpus/<target> (the seeds of
# fuzz/corpus/<target> copied in, and whatever earlier runs found: it grows across runs) with
# fuzz/dicts/<target>.dict; crashes, timeouts, leaks and OOMs go to build/fuzz/artifacts/<target>/
# and logs to build/fuzz/logs/<target>.log. Nothing is written into the source tree.
# Before fuzzing, each target replays its saved reproducers (fuzz/regressions/<target>/).
# Prints a table (target, executions, coverage, corpus, result); exits 1 on any finding.
# Reproduce a finding: build/fuzz/fuzz/<target> <artifact> (SB_FUZZ_VERBOSE=1 says more).
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
root=$PWD
export CCACHE_BASEDIR=${CCACHE_BASEDIR:-$root}

seconds=${1:-600}
if [[ ! $seconds =~ ^[0-9]+$ ]]; then
  echo "usage: scripts/fuzz.sh [SECONDS_PER_TARGET] [TARGET...]" >&2
  exit 2
fi
shift $(($# > 0 ? 1 : 0))

scripts/deps.sh

build=$root/build/fuzz
# RelWithDebInfo without its -DNDEBUG: asserts (Boost's included) stay on while fuzzing.
CC=clang CXX=clang++ cmake -S "$root" -B "$build" -DSB_FUZZ=ON -DSB_TESTS=OFF -DSB_SANITIZE=OFF \
  -DCMAKE_BUILD_TYPE=RelWithDebInfo -DCMAKE_CXX_FLAGS_RELWITHDEBINFO="-O2 -g" >/dev/null
cmake --build "$build" --target fuzz -j2

if (($# > 0)); then
  targets=("$@")
else
  targets=()
  for dir in "$root"/fuzz/corpus/*/; do targets+=("$(basename "$dir")"); done
fi
for t in "${targets[@]}"; do
  [[ -x $build/fuzz/$t ]] || { echo "fuzz.sh: no fuzz target $t in $build/fuzz" >&2; exit 2; }
done

symbolizer=$(command -v llvm-symbolizer || command -v llvm-symbolizer-14 || true)
[[ -z $symbolizer ]] || export ASAN_SYMBOLIZER_PATH=$symbolizer
export ASAN_OPTIONS=${ASAN_OPTIONS:-detect_leaks=1:check_initialization_order=1:print_summary=1}
export UBSAN_OPTIONS=${UBSAN_OPTIONS:-halt_on_error=1:print_stacktrace=1:print_summary=1}
mkdir -p "$build/logs" "$build/results"

# One target: replay its reproducers, then fuzz. Writes "runs cov corpus result" to results/.
run_target() {
  local t=$1 bin=$build/fuzz/$1 log=$build/logs/$1.log
  local corpus=$build/corpus/$t artifacts=$build/artifacts/$t/
  local -a dict=()
  mkdir -p "$corpus" "$artifacts"
  cp -n "$root/fuzz/corpus/$t/"* "$corpus/" 2>/dev/null || true
  if [[ -f $root/fuzz/dicts/$t.dict ]]; then dict=(-dict="$root/fuzz/dicts/$t.dict"); fi
  : >"$log"
  local status=0
  if compgen -G "$root/fuzz/regressions/$t/*" >/dev/null; then
    "$bin" -rss_limit_mb=2048 -timeout=10 "$root/fuzz/regressions/$t/"* </dev/null >>"$log" 2>&1 ||
      status=$?
    if ((status != 0)); then
      echo "- - - REGRESSION(see $log)" >"$build/results/$t"
      return
    fi
  fi
  "$bin" -max_total_time="$seconds" -rss_limit_mb=2048 -timeout=10 -print_final_stats=1 \
    -artifact_prefix="$artifacts" "${dict[@]}" "$corpus" </dev/null >>"$log" 2>&1 || status=$?
  # The last status line: "#123456 DONE cov: 2411 ft: 9630 corp: 412/96Kb lim: 4096 ...".
  local stats runs cov corp result=ok
  stats=$(grep -E '^#[0-9]+.*cov: ' "$log" | tail -n 1 || true)
  runs=$(sed -n 's/^stat::number_of_executed_units: *//p' "$log" | tail -n 1)
  [[ -n $runs ]] || runs=$(sed -E 's/^#([0-9]+).*/\1/' <<<"$stats")
  cov=$(sed -nE 's/.* cov: ([0-9]+).*/\1/p' <<<"$stats")
  corp=$(sed -nE 's/.* corp: ([^ ]+).*/\1/p' <<<"$stats")
  if ((status != 0)); then
    local artifact
    artifact=$(sed -n 's/.*Test unit written to //p' "$log" | tail -n 1)
    result="CRASH(${artifact:-exit $status, see $log})"
  fi
  echo "${runs:--} ${cov:--} ${corp:--} $result" >"$build/results/$t"
}

jobs=${FUZZ_JOBS:-$(nproc)}
echo "fuzz.sh: ${#targets[@]} targets, ${seconds} s each, $jobs at a time" >&2
rm -f "$build/results/"*
for t in "${targets[@]}"; do
  while (($(jobs -rp | wc -l) >= jobs)); do wait -n || true; done
  run_target "$t" &
done
wait

status=0
printf '%-26s %12s %7s %14s  %s\n' target runs cov corpus result
for t in "${targets[@]}"; do
  runs=- cov=- corp=- result="FAILED(no result, see $build/logs/$t.log)"
  [[ ! -f $build/results/$t ]] || read -r runs cov corp result <"$build/results/$t"
  printf '%-26s %12s %7s %14s  %s\n' "$t" "$runs" "$cov" "$corp" "$result"
  [[ $result == ok ]] || status=1
done
exit "$status"
