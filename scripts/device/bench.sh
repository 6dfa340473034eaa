#!/usr/bin/env bash
# Runs on the GPU machine, from the repository root, with .device/ carried (see pack.sh): the
# issue's GPU benchmark, bf16 with the real 27-layer encoder, plus the 180-slice compressed run.
# Results go to $OUT (or /tmp/hulu-device-out).
set -euo pipefail
pack=.device
out=${OUT:-/tmp/hulu-device-out}
mkdir -p "$out"
# The machine's own PyTorch 2.11 supplies libtorch and its CUDA libraries.
site=$(python3 -c 'import os, torch; print(os.path.dirname(os.path.dirname(torch.__file__)))')
libs="$site/torch/lib"
for dir in "$site"/nvidia/*/lib "$site"/nvidia/*/*/lib; do
  [ -d "$dir" ] && libs="$libs:$dir"
done
export LD_LIBRARY_PATH="$libs${LD_LIBRARY_PATH:+:$LD_LIBRARY_PATH}"
nvidia-smi --query-gpu=name,memory.total,driver_version --format=csv | tee "$out/gpu.txt"

"$pack/hulu" synth --preset bench-qwen2-27l --template "$pack/model" --out /tmp/bench-27l \
  >"$out/synth.txt"
"$pack/hulu" synth-volume --out /tmp/vol180.nii
common=(--model /tmp/bench-27l --nifti /tmp/vol180.nii --device cuda)
"$pack/hulu" bench "${common[@]}" --slices 8 --new 32 --runs 5 --dtype bf16 | tee "$out/bf16-8.txt"
"$pack/hulu" bench "${common[@]}" --slices 8 --new 32 --runs 3 --dtype f32 | tee "$out/f32-8.txt"
"$pack/hulu" bench "${common[@]}" --slices 180 --new 16 --compress --dtype bf16 \
  | tee "$out/bf16-180-compress.txt"
