#!/usr/bin/env bash
# Builds the `hulu` CLI against PyTorch 2.11.0 (cu130) instead of the 2.13.0 that tch 0.26
# targets, for machines whose only libtorch is a 2.11 install (the GPU machines this project is
# lent have PyTorch 2.11.0+cu130 and no network).
#
# tch 0.26's generated C++ bindings name 13 operators that 2.11 lacks (`_philox_*`,
# `_upsample_lanczos2d_aa*`, `_flash_attention_forward_no_dropout_inplace`) and one whose 2.11
# signature is shorter (`_scaled_dot_product_attention_math_for_mps`); hulu calls none of
# them. The script copies torch-sys 0.26.0, drops those bindings, and builds with the copy
# patched in (`cargo --config patch...`), so the workspace's own build is untouched.
#
#   scripts/build-with-torch-2.11.sh cpu    # link libtorch_cpu only: runs here, for checks
#   scripts/build-with-torch-2.11.sh cuda   # also link libtorch_cuda: runs where CUDA 13 is
#
# Output: $HULU_T211/target-FLAVOUR/x86_64-unknown-linux-gnu/release/hulu (HULU_T211 defaults to
# /tmp/hulu-torch-2.11). At run time the loader must find libtorch 2.11 (and, for cuda, its
# CUDA libraries): the cpu build embeds an rpath to the wheel extracted here; elsewhere set
# LD_LIBRARY_PATH to torch/lib and the nvidia/*/lib folders of that machine's torch install.
set -euo pipefail

flavour=${1:?usage: $0 cpu|cuda}
repo=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
work=${HULU_T211:-/tmp/hulu-torch-2.11}
python=${PYTHON:-python3}
mkdir -p "$work"

# 1. The torch 2.11.0 wheel's headers and libraries (about 1 GB unpacked).
if [ ! -f "$work/site/torch/lib/libtorch_cpu.so" ]; then
  "$python" -m pip download --quiet --no-deps --only-binary=:all: -d "$work/wheel" torch==2.11.0
  unzip -q -o "$work"/wheel/torch-2.11.0-*.whl 'torch/lib/*' 'torch/include/*' 'torch/share/*' \
    -d "$work/site"
  rm -rf "$work/wheel"
fi

# 2. A LIBTORCH folder for the flavour: the cpu one leaves out the CUDA libraries, so that
#    torch-sys does not link them. libtorch_cpu.so still needs libcudart/libcupti 13 at load
#    time: those come from the 2.13 setup (scripts/setup-libtorch.sh).
lt="$work/libtorch-$flavour"
rm -rf "$lt"
mkdir -p "$lt/lib"
ln -s "$work/site/torch/include" "$lt/include"
ln -s "$work/site/torch/share" "$lt/share"
for lib in "$work"/site/torch/lib/*; do
  name=$(basename "$lib")
  case "$flavour:$name" in
    cpu:*cuda* | cpu:*nvrtc* | cpu:*nvshmem*) ;;
    *) ln -s "$lib" "$lt/lib/$name" ;;
  esac
done
if [ "$flavour" = cpu ]; then
  "$repo/scripts/setup-libtorch.sh" >/dev/null
  for lib in libcudart.so.13 libcupti.so.13; do
    ln -sf "$repo/.cache/torch-site/nvidia/cu13/lib/$lib" "$lt/lib/$lib"
  done
fi

# 3. torch-sys 0.26.0 without the bindings 2.11 cannot compile.
registry="${CARGO_HOME:-$HOME/.cargo}/registry/src"
src=$(ls -d "$registry"/*/torch-sys-0.26.0 2>/dev/null | head -1 || true)
if [ -z "$src" ]; then
  (cd "$repo" && cargo fetch --quiet)
  src=$(ls -d "$registry"/*/torch-sys-0.26.0 | head -1)
fi
rm -rf "$work/torch-sys"
cp -r "$src" "$work/torch-sys"
"$python" - "$work/torch-sys/libtch/torch_api_generated.cpp" <<'EOF'
import re, sys
path = sys.argv[1]
absent = ["_flash_attention_forward_no_dropout_inplace", "_philox_key_fold_in", "_philox_key_split",
          "_philox_normal", "_philox_normal_", "_philox_normal_out", "_philox_uniform",
          "_philox_uniform_", "_philox_uniform_out", "_upsample_lanczos2d_aa",
          "_upsample_lanczos2d_aa_backward", "_upsample_lanczos2d_aa_backward_out",
          "_upsample_lanczos2d_aa_out",
          # present in 2.11 with one argument fewer (enable_gqa); an Apple-GPU-only operator
          "_scaled_dot_product_attention_math_for_mps"]
calls = re.compile(r"(torch::|->)(" + "|".join(map(re.escape, absent)) + r")\(")
functions = open(path).read().split("\n}\n")
kept = [f for f in functions if not calls.search(f)]
open(path, "w").write("\n}\n".join(kept))
print(f"torch-sys: dropped {len(functions) - len(kept)} bindings PyTorch 2.11 cannot compile")
EOF

# 4. Build. The Rust declarations of the dropped bindings stay; nothing calls them, and the
#    linker discards their callers' sections. For cuda, --no-as-needed keeps libtorch_cuda
#    linked (nothing names its symbols directly) and --allow-shlib-undefined lets the link
#    finish without the CUDA libraries it needs at run time.
#    An explicit --target keeps these flags off build scripts, which run here without CUDA.
flags=""
if [ "$flavour" = cuda ]; then
  flags="-C link-arg=-L$lt/lib -C link-arg=-Wl,--allow-shlib-undefined -C link-arg=-Wl,--no-as-needed"
  flags="$flags -C link-arg=-ltorch_cuda -C link-arg=-Wl,--as-needed"
fi
target=x86_64-unknown-linux-gnu
cd "$repo"
# The patch rewrites torch-sys's entry in Cargo.lock; put the workspace's lock back afterwards.
cp Cargo.lock "$work/Cargo.lock.workspace"
trap 'cp "$work/Cargo.lock.workspace" "$repo/Cargo.lock"' EXIT
RUSTFLAGS="$flags" LIBTORCH="$lt" LIBTORCH_BYPASS_VERSION_CHECK=1 CARGO_TARGET_DIR="$work/target-$flavour" \
  cargo build --release --bin hulu --target "$target" \
  --config "patch.crates-io.torch-sys.path=\"$work/torch-sys\""
echo "built $work/target-$flavour/$target/release/hulu against PyTorch 2.11.0 ($flavour)"
