#!/usr/bin/env bash
# Runs every test qoslwf has on a Linux host: style, lints, unit/property/
# differential tests, the HLK-style suite, the .sys static checks and the
# netns end-to-end suite. Run tests/scripts/setup.sh once first.
set -euo pipefail
cd "$(dirname "$0")/../.."
export CARGO_TERM_COLOR=never

step() { printf '\n==> %s\n' "$*"; }

step "cargo fmt --check"
cargo fmt --all -- --check

step "cargo clippy (warnings denied)"
cargo clippy --workspace --all-targets --locked -- -D warnings

step "cargo clippy: tcctl for Windows (x86_64-pc-windows-msvc; DeviceIoControl transport)"
cargo clippy -p tcctl --all-targets --target x86_64-pc-windows-msvc --locked -- -D warnings

step "cargo clippy: the kernel image (qoslwf bin, x86_64-pc-windows-msvc)"
# --release: the profile with panic = "abort", which a no_std image needs.
cargo clippy -p qoslwf --bin qoslwf --features sys --release --target x86_64-pc-windows-msvc --locked -- -D warnings

# The .sys static checks (tests/tests/sys_image.rs, in `cargo test`) read it.
step "cargo make sys (qoslwf.sys cross-linked with rust-lld)"
cargo make sys

step "cargo test"
cargo test --workspace --locked

# Real traffic through the driver (lwfhost between network namespaces) and
# the same scenarios through Linux tc, side by side (tests/e2e/README.md).
step "netns end-to-end: qoslwf (lwfhost) and Linux tc side by side"
if [ "${QOSLWF_SKIP_E2E:-0}" = 1 ]; then
  echo "skipped (QOSLWF_SKIP_E2E=1)"
elif [ "$(id -u)" != 0 ] || ! { ip netns add qle-probe && ip netns del qle-probe; } 2>/dev/null; then
  echo "skipped: needs root and network namespaces (run tests/e2e/run.sh as root)"
else
  bash tests/e2e/run.sh
fi
