#!/usr/bin/env bash
# Installs everything Vigil needs on a Debian machine: system packages (only those missing),
# the pinned Node.js 24 and npm dependencies, and the eBPF sensor when the toolchain is present.
set -euo pipefail
cd "$(dirname "$0")/.."

apt_packages=(clang llvm libbpf-dev bpftool libelf-dev zlib1g-dev make iproute2 nftables chromium rsyslog rsyslog-gnutls)
missing=()
for p in "${apt_packages[@]}"; do
  dpkg -s "$p" >/dev/null 2>&1 || missing+=("$p")
done
if [ ${#missing[@]} -gt 0 ]; then
  if [ "$(id -u)" = 0 ]; then
    echo "install: apt packages ${missing[*]}"
    apt-get update -qq >/dev/null
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null || \
      echo "install: some apt packages could not be installed; the eBPF sensor or browser tests may be unavailable" >&2
  else
    echo "install: not root, skipping apt packages: ${missing[*]}" >&2
  fi
fi

# npm install, not npm ci: the registry reachable here does not serve chdb's binaries for other platforms,
# so the lock file holds only linux-x64's and npm ci refuses it; npm install keeps the locked versions.
npm install --no-audit --no-fund --loglevel=error
npm run build:web

if [ -f sensor/Makefile ] && command -v clang >/dev/null && command -v bpftool >/dev/null; then
  make -s -C sensor || echo "install: the eBPF sensor did not build; agents will use the /proc sensor" >&2
fi
echo "install: done"
