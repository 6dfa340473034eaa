#!/usr/bin/env bash
# Provisions libtorch 2.13.0 (what tch 0.26 expects) from PyPI's CPU-capable torch wheel into a
# per-user cache, and links it into the checkout as .cache/torch-site so that
# .cargo/config.toml can point LIBTORCH at it with a relative path. Idempotent: a second run
# only checks a stamp file.
#
# Users with their own libtorch (for example a CUDA build) skip this script and export
# LIBTORCH=/path/to/libtorch before building; see README.md.
set -euo pipefail

TORCH_VERSION=2.13.0
CUDART_VERSION=13.0.96
CUPTI_VERSION=13.0.85
repo=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cache_root=${HULU_TORCH_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/hulu}
site="$cache_root/torch-$TORCH_VERSION-site"
stamp="$site/.hulu-complete"
python=${PYTHON:-python3}

if [ ! -f "$stamp" ]; then
  echo "hulu: installing torch==$TORCH_VERSION into $site (about 1.2 GB, once)" >&2
  rm -rf "$site.partial"
  mkdir -p "$cache_root"
  # --no-deps: the wheel's libtorch_cpu.so needs only libcudart and libcupti at load time, even
  # on a CPU-only machine; the full CUDA stack (4.7 GB) is not needed to run on CPU.
  "$python" -m pip install --quiet --disable-pip-version-check --no-deps --no-compile \
    --target "$site.partial" \
    "torch==$TORCH_VERSION" "nvidia-cuda-runtime==$CUDART_VERSION" "nvidia-cuda-cupti==$CUPTI_VERSION"
  touch "$site.partial/.hulu-complete"
  rm -rf "$site"
  mv "$site.partial" "$site"
fi

mkdir -p "$repo/.cache"
link="$repo/.cache/torch-site"
if [ "$(readlink "$link" 2>/dev/null)" != "$site" ]; then
  rm -rf "$link"
  ln -s "$site" "$link"
fi
