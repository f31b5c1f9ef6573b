#!/usr/bin/env bash
# install-deps.sh — installs every Debian package zenws needs to build, test and benchmark. Idempotent: packages
# already present are skipped and apt-get is not touched at all when nothing is missing.
set -euo pipefail

packages=(
  # build
  cmake ninja-build g++ ccache pkg-config libboost1.81-dev libssl-dev libsimdjson-dev libcli11-dev zlib1g-dev
  # tests
  libgtest-dev openssl python3 python3-websockets python3-aiohttp python3-autobahn python3-twisted nodejs node-ws
  nginx-light haproxy socat iproute2 iptables
  # sanitizers and fuzzing
  clang-14 libclang-rt-14-dev
  # benchmarks
  libbenchmark-dev libwebsocketpp-dev libwebsockets-dev
)

missing=()
for p in "${packages[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
# node may come from another source than Debian's nodejs package: accept any working node.
if [[ " ${missing[*]} " == *" nodejs "* ]] && command -v node >/dev/null 2>&1; then
  missing=("${missing[@]/nodejs}")
fi
missing=($(printf '%s\n' "${missing[@]}" | sed '/^$/d'))
if ((${#missing[@]})); then
  echo "install-deps: installing ${missing[*]}"
  SUDO=""; [ "$(id -u)" -ne 0 ] && SUDO="sudo"
  $SUDO apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi
