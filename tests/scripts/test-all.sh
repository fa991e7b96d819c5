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

step "cargo test"
cargo test --workspace --locked
