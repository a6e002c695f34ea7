#!/usr/bin/env bash
# Installs shelfwatch's build, test and tool dependencies from Debian packages.
# Idempotent: runs `apt-get update` once (per invocation, only when something is
# missing) and installs only the packages that are not installed yet.
set -euo pipefail

packages=(
  build-essential cmake pkg-config git ca-certificates tzdata
  librdkafka-dev librocksdb-dev libsimdjson-dev libeigen3-dev libboost-dev
  prometheus-cpp-dev libgtest-dev libgmock-dev libbenchmark-dev libabsl-dev
  libyaml-cpp-dev libcurl4-openssl-dev libxxhash-dev
  clang clang-format clang-tidy libclang-rt-14-dev llvm
  kcat python3 procps curl
)
if [[ "${SHELFWATCH_E2E_DEPS:-0}" == 1 ]]; then
  # debootstrap + dpkg-dev: the .deb install test (tests/e2e/deb_install_test.sh; dpkg-dev
  # has dpkg-shlibdeps, which CPack uses to declare the runtime dependencies); systemd: its
  # unit test (systemd-analyze verify).
  packages+=(prometheus prometheus-alertmanager debootstrap dpkg-dev systemd)
fi

missing=()
for p in "${packages[@]}"; do
  if ! dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed"; then
    missing+=("$p")
  fi
done

if [[ ${#missing[@]} -eq 0 ]]; then
  exit 0
fi

echo "install-deps: installing ${missing[*]}" >&2
SUDO=""
if [[ $(id -u) -ne 0 ]]; then SUDO=sudo; fi
export DEBIAN_FRONTEND=noninteractive
$SUDO apt-get update -q
$SUDO apt-get install -y -q --no-install-recommends "${missing[@]}"
