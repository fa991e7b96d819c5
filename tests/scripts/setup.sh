#!/usr/bin/env bash
# Installs everything qoslwf's tests and demo need on a bare Debian machine
# (run as root). Safe to run again: every step checks before it installs.
set -euo pipefail
cd "$(dirname "$0")/../.."

need_apt=()
for pair in tshark:tshark iperf3:iperf3 ethtool:ethtool iptables:iptables ip:iproute2 jq:jq \
            x86_64-w64-mingw32-dlltool:binutils-mingw-w64-x86-64; do
  cmd=${pair%%:*}; pkg=${pair#*:}
  command -v "$cmd" >/dev/null 2>&1 || need_apt+=("$pkg")
done
# Import libraries of ndis.sys / ntoskrnl.exe / hal.dll for the .sys checks.
[ -f /usr/x86_64-w64-mingw32/lib/libndis.a ] || need_apt+=(mingw-w64-x86-64-dev)
if [ ${#need_apt[@]} -gt 0 ]; then
  echo "setup: apt-get install ${need_apt[*]}"
  apt-get update -qq
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${need_apt[@]}" >/dev/null
fi

# Rust: the toolchain file names the components and the Windows target;
# rustup installs them on first use. Make it explicit so failures show here.
rustup show active-toolchain >/dev/null
rustup component add rustfmt clippy >/dev/null 2>&1 || true
rustup target add x86_64-pc-windows-msvc >/dev/null

if ! command -v cargo-make >/dev/null 2>&1 && [ -f Makefile.toml ]; then
  echo "setup: cargo install cargo-make (a few minutes, once)"
  cargo install --locked cargo-make >/dev/null 2>&1
fi
echo "setup: ok"
