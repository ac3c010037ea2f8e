#!/usr/bin/env bash
# Runs callplane: installs what the build needs (scripts/install-build-deps.sh),
# then `cargo run --release -- serve` with any arguments given here. With none,
# callplane runs on its embedded defaults (README.md, "Run").
set -euo pipefail
cd "$(dirname "$0")/.."
./scripts/install-build-deps.sh
exec cargo run --release --locked -- serve "$@"
