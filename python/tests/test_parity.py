"""Parity from Python: every end-to-end fixture case (``cases/<model>/<case>.json``, found by
listing the folder under ``$HULU_FIXTURES`` or tests/fixtures) asked through the Python API
gives the reference implementation's ``greedy_ids`` exactly (greedy, EOS suppressed, as the
fixtures README says they were made), for every fixture model."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

import hulu
from conftest import fixtures_root, read_safetensors

ROOT = fixtures_root()
CASES = sorted((ROOT / "cases").glob("*/*.json"))
_MODELS: dict = {}


def model(directory: Path) -> hulu.HuluMed:
    if directory not in _MODELS:
        _MODELS[directory] = hulu.HuluMed.from_pretrained(directory, device="cpu", dtype="float32")
    return _MODELS[directory]


def window(value):
    """A case's window, ``[centre, width]`` or ``{"center", "width"}``, as hulu takes it."""
    if value is None or isinstance(value, list):
        return value
    return [value["center"], value["width"]]


def part(source: dict, visual: dict) -> dict:
    """The Python content part that asks for what a case source describes."""
    path = ROOT / source["file"]
    kind = source["kind"]
    if kind == "image":
        return {"type": "image", "path": path}
    if kind == "nifti":
        axis = source.get("axis")
        if axis is None:
            axis = source.get("axis_name", 2)
        p = {"type": "nifti", "path": path, "axis": axis, "window": window(source.get("window"))}
        if source.get("num_slices") is None:
            p["max_frames"] = 1 << 20  # all slices, whatever the frame cap
        else:
            p["slices"] = source["num_slices"]
        if source.get("volume") is not None:
            p["volume"] = source["volume"]
        return p
    if kind == "frames":
        frames = read_safetensors(path, [source.get("tensor", "frames")])
        frames = frames[source.get("tensor", "frames")]
        indices = source.get("frame_indices")
        if indices is not None:
            frames = frames[indices]
        return {"type": "video", "frames": frames, "timestamps": source.get("timestamps")}
    raise AssertionError(f"unknown source kind {kind!r}")


def messages(case: dict) -> list:
    sources = iter(case.get("sources", []))
    out = []
    for message in case["messages"]:
        content = message["content"]
        if not isinstance(content, str):
            content = [
                {"type": "text", "text": p.get("text", "")} if p["type"] == "text"
                else part(next(sources), p)
                for p in content
            ]
        out.append({"role": message["role"], "content": content})
    return out


def test_the_fixtures_have_cases_for_both_models():
    assert {p.parent.name for p in CASES} >= {"tiny-qwen2", "tiny-qwen3"}


@pytest.mark.parametrize("case_path", CASES, ids=lambda p: f"{p.parent.name}/{p.stem}")
def test_greedy_ids_equal_the_reference(case_path: Path):
    case = json.loads(case_path.read_text())
    expected = read_safetensors(case_path.with_suffix(".safetensors"), ["greedy_ids"])["greedy_ids"]
    options = {"max_new_tokens": len(expected), "ignore_eos": True}
    if case.get("use_token_compression") is not None:
        options["compression"] = case["use_token_compression"]
    if case.get("merge_size") is not None:
        options["merge_size"] = case["merge_size"]
    answer = model(ROOT / case["model"]).generate(messages(case), **options)
    assert list(answer.ids) == expected.tolist()
    if "lm_input_ids" in case.get("shapes", {}):
        assert answer.tokens.total == case["shapes"]["lm_input_ids"][0]
