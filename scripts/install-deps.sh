#!/usr/bin/env bash
# install-deps.sh — installs the Debian packages the build, tests and benchmarks use, and nothing else.
# Idempotent: packages already present are skipped and apt-get is not touched at all when nothing is missing.
set -euo pipefail

packages=(
  # build (simdjson: the JSON benchmark, and the inbound JSON path once it moves to it)
  cmake ninja-build g++ ccache pkg-config libboost1.81-dev libssl-dev libsimdjson-dev libcli11-dev
  # tests: the independent peers (node ws, python websockets), certificates, iptables for the half-open test
  libgtest-dev openssl python3 python3-websockets nodejs node-ws iptables
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
