#!/usr/bin/env bash
# The whole test suite: provisions libtorch, then format check, clippy (warnings are errors),
# and every test of the workspace. Needs no GPU.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
scripts/setup-libtorch.sh
cargo fmt --all -- --check
cargo clippy --workspace --all-targets -- -D warnings
# hulu-io's medical loaders must build and pass without libtorch.
cargo test -p hulu-io --no-default-features
cargo test --workspace --all-targets
cargo test --workspace --doc
