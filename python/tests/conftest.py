"""Shared fixtures of the Python binding tests: the golden fixtures root (``$HULU_FIXTURES``,
else the repository's ``tests/fixtures``, as hulu-testkit finds it), the tiny models, and a
reader for the cases' safetensors files (numpy only; the format is an 8-byte header length,
a JSON header, then the raw little-endian tensors)."""

from __future__ import annotations

import json
import os
import struct
from pathlib import Path

import numpy as np
import pytest

import hulu

REPO = Path(__file__).resolve().parents[2]

_DTYPES = {"U8": np.uint8, "I64": np.int64, "F32": np.float32, "F64": np.float64, "I32": np.int32}


def fixtures_root() -> Path:
    return Path(os.environ.get("HULU_FIXTURES", REPO / "tests" / "fixtures"))


def read_safetensors(path: Path, names=None) -> dict:
    """The named tensors (all when ``names`` is None) of a safetensors file as numpy arrays."""
    with open(path, "rb") as f:
        (length,) = struct.unpack("<Q", f.read(8))
        header = json.loads(f.read(length))
        start = 8 + length
        out = {}
        for name, info in header.items():
            if name == "__metadata__" or (names is not None and name not in names):
                continue
            begin, end = info["data_offsets"]
            f.seek(start + begin)
            data = f.read(end - begin)
            out[name] = np.frombuffer(data, dtype=_DTYPES[info["dtype"]]).reshape(info["shape"])
        return out


@pytest.fixture(scope="session")
def fixtures() -> Path:
    return fixtures_root()


@pytest.fixture(scope="session")
def qwen2(fixtures) -> hulu.HuluMed:
    return hulu.HuluMed.from_pretrained(fixtures / "models" / "tiny-qwen2", device="cpu")


@pytest.fixture(scope="session")
def hulu_bin() -> Path:
    """The `hulu` CLI of this checkout (built by the Rust tests: `cargo build --bin hulu`)."""
    path = Path(os.environ.get("HULU_BIN", REPO / "target" / "debug" / "hulu"))
    assert path.is_file(), f"{path}: build the CLI first (cargo build --bin hulu)"
    return path


@pytest.fixture(scope="session")
def video_file() -> Path:
    """An H.264 MP4 made by FFmpeg, vendored for hulu-io's video tests."""
    return REPO / "hulu-io" / "tests" / "data" / "video-ffmpeg" / "video-plain.mp4"
