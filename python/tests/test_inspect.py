"""`hulu.inspect` reports what `hulu inspect --json` prints, for each kind of file."""

from __future__ import annotations

import json
import subprocess

import pytest

import hulu

FILES = [
    ("inputs/anatomical.nii", {"slices": 8}),
    ("inputs/ct_small.png", {}),
    ("io/dicom/series_ct5n", {"window": "lung"}),
    ("io/dicom/CT_small.dcm", {}),
]


def cli_flags(options):
    flags = []
    for key, value in options.items():
        flags += [f"--{key.replace('_', '-')}", str(value)]
    return flags


@pytest.mark.parametrize("name, options", FILES, ids=[f for f, _ in FILES])
def test_inspect_equals_the_cli_json(fixtures, hulu_bin, name, options):
    path = fixtures / name
    model = fixtures / "models" / "tiny-qwen2"
    cli = subprocess.run(
        [str(hulu_bin), "inspect", "--json", "--model", str(model), *cli_flags(options), str(path)],
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert cli.returncode == 0, cli.stderr
    (expected,) = json.loads(cli.stdout)
    assert hulu.inspect(path, model=model, **options) == expected


def test_inspect_of_a_missing_file_is_a_file_error(tmp_path):
    with pytest.raises(hulu.FileError, match="absent"):
        hulu.inspect(tmp_path / "absent.nii")
