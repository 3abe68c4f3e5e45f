#!/usr/bin/env bash
# Installs the Debian 12 packages Switchboard needs to build, test and run. Checks each with
# dpkg-query first: when everything is there it does nothing (no apt-get update, no root needed).
set -euo pipefail

packages=(
  # build
  build-essential cmake ccache pkg-config git clang-format
  # libraries (Boost 1.81 from its versioned packages: never libboost-dev, which is 1.74)
  libboost1.81-dev libboost-json1.81-dev libboost-url1.81-dev
  # the daemon's allocator (CMakeLists.txt, SB_TCMALLOC)
  libtcmalloc-minimal4
  librabbitmq-dev libyaml-cpp-dev libfmt-dev libsqlite3-dev libssl-dev libsystemd-dev libre2-dev libgmime-3.0-dev
  libhowardhinnant-date-dev libcld2-dev tzdata
  # Unicode: NFC and default-ignorable code points (utf8proc), IDNA UTS #46 (libidn2)
  libutf8proc-dev libidn2-dev
  # agents' replies: the providers' send APIs over HTTPS (libcurl's multi interface)
  libcurl4-openssl-dev
  doctest-dev
  # the fuzz targets (scripts/fuzz.sh) and the thread-safety lint (tests/CMakeLists.txt): clang
  # with libFuzzer and the sanitizer runtimes, and llvm-14 for llvm-symbolizer (without it
  # sanitizer stack traces are bare addresses)
  clang clang-14 libclang-rt-14-dev llvm-14
  # the broker, and the tools the tests and the README use against it
  rabbitmq-server amqp-tools sqlite3 python3 python3-pika python3-jsonschema
  # a real SMTP server on loopback for the mime channel's replies
  python3-aiosmtpd
  # promtool (from prometheus) checks the /metrics page in the tests
  prometheus
  # the README's example: sign a webhook and POST it
  curl openssl
)

# One dpkg-query for all: it prints "name install ok installed" for each installed package
# (and complains on stderr about the ones it has never heard of).
declare -A installed=()
while read -r name want ok state; do
  [[ "$want $ok $state" == "install ok installed" ]] && installed[$name]=1
done < <(dpkg-query -W -f='${Package} ${Status}\n' "${packages[@]}" 2>/dev/null || true)
missing=()
for p in "${packages[@]}"; do
  [[ -n ${installed[$p]:-} ]] || missing+=("$p")
done

if ((${#missing[@]} == 0)); then
  exit 0
fi

if [[ $EUID -ne 0 ]]; then
  echo "deps.sh: missing Debian packages: ${missing[*]}" >&2
  echo "deps.sh: only root can install them: run this script as root, or" >&2
  echo "  apt-get install --no-install-recommends ${missing[*]}" >&2
  exit 1
fi
echo "deps.sh: installing ${missing[*]}" >&2

export DEBIAN_FRONTEND=noninteractive
# Installing must not start the packages' services (prometheus ships a server on :9090 and we
# only want its promtool; the scripts start their own private brokers): a policy-rc.d that
# refuses, for this install only, unless the machine already has one.
policy=/usr/sbin/policy-rc.d
if [[ ! -e $policy ]]; then
  printf '#!/bin/sh\n# switchboard deps.sh: no service starts during this install\nexit 101\n' >"$policy"
  chmod 755 "$policy"
  trap 'rm -f "$policy"' EXIT
fi
apt-get update
apt-get install -y --no-install-recommends "${missing[@]}"
