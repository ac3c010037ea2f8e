#!/usr/bin/env bash
# The one test command: installs what the tests need on a fresh Debian machine,
# then checks formatting and lints and runs every unit, integration and
# end-to-end test (sipp against the real binary, both io backends), the
# differential test of the SIP parser against sofia-sip (feature `sofia`), then
# each SIP fuzz target for 30 seconds (scripts/fuzz.sh).
set -euo pipefail
cd "$(dirname "$0")/.."

./scripts/install-test-deps.sh

cargo fmt --all -- --check
cargo clippy --all-targets --locked -- -D warnings
cargo test --all-targets --locked
cargo clippy --all-targets --locked --features sofia -- -D warnings
cargo test --locked --features sofia --test sofia_differential
./scripts/fuzz.sh 30
