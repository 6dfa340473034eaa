#!/usr/bin/env bash
# The quick-start demo: provisions libtorch, then runs the CLI on the embedded tiny fixture model.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
scripts/setup-libtorch.sh
scripts/setup-system.sh
cargo run --quiet -- "${@:-demo}"
