#!/usr/bin/env bash
# Installs the Debian packages the build and tests need when they are missing (as root), or says what to install.
set -euo pipefail

declare -A needed=(
  [baresip]=baresip-core
  [clang-format]=clang-format
  [cmake]=cmake
  [espeak-ng]=espeak-ng
  [g++]=g++
  [nats-server]=nats-server
  [promtool]=prometheus
  [sipp]=sip-tester
  [systemd-analyze]=systemd
)
missing=()
for cmd in "${!needed[@]}"; do
  command -v "$cmd" >/dev/null 2>&1 || missing+=("${needed[$cmd]}")
done
[ ${#missing[@]} -eq 0 ] && exit 0

if [ "$(id -u)" -ne 0 ]; then
  echo "missing Debian packages: ${missing[*]} — install them with: sudo apt-get install -y ${missing[*]}" >&2
  exit 1
fi
echo "== installing Debian packages: ${missing[*]}"
export DEBIAN_FRONTEND=noninteractive
apt-get install -y --no-install-recommends "${missing[@]}" || { apt-get update && apt-get install -y --no-install-recommends "${missing[@]}"; }
