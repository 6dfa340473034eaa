#!/usr/bin/env bash
# Packs what the GPU benchmark needs on a machine that has PyTorch 2.11.0+cu130 and no
# network, into .device/ (git-ignored): the stripped `hulu` built by
# scripts/build-with-torch-2.11.sh cuda, the tiny model's config, tokenizer and templates
# (what `hulu synth --template` starts from), and scripts/device/bench.sh. About 30 MB.
set -euo pipefail
repo=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
work=${HULU_T211:-/tmp/hulu-torch-2.11}
binary="$work/target-cuda/x86_64-unknown-linux-gnu/release/hulu"
[ -x "$binary" ] || { echo "build it first: scripts/build-with-torch-2.11.sh cuda" >&2; exit 1; }

pack="$repo/.device"
rm -rf "$pack"
mkdir -p "$pack/model"
strip -o "$pack/hulu" "$binary"
model="$repo/tests/fixtures/models/tiny-qwen2"
for f in config.json tokenizer.json tokenizer_config.json added_tokens.json \
  special_tokens_map.json chat_template.json generation_config.json preprocessor_config.json; do
  if [ -f "$model/$f" ]; then cp "$model/$f" "$pack/model/"; fi
done
cp "$repo/scripts/device/bench.sh" "$pack/"
du -sh "$pack"
