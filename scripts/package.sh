#!/usr/bin/env bash
# Builds the Debian package of Switchboard: a Release build in build/package, then
# `cpack -G DEB` there. Prints the .deb's path (the only line on stdout; progress goes to
# stderr), so callers can write  deb=$(scripts/package.sh).
#   scripts/package.sh
#   dpkg -i "$(scripts/package.sh)"      # install it on this machine
# Run as root on Debian 12 (deps.sh installs what is missing; dpkg-dev is installed here when
# missing: cpack needs its dpkg-shlibdeps for the Depends line).
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
root=$PWD
# ccache keys on paths relative to the checkout, so a fresh clone reuses an earlier build.
export CCACHE_BASEDIR=${CCACHE_BASEDIR:-$root}
build=$root/build/package

scripts/deps.sh >&2

# dpkg-shlibdeps (dpkg-dev) and dpkg-deb (dpkg): checked like deps.sh checks its packages.
if ! dpkg-query -W -f='${Status}\n' dpkg-dev 2>/dev/null | grep -qx 'install ok installed'; then
  if [[ $EUID -ne 0 ]]; then
    echo "package.sh: the Debian package dpkg-dev is missing; only root can install it:" >&2
    echo "  apt-get install --no-install-recommends dpkg-dev" >&2
    exit 1
  fi
  echo "package.sh: installing dpkg-dev" >&2
  export DEBIAN_FRONTEND=noninteractive
  apt-get update >&2
  apt-get install -y --no-install-recommends dpkg-dev >&2
fi

# Release, no sanitizers, no tests: the package holds the switchboard binary only.
cmake -S "$root" -B "$build" -DCMAKE_BUILD_TYPE=Release -DSB_SANITIZE=OFF -DSB_TESTS=OFF >&2
cmake --build "$build" -j2 --target switchboard >&2

# cpack reruns the install step into its own staging dir (build/package/_CPack_Packages).
rm -f "$build"/switchboard_*.deb
(cd "$build" && cpack -G DEB) >&2

debs=("$build"/switchboard_*.deb)
if [[ ${#debs[@]} -ne 1 || ! -f ${debs[0]} ]]; then
  echo "package.sh: cpack did not leave exactly one switchboard_*.deb in $build" >&2
  exit 1
fi
echo "${debs[0]}"
