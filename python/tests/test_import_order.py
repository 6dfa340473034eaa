"""`import torch` and `import hulu` in one process, in either order: both work, and the
process holds one libtorch (the extension's rpath and torch's own loader find the same
file of .cache/torch-site)."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest

SCRIPT = """
import json, os, sys
{first}
{second}
import hulu, torch
report = hulu.inspect(sys.argv[1], slices=2)
maps = open("/proc/self/maps").read().split()
libtorch = sorted({{os.path.realpath(p) for p in maps if p.endswith("/libtorch_cpu.so")}})
print(json.dumps({{
    "torch": float(torch.arange(4.0).sum()),
    "tokens": report["tokens"]["before"],
    "libtorch_cpu": libtorch,
}}))
"""


@pytest.mark.parametrize("first", ["torch", "hulu"])
def test_torch_and_hulu_import_in_either_order(fixtures, first):
    second = "hulu" if first == "torch" else "torch"
    code = SCRIPT.format(first=f"import {first}", second=f"import {second}")
    done = subprocess.run(
        [sys.executable, "-c", code, str(fixtures / "inputs" / "anatomical.nii")],
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert done.returncode == 0, done.stderr
    result = json.loads(done.stdout.strip().splitlines()[-1])
    assert len(result["libtorch_cpu"]) == 1, result
    assert result["torch"] == 6.0
    # 2 slices of 8 × 10 patches merged 2 × 2: 20 tokens each.
    assert result["tokens"] == 40
