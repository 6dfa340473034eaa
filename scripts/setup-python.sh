#!/usr/bin/env bash
# Provisions the project's Python virtual environment at .cache/venv with the packages in
# python/requirements-test.txt (the official `openai` client for the server tests, pytest,
# maturin and Ray for the Python bindings). Idempotent: reinstalls only when the requirements
# file changed. Prints the venv's python path on stdout.
set -euo pipefail
repo=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
python=${PYTHON:-python3}
venv="$repo/.cache/venv"
requirements="$repo/python/requirements-test.txt"
stamp="$venv/.hulu-requirements"
if [ ! -x "$venv/bin/python" ]; then
  mkdir -p "$repo/.cache"
  "$python" -m venv "$venv"
fi
if ! cmp -s "$requirements" "$stamp"; then
  echo "hulu: installing the test Python packages into $venv (once)" >&2
  "$venv/bin/python" -m pip install --quiet --disable-pip-version-check -r "$requirements" >&2
  cp "$requirements" "$stamp"
fi
echo "$venv/bin/python"
