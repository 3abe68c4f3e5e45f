#!/usr/bin/env bash
# Builds Switchboard with AddressSanitizer + UndefinedBehaviorSanitizer in build/test, starts a
# private RabbitMQ node, and runs every test against it with ctest. Extra arguments go to ctest:
#   scripts/test.sh                 # everything (unit, integration, e2e, faults, package, fuzz)
#   scripts/test.sh -L unit         # one label
#   scripts/test.sh -R e2e.test_x -V
# Run as root on Debian 12 (deps.sh installs what is missing; the broker runs as rabbitmq).
# Exits with ctest's status. The broker is stopped and its data removed however this ends
# (pass, fail, Ctrl-C; a SIGTERM sent to this script alone, not its process group, takes effect
# when the running build or ctest step returns; only SIGKILL leaves the broker behind).
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
root=$PWD
# ccache keys on paths relative to the checkout, so a fresh clone reuses an earlier build.
export CCACHE_BASEDIR=${CCACHE_BASEDIR:-$root}

scripts/deps.sh

# shellcheck source=scripts/broker.sh
source scripts/broker.sh
broker_dir=""
trap '[[ -z $broker_dir ]] || sb_broker_stop "$broker_dir" || true' EXIT
trap 'exit 130' INT
trap 'exit 143' TERM
trap 'exit 129' HUP

# Boot the broker (about 5 s) while the build runs. mktemp makes a 0700 dir, and the broker
# runs as the rabbitmq user, which must be able to enter it.
broker_dir=$(mktemp -d "${TMPDIR:-/tmp}/switchboard-test-broker.XXXXXX")
chmod 755 "$broker_dir"
sb_broker_launch "$broker_dir"

# -O1 keeps the sanitized build and its tests fast enough; -g for the stack traces.
cmake -S "$root" -B "$root/build/test" \
  -DCMAKE_BUILD_TYPE=Debug -DCMAKE_CXX_FLAGS_DEBUG="-g -O1" \
  -DSB_SANITIZE=ON -DSB_TESTS=ON
cmake --build "$root/build/test" -j2

sb_broker_wait "$broker_dir"

# Any sanitizer report fails the test that triggered it. LeakSanitizer works on this machine
# (checked: it reports a leak, also while other threads are still running at exit), so leaks
# fail too. Set ASAN_OPTIONS / UBSAN_OPTIONS yourself to override.
export ASAN_OPTIONS=${ASAN_OPTIONS:-halt_on_error=1:detect_leaks=1:check_initialization_order=1:print_summary=1}
export UBSAN_OPTIONS=${UBSAN_OPTIONS:-halt_on_error=1:print_stacktrace=1:print_summary=1}

status=0
# Two at a time (the machine's two cores): the unit, integration and e2e tests each wait on
# their own daemon, broker and commits much of the time. Those that load the machine or share
# the broker's state (integration.broker, e2e.test_broker_outage, faults, package, fuzz) are
# RUN_SERIAL in tests/CMakeLists.txt and run alone.
ctest --test-dir "$root/build/test" -j2 --output-on-failure --no-tests=error "$@" || status=$?
exit "$status"
