#!/usr/bin/env bash
# Builds the `hulu` Python package (the hulu-python crate, PyO3 + maturin, and python/hulu) and
# installs it into the project venv (.cache/venv, from scripts/setup-python.sh). Idempotent:
# cargo rebuilds only what changed, and the wheel is reinstalled only when it differs.
#
# The extension links the libtorch of .cache/torch-site (the PyTorch 2.13 wheel, rpath embedded
# by hulu-build); the same wheel is put on the venv's path (a .pth file), with the CUDA
# libraries its Python module needs at import, so `import torch` and `import hulu` share one
# libtorch in either order. Prints the venv's python path on stdout.
set -euo pipefail
repo=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$repo"
scripts/setup-libtorch.sh
python=$(scripts/setup-python.sh)
venv="$repo/.cache/venv"
site=$("$python" -c 'import sysconfig; print(sysconfig.get_paths()["purelib"])')

echo "$repo/.cache/torch-site" > "$site/hulu-torch-site.pth"
torch_requirements="$repo/python/requirements-torch.txt"
if ! cmp -s "$torch_requirements" "$venv/.hulu-torch-requirements"; then
  echo "hulu: installing the CUDA libraries torch's Python module loads (about 3 GB, once)" >&2
  "$python" -m pip install --quiet --disable-pip-version-check -r "$torch_requirements" >&2
  cp "$torch_requirements" "$venv/.hulu-torch-requirements"
fi

# The dev profile: the workspace's own crates at opt-level 1, dependencies at 2 (Cargo.toml),
# sharing the build the Rust tests use.
wheels="$repo/.cache/wheels"
# --auditwheel skip: the wheel links the libtorch of .cache/torch-site (the one torch loads);
# it must not bundle a private copy of it.
rm -rf "$wheels"
"$venv/bin/maturin" build --quiet --profile dev --strip \
  --interpreter "$python" --out "$wheels" \
  --auditwheel skip >&2
wheel=$(ls "$wheels"/hulu-*.whl)
stamp="$venv/.hulu-wheel"
sum=$(sha256sum "$wheel" | cut -d' ' -f1)
if [ "$(cat "$stamp" 2>/dev/null)" != "$sum" ] || ! "$python" -c 'import hulu' 2>/dev/null; then
  "$python" -m pip install --quiet --disable-pip-version-check --no-deps --force-reinstall \
    "$wheel" >&2
  echo "$sum" > "$stamp"
fi
echo "$python"
