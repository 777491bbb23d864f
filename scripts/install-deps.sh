#!/usr/bin/env bash
# Installs every Debian package hgrid needs to build, test and run its local SLURM.
# Idempotent and non-interactive: packages already present are not fetched again.
# Usage: scripts/install-deps.sh [--with-fuzz]
set -euo pipefail

packages=(
  build-essential pkg-config
  libyaml-dev libjansson-dev        # config parsing, JSON plans
  check libsubunit-dev              # unit tests
  openmpi-bin libopenmpi-dev        # agents and the MPI backend
  slurm-wlm munge                   # the local SLURM of the integration tests
  valgrind procps
  iproute2 iputils-ping util-linux   # the test cluster: ip, tc, ping, unshare, nsenter
  python3 python3-venv              # the Python package's tests (a venv, pip offline)
  python3-torch                     # tests/hang_test.sh: torch gloo ranks on CPU (/usr/bin/python3)
  libxml2-utils librsvg2-bin        # the layout picture's tests: xmllint, rsvg-convert
)
if [[ "${1:-}" == "--with-fuzz" ]]; then
  packages+=(clang libclang-rt-14-dev)
fi

missing=()
for p in "${packages[@]}"; do
  if ! dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed"; then
    missing+=("$p")
  fi
done
if ((${#missing[@]} == 0)); then
  echo "install-deps: all ${#packages[@]} packages present"
  exit 0
fi

sudo=()
if [[ $(id -u) -ne 0 ]]; then
  command -v sudo >/dev/null || { echo "install-deps: run as root or install sudo" >&2; exit 1; }
  sudo=(sudo)
fi
echo "install-deps: installing ${missing[*]}"
export DEBIAN_FRONTEND=noninteractive
"${sudo[@]}" apt-get update -qq
"${sudo[@]}" apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
echo "install-deps: done"
