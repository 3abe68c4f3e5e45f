#!/usr/bin/env bash
# The fault-injection suite as a soak test (for nightly runs): every scenario in turn, with
# three times the load of the test command's short run, for SECONDS (default 600), against the
# sanitized build. Prints the same lost / duplicated / unexpected / integrity table; exits
# non-zero if any scenario failed. Run as root on Debian 12:
#   scripts/soak.sh            # 10 minutes
#   scripts/soak.sh 3600 broker_sigkill store_full
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
root=$PWD
export CCACHE_BASEDIR=${CCACHE_BASEDIR:-$root}
seconds=${1:-600}
shift || true

scripts/deps.sh
cmake -S "$root" -B "$root/build/test" \
  -DCMAKE_BUILD_TYPE=Debug -DCMAKE_CXX_FLAGS_DEBUG="-g -O1" \
  -DSB_SANITIZE=ON -DSB_TESTS=ON >/dev/null
cmake --build "$root/build/test" -j2 --target switchboard

export ASAN_OPTIONS=${ASAN_OPTIONS:-halt_on_error=1:detect_leaks=1:check_initialization_order=1:print_summary=1}
export UBSAN_OPTIONS=${UBSAN_OPTIONS:-halt_on_error=1:print_stacktrace=1:print_summary=1}
export SB_BINARY=$root/build/test/switchboard
# A scenario may run past the end of the soak: give the whole run that much more.
export SB_FAULTS_TIMEOUT=$((seconds + 900))
exec /usr/bin/python3 tests/faults/faults.py --soak "$seconds" "$@"
