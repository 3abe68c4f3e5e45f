#!/usr/bin/env bash
# ctest package.deb (label `package`): builds the Debian package with scripts/package.sh (an
# incremental Release build in build/package, then cpack) and checks it without installing
# it: control fields and maintainer scripts, the file list, the conffile, the extracted
# binary and config, and the systemd unit (systemd-analyze verify and security); then runs the
# extracted binary for a moment on loopback (a free port, a store in its temporary directory).
#   tests/package/test_package.sh                    # build, then check
#   SB_DEB=path/to/switchboard_X_amd64.deb tests/package/test_package.sh   # check that one
# Every failed check is reported; the exit status is 1 when any failed. Run as root on
# Debian 12 (package.sh may install dpkg-dev). Changes nothing outside build/package and
# its own temporary directory.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/../.."
root=$PWD

failures=0
pass() { echo "ok:   $*"; }
fail() {
  echo "FAIL: $*" >&2
  failures=$((failures + 1))
}
# lacks GREP-ARGS...: no line matches (grep -q with the result negated).
lacks() { ! grep -q "$@"; }
# check DESCRIPTION COMMAND...: runs COMMAND, passes or fails on its status.
check() {
  local what=$1
  shift
  if "$@"; then pass "$what"; else fail "$what"; fi
}

for tool in dpkg-deb systemd-analyze; do
  if ! command -v "$tool" >/dev/null; then
    echo "test_package.sh: $tool is missing (packages dpkg, systemd)" >&2
    exit 1
  fi
done

tmp=$(mktemp -d "${TMPDIR:-/tmp}/switchboard-package-test.XXXXXX")
daemon=""  # the binary started near the end, stopped however this ends
trap '[[ -z $daemon ]] || kill -TERM "$daemon" 2>/dev/null || true; rm -rf "$tmp"' EXIT

if [[ -n ${SB_DEB:-} ]]; then
  deb=$SB_DEB
else
  echo "test_package.sh: building the package (scripts/package.sh)" >&2
  deb=$(scripts/package.sh)
fi
if [[ ! -f $deb ]]; then
  echo "test_package.sh: no package at '$deb'" >&2
  exit 1
fi
echo "package: $deb ($(stat -c %s "$deb") bytes)"

# ---- control: fields and maintainer scripts (dpkg-deb --info)

info=$(dpkg-deb --info "$deb")
depends=$(dpkg-deb --field "$deb" Depends)
echo "Depends: $depends"
# The libraries the binary links (from dpkg-shlibdeps) and what the scripts and config use.
# The package names alone, one a line ("libc6 (>= 2.34), adduser" -> "libc6", "adduser").
dep_names=$(sed 's/ *([^)]*)//g; s/, */\n/g' <<<"$depends")
for dep in libboost-json1.81.0 libboost-url1.81.0 librabbitmq4 libsqlite3-0 libyaml-cpp0.7 \
  libssl3 libsystemd0 libre2-9 libgmime-3.0-0 libfmt9 libdate-tz3 libcld2-0 libstdc++6 libc6 \
  adduser tzdata; do
  check "Depends names $dep" grep -qxF "$dep" <<<"$dep_names"
done
check "Recommends: rabbitmq-server" \
  grep -qx 'rabbitmq-server' <<<"$(dpkg-deb --field "$deb" Recommends)"
check "Package: switchboard" grep -qx 'switchboard' <<<"$(dpkg-deb --field "$deb" Package)"
for member in conffiles postinst prerm postrm; do
  # The member table of --info: "<size> bytes, <n> lines [*] <name> [interpreter]".
  check "control member $member is listed" \
    grep -Eq "^ +[0-9]+ bytes, +[0-9]+ lines +(\* +)?$member( |$)" <<<"$info"
done

mkdir "$tmp/control"
dpkg-deb --control "$deb" "$tmp/control"
check "conffiles lists exactly /etc/switchboard/switchboard.yaml" \
  diff <(printf '%s\n' /etc/switchboard/switchboard.yaml) "$tmp/control/conffiles"
for script in postinst prerm postrm; do
  f=$tmp/control/$script
  check "$script is an executable /bin/sh script" \
    test -x "$f" -a "$(head -n 1 "$f")" = '#!/bin/sh'
  check "$script parses (sh -n)" sh -n "$f"
  if command -v shellcheck >/dev/null; then
    check "$script passes shellcheck" shellcheck -s sh "$f"
  fi
  check "$script guards systemctl / deb-systemd-invoke with /run/systemd/system" \
    awk '/^[ \t]*#/ { next }
         /(systemctl|deb-systemd-invoke) / && !guarded { bad = 1 }
         /\[ -d \/run\/systemd\/system \]/ { guarded = 1 }
         END { exit bad }' "$f"
done
check "postinst creates the system user with adduser --system --group" \
  grep -Eq 'adduser --system --group --no-create-home --home /var/lib/switchboard' \
  "$tmp/control/postinst"
check "postrm removes the user only under purge" \
  awk '/^[ \t]*#/ { next }
       /^ *purge\)/ { p = 1 } /^ *;;/ { p = 0 } /deluser/ && !p { bad = 1 } /deluser/ && p { seen = 1 }
       END { exit bad || !seen }' "$tmp/control/postrm"
# The store may hold messages not yet published: no script deletes anything recursively.
check "no maintainer script runs rm -r" \
  lacks -E '(^|[;&|[:space:]])rm +(-[a-zA-Z]*[rR]|--recursive)' "$tmp/control/postinst" "$tmp/control/prerm" "$tmp/control/postrm"

# ---- contents (dpkg-deb --contents)

# The paths only, "./usr/bin/switchboard" -> "/usr/bin/switchboard".
dpkg-deb --contents "$deb" | awk '{ sub(/^\./, "", $6); print $6 }' >"$tmp/contents"
has() { grep -qxF "$1" "$tmp/contents"; }
check "contents: /usr/bin/switchboard" has /usr/bin/switchboard
check "contents: /lib/systemd/system/switchboard.service" has /lib/systemd/system/switchboard.service
check "contents: /etc/switchboard/switchboard.yaml" has /etc/switchboard/switchboard.yaml
# Every page of docs/ (and the payload schema) as it is in this checkout.
shopt -s nullglob
docs=(docs/*.md docs/channels/*.md docs/payload.schema.json)
shopt -u nullglob
((${#docs[@]} > 2)) || fail "found no docs in $root/docs"
for d in "${docs[@]}"; do
  check "contents: /usr/share/doc/switchboard/${d#docs/}" has "/usr/share/doc/switchboard/${d#docs/}"
done
check "contents: nothing under /var (the store is made at run time)" \
  lacks '^/var/' "$tmp/contents"

# ---- the extracted files (dpkg-deb -x)

x=$tmp/root
dpkg-deb -x "$deb" "$x"
bin=$x/usr/bin/switchboard
version=$(dpkg-deb --field "$deb" Version)
if out=$("$bin" --version 2>&1) && [[ $out == "switchboard $version" ]]; then
  pass "switchboard --version prints '$out'"
else
  fail "switchboard --version printed '${out:-}' (expected 'switchboard $version')"
fi
check "the unit file is byte-identical to systemd/switchboard.service" \
  cmp "$x/lib/systemd/system/switchboard.service" systemd/switchboard.service

# The config must validate as shipped: a clean environment (no STATE_DIRECTORY,
# CREDENTIALS_DIRECTORY or other variables), a directory with no other files in it.
conf=$x/etc/switchboard/switchboard.yaml
mkdir "$tmp/empty"
if out=$(cd "$tmp/empty" && env -i PATH=/usr/bin:/bin "$bin" --check-config "$conf" 2>&1); then
  pass "switchboard --check-config on the packaged config: $out"
else
  fail "switchboard --check-config on the packaged config failed: $out"
fi
# --check-config does not open the store: check the values the unit and postinst rely on.
check "config: store.path is /var/lib/switchboard/switchboard.db" \
  grep -Eq '^  path: "?/var/lib/switchboard/switchboard\.db"?( |$)' "$conf"
check "config: server.listen is on 127.0.0.1" grep -Eq '^  listen: "127\.0\.0\.1:[0-9]+"' "$conf"
check "config: the placeholder secret is marked as one" grep -q 'PLACEHOLDER' "$conf"

# ---- the systemd unit

# verify checks that ExecStart='s binary exists: run it on a copy naming the extracted binary
# (same directives otherwise). SYSTEMD_UNIT_PATH with a trailing ':' keeps the system's unit
# directories for the targets it names. (--root=DIR would look for every dependency, down to
# sysinit.target and /bin/kill, inside DIR.)
mkdir "$tmp/units"
sed "s|/usr/bin/switchboard|$bin|g" "$x/lib/systemd/system/switchboard.service" \
  >"$tmp/units/switchboard.service"
if out=$(SYSTEMD_UNIT_PATH="$tmp/units:" systemd-analyze verify "$tmp/units/switchboard.service" 2>&1); then
  # systemd-analyze only warns about unknown keys and the like: a word about our unit fails.
  if grep -qi 'switchboard' <<<"$out"; then
    fail "systemd-analyze verify warns about the unit: $out"
  else
    pass "systemd-analyze verify${out:+ (other units: $out)}"
  fi
else
  fail "systemd-analyze verify failed: $out"
fi

# Exposure on systemd's 0.0 (locked down) to 10.0 (unprotected) scale; the unit's hardening
# must keep it at 2.0 or below.
out=$(systemd-analyze security --offline=yes --no-pager \
  "$x/lib/systemd/system/switchboard.service" 2>&1) || true
exposure=$(sed -n 's/.*Overall exposure level for switchboard.service: \([0-9.]*\).*/\1/p' <<<"$out")
if [[ -z $exposure ]]; then
  fail "systemd-analyze security printed no exposure level: $(tail -n 5 <<<"$out")"
elif awk -v e="$exposure" 'BEGIN { exit !(e <= 2.0) }'; then
  pass "systemd-analyze security: exposure $exposure <= 2.0"
else
  fail "systemd-analyze security: exposure $exposure > 2.0"
fi

# Documentation= pages the unit names should ship; only a warning, the pages are docs' business.
# shellcheck disable=SC2013  # Documentation= takes a space-separated list of URLs
for page in $(sed -n 's|^Documentation=||p' systemd/switchboard.service); do
  case $page in
    file://*)
      has "${page#file://}" || echo "WARNING: the unit's Documentation=$page is not in the package" >&2
      ;;
  esac
done

# ---- the packaged binary serving: the allocator production runs on
# Every other test runs the sanitized build, on ASan's allocator: only here does the daemon run
# on tcmalloc, whose heap count switchboard_heap_bytes must read. (Were it to fall back to
# glibc's mallinfo2(), it would report about 0: glibc's arenas are unused under tcmalloc.)
# The packaged config with a private port and store, and a broker port where nothing listens:
# the daemon serves HTTP while it retries the broker.
libs=$(ldd "$bin")
if grep -q 'libtcmalloc_minimal' <<<"$libs"; then
  pass "the binary is linked with tcmalloc"
else
  fail "the binary is not linked with tcmalloc: $(tr '\n' ' ' <<<"$libs")"
fi
port=$(python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
mkdir "$tmp/run"
sed -e "s|^  listen: .*|  listen: \"127.0.0.1:$port\"|" -e "s|^  path: .*|  path: $tmp/run/switchboard.db|" \
  -e 's|^  url: .*|  url: "amqp://guest:guest@127.0.0.1:9/%2f"|' "$conf" >"$tmp/run/switchboard.yaml"
(cd "$tmp/run" && exec env -i PATH=/usr/bin:/bin timeout 60 "$bin" --config "$tmp/run/switchboard.yaml") \
  >"$tmp/run/log" 2>&1 &
daemon=$!
metrics=""
for _ in $(seq 100); do
  metrics=$(curl -sf --max-time 2 "http://127.0.0.1:$port/metrics") && break
  kill -0 "$daemon" 2>/dev/null || break  # it exited: the log below says why
  sleep 0.1
done
heap=$(awk '$1 == "switchboard_heap_bytes" { print $2 }' <<<"$metrics")
rss=$(awk '$1 == "process_resident_memory_bytes" { print $2 }' <<<"$metrics")
if [[ -n $heap && -n $rss ]] && awk -v h="$heap" -v r="$rss" 'BEGIN { exit !(h >= 262144 && h < r) }'; then
  pass "the running binary reports its heap in use from tcmalloc: $heap bytes of $rss resident"
else
  fail "switchboard_heap_bytes '${heap:-}' is not between 256 KiB and RSS '${rss:-}'; log: $(tail -3 "$tmp/run/log")"
fi
kill -TERM "$daemon" 2>/dev/null || true
wait "$daemon" || true
daemon=""

if ((failures > 0)); then
  echo "test_package.sh: $failures check(s) failed" >&2
  exit 1
fi
echo "test_package.sh: all checks passed"
