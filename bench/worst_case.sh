#!/usr/bin/env bash
# The worst-case input benchmark (issue #18; docs/reliability.md, "Worst-case inputs"): builds
# bench/worst_case.cpp in Release (build/release, as scripts/bench.sh does) and runs it. Every
# parser a webhook reaches is fed adversarial inputs of 256 KiB, 1 MiB and 4 MiB: unclosed HTML
# elements, MIME nested deep, thousands of parts, fields, headers or batch events, a long
# multipart boundary, deeply nested JSON. Channel rows go through adapter::receive() with a
# correctly signed request; helper rows call html_to_text, unflow, the Authentication-Results
# readers, CLD2 and the identity normalizers directly.
#
# It prints one table, one row per parser and input shape:
#   256 KiB, 1 MiB, 4 MiB  milliseconds, the best of 3 calls (a size over 3 s stops the row)
#   4M/1M                   t(4 MiB) / t(1 MiB): about 4 when linear, 16 when quadratic
#   verdict                 ok; SLOW (1 MiB over 50 ms); NONLINEAR (4M/1M over 8, when the
#                           4 MiB time is at least 1 ms); WRONG (the request was not read,
#                           kept or refused as the row expects: a benchmark of a refusal
#                           measures nothing)
#   outcome                 what the 1 MiB call answered ("2xx, 1 read, 0 ignored", "2xx, kept
#                           unreadable: ...", "400 malformed: ...")
# The exit status is 1 when any row is not ok. Run as root on Debian 12 (scripts/deps.sh):
#   bench/worst_case.sh [SUBSTRING]     # only the rows whose parser or input contains SUBSTRING
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
root=$PWD
export CCACHE_BASEDIR=${CCACHE_BASEDIR:-$root}
build=$root/build/release

scripts/deps.sh
cmake -S "$root" -B "$build" -DCMAKE_BUILD_TYPE=Release -DSB_TESTS=OFF >/dev/null
cmake --build "$build" -j2 --target worst_case >/dev/null
exec "$build/worst_case" "$@"
