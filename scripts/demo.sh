#!/usr/bin/env bash
# The quick-start demo: provisions libtorch, then runs the CLI on the repository's tiny
# random-weight model (tests/fixtures/models/tiny-qwen2) and its fixture inputs. Any arguments
# run that CLI command instead (`scripts/demo.sh ask -q "..." FILE`), on the same tiny model
# unless HULU_MODEL or --model names another.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
scripts/setup-libtorch.sh
scripts/setup-system.sh
export HULU_MODEL="${HULU_MODEL:-$PWD/tests/fixtures/models/tiny-qwen2}"
if [[ $# -eq 0 ]]; then
  set -- demo --inputs tests/fixtures
fi
cargo run --quiet -- "$@"
