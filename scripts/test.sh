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
# A one-off build: incremental caches would only take disk (CI starts from a clean checkout).
export CARGO_INCREMENTAL=0
cargo fmt --all -- --check
# `hulu/parity` adds the developer parity command (and its CLI test) to the one build.
cargo clippy --workspace --all-targets --features hulu/parity -- -D warnings
# hulu-io's medical loaders must build and pass without libtorch.
cargo test -p hulu-io --no-default-features
cargo test --workspace --all-targets --features hulu/parity
cargo test --workspace --doc
# The Python bindings: build the wheel into .cache/venv, then pytest (tiny model, parity, Ray).
"$(scripts/build-python.sh)" -m pytest -q python/tests
# The declared rust-version is the one the locked dependencies need.
scripts/check-msrv.sh
# `cargo package` for every published crate, and a downstream crate built from README.md.
scripts/check-package.sh
