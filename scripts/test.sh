#!/usr/bin/env bash
# The whole test suite: provisions libtorch, the system tools and the test media, then format
# check, clippy (warnings are errors), hulu-io without libtorch, and every test of the
# workspace. Needs no GPU.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
scripts/setup-libtorch.sh
scripts/setup-system.sh
scripts/fetch-test-media.sh
# The MP4 tests must run, not skip, whenever this script is the runner.
export HULU_REQUIRE_MEDIA=1
cargo fmt --all -- --check
cargo clippy --workspace --all-targets -- -D warnings
cargo clippy -p hulu --all-targets --features parity -- -D warnings
# hulu-io's medical loaders must build and pass without libtorch.
cargo test -p hulu-io --no-default-features
cargo test --workspace --all-targets
cargo test --workspace --doc
# The developer parity command replays every fixture case through the CLI.
cargo test -p hulu --features parity --test cli
