#!/usr/bin/env bash
# Packages every publishable crate (`cargo package`, without re-building each package in
# isolation: `--no-verify`, since verifying would rebuild libtorch bindings and every
# dependency once per crate; the workspace build and tests cover the same sources), checks
# that no test data goes into a package, then builds and runs a throw-away downstream crate
# that depends on the workspace by path exactly as README.md's "Use hulu in your own crate"
# section says.
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$root"
crates=(hulu-build hulu-io hulu-nn hulu-vision hulu-compress hulu-llm hulu-model)
args=()
for c in "${crates[@]}"; do args+=(-p "$c"); done

# 1. The file lists: sources and READMEs, never the test data.
for c in "${crates[@]}"; do
  list="$(cargo package --list --allow-dirty -p "$c")"
  if grep -E '^tests/(data|fixtures)/|\.dcm$|\.nii|\.safetensors$|\.mp4$' <<<"$list"; then
    echo "$c: test data in the package (above)" >&2
    exit 1
  fi
  grep -qx 'Cargo.toml' <<<"$list" || { echo "$c: no Cargo.toml in the package" >&2; exit 1; }
done
# 2. The packages themselves (path dependencies need versions for this to pass).
cargo package --allow-dirty --no-verify "${args[@]}"
echo "packaged: ${crates[*]}"

# 3. A downstream crate, following README.md "Use hulu in your own crate".
dir="$(mktemp -d)"
trap 'rm -rf "$dir"' EXIT
mkdir -p "$dir/src"
cat >"$dir/Cargo.toml" <<TOML
[package]
name = "hulu-downstream-check"
version = "0.0.0"
edition = "2021"
publish = false

[dependencies]
hulu-model = { path = "$root/hulu-model" }

[build-dependencies]
hulu-build = { path = "$root/hulu-build" }

# Only so that this check reuses the workspace's compiled dependencies: the same profile as
# the workspace's Cargo.toml.
[profile.dev.package."*"]
opt-level = 2
debug = false
[profile.dev]
opt-level = 1
debug = "line-tables-only"
TOML
cat >"$dir/build.rs" <<'RS'
fn main() {
    // Embeds libtorch's library folders as an rpath, so the binary runs without
    // LD_LIBRARY_PATH.
    hulu_build::link_libtorch_rpath();
}
RS
cat >"$dir/src/main.rs" <<'RS'
use hulu_model::{Device, GenerateOptions, HuluMed, Kind, PrepareOptions, Turn};

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let dir = std::env::args().nth(1).expect("checkpoint directory");
    let model = HuluMed::from_pretrained(dir, Device::Cpu, Kind::Float)?;
    let turns = [Turn::user(vec![hulu_model::Item::Text("Hello?".into())])];
    let options = GenerateOptions { max_new_tokens: 3, suppress_eos: true, ..GenerateOptions::default() };
    let answer = model.generate(&turns, &PrepareOptions::default(), &options)?;
    println!("downstream ok: {} new tokens", answer.ids.len());
    Ok(())
}
RS
export LIBTORCH="${LIBTORCH:-$root/.cache/torch-site/torch}"
out="$(CARGO_TARGET_DIR="$root/target" cargo run --quiet --manifest-path "$dir/Cargo.toml" -- \
  "$root/tests/fixtures/models/tiny-qwen2")"
echo "$out"
grep -qx 'downstream ok: 3 new tokens' <<<"$out"
