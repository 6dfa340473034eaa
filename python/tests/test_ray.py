"""hulu on Ray Data, on this machine: local Ray (2 CPUs) runs examples/ray_archive.py's
pipeline over a manifest of the fixture studies (DICOM series and file, NIfTI, images, video)
and writes exactly the lines `hulu batch` writes; an actor killed mid-run is replaced by Ray
and every study is still answered exactly once."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

ray = pytest.importorskip("ray")

import hulu.ray  # noqa: E402
from conftest import REPO  # noqa: E402

OPTIONS = {"max_new_tokens": 4, "ignore_eos": True}


def studies(fixtures: Path, video: Path) -> list:
    def study(i, kind, path, **extra):
        return {"id": f"s{i}-{kind}", "question": "What is shown?",
                "inputs": [{"type": kind, "path": str(path), **extra}]}

    return [
        study(0, "dicom_series", fixtures / "io/dicom/series_ct5n"),
        study(1, "nifti", fixtures / "inputs/anatomical.nii", slices=4),
        study(2, "image", fixtures / "inputs/ct_small.png"),
        study(3, "video", video, fps=2),
        study(4, "dicom", fixtures / "io/dicom/CT_small.dcm"),
        study(5, "image", fixtures / "inputs/us_rgb.png"),
        study(6, "nifti", fixtures / "inputs/absent.nii"),  # recorded as a FileError
        study(7, "dicom_series", fixtures / "io/dicom/series_mr700"),
    ]


@pytest.fixture(scope="module")
def local_ray():
    ray.init(num_cpus=2, include_dashboard=False, ignore_reinit_error=True,
             runtime_env={"env_vars": {"PYTHONPATH": str(Path(__file__).parent)}})
    yield
    ray.shutdown()


@pytest.fixture
def manifest(tmp_path, fixtures, video_file):
    path = tmp_path / "studies.jsonl"
    path.write_text("".join(json.dumps(s) + "\n" for s in studies(fixtures, video_file)))
    return path


def batch_answers(hulu_bin, fixtures, manifest, out):
    done = subprocess.run(
        [str(hulu_bin), "batch", "--model", str(fixtures / "models" / "tiny-qwen2"),
         "--manifest", str(manifest), "--out", str(out), "--options", json.dumps(OPTIONS)],
        capture_output=True, text=True, timeout=600,
    )
    assert done.returncode == 0, done.stderr
    return out.read_text()


def test_ray_example_writes_what_hulu_batch_writes(local_ray, fixtures, hulu_bin, manifest, tmp_path):
    expected = batch_answers(hulu_bin, fixtures, manifest, tmp_path / "batch.jsonl")
    assert len(expected.splitlines()) == 8
    sys.path.insert(0, str(REPO / "examples"))
    try:
        import ray_archive
    finally:
        sys.path.pop(0)
    out = tmp_path / "ray.jsonl"
    ray_archive.main([
        "--model", str(fixtures / "models" / "tiny-qwen2"), "--manifest", str(manifest),
        "--out", str(out), "--actors", "2", "--cpus-per-actor", "0.5", "--device", "cpu",
        "--options", json.dumps(OPTIONS),
    ])
    assert out.read_text() == expected


class KillOnce(hulu.ray.HuluPredictor):
    """The predictor, except that the first actor to reach its second batch dies there
    (SIGKILL of its own process, once per run: a marker file says it happened)."""

    def __init__(self, marker: str, **kwargs):
        super().__init__(**kwargs)
        self.marker = marker
        self.calls = 0

    def __call__(self, batch):
        self.calls += 1
        if self.calls == 2:
            try:
                fd = os.open(self.marker, os.O_CREAT | os.O_EXCL | os.O_WRONLY)
            except FileExistsError:
                pass
            else:
                os.write(fd, str(os.getpid()).encode())
                os.close(fd)
                os.kill(os.getpid(), 9)
        return super().__call__(batch)


def test_a_killed_worker_is_retried_and_every_study_answered_once(
    local_ray, fixtures, manifest, tmp_path
):
    marker = tmp_path / "killed"
    rows = hulu.ray.manifest_rows(manifest)
    answers = ray.data.from_items(rows).map_batches(
        KillOnce,
        fn_constructor_kwargs={"marker": str(marker), "model": str(fixtures / "models/tiny-qwen2"),
                               "device": "cpu", **OPTIONS},
        # As examples/ray_archive.py asks: Ray Data's own defaults restart a dead actor and
        # retry its batch.
        batch_size=1, concurrency=2, num_cpus=0.5,
    )
    out = tmp_path / "answers.jsonl"
    hulu.ray.write_answers(answers.iter_rows(), out)
    assert marker.exists(), "no worker was killed"
    ids = [json.loads(l)["id"] for l in out.read_text().splitlines()]
    assert sorted(ids) == sorted(s["id"] for s in studies(fixtures, Path("v")))
    assert len(ids) == len(set(ids))
