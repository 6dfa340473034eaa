"""Errors reach Python as the typed exceptions, each naming its subject."""

from __future__ import annotations

import pytest

import hulu


def test_exception_hierarchy():
    for cls in (hulu.FileError, hulu.InputError, hulu.ModelError):
        assert issubclass(cls, hulu.HuluError)
        assert issubclass(cls, Exception)


def test_missing_checkpoint_is_a_file_error(tmp_path):
    with pytest.raises(hulu.FileError, match="nowhere"):
        hulu.HuluMed.from_pretrained(tmp_path / "nowhere", device="cpu")


def test_hub_id_not_in_the_cache_is_a_file_error(tmp_path, monkeypatch):
    monkeypatch.setenv("HF_HUB_CACHE", str(tmp_path))
    with pytest.raises(hulu.FileError, match="Hugging Face cache"):
        hulu.HuluMed.from_pretrained("nobody/no-such-model")


def test_checkpoint_with_a_broken_config_is_a_model_error(tmp_path, fixtures):
    broken = tmp_path / "model"
    broken.mkdir()
    for f in (fixtures / "models" / "tiny-qwen2").iterdir():
        (broken / f.name).symlink_to(f)
    (broken / "config.json").unlink()
    (broken / "config.json").write_text('{"architectures": ["HulumedQwen2ForCausalLM"]}')
    with pytest.raises(hulu.ModelError):
        hulu.HuluMed.from_pretrained(broken, device="cpu")


@pytest.mark.parametrize(
    "kwargs, match",
    [({"device": "tpu"}, "device"), ({"dtype": "int3"}, "dtype")],
)
def test_unknown_device_or_dtype_is_an_input_error(fixtures, kwargs, match):
    with pytest.raises(hulu.InputError, match=match):
        hulu.HuluMed.from_pretrained(fixtures / "models" / "tiny-qwen2", **kwargs)


def test_missing_visual_file_is_a_file_error_naming_it(qwen2, tmp_path):
    missing = tmp_path / "absent.nii"
    with pytest.raises(hulu.FileError, match="absent.nii"):
        qwen2.generate([{"role": "user", "content": [{"type": "nifti", "path": missing}]}])


def test_corrupt_visual_file_is_a_file_error(qwen2, tmp_path):
    bad = tmp_path / "bad.png"
    bad.write_bytes(b"\x89PNG\r\n\x1a\n" + b"\0" * 20)
    with pytest.raises(hulu.FileError, match="bad.png"):
        qwen2.generate([{"role": "user", "content": [{"type": "image", "path": bad}]}])


def test_undecodable_image_bytes_are_a_file_error(qwen2):
    with pytest.raises(hulu.FileError, match="image bytes"):
        qwen2.generate([{"role": "user", "content": [{"type": "image", "image": b"nope"}]}])


@pytest.mark.parametrize(
    "options, match",
    [
        ({"slice": 3}, "slice"),
        ({"window": "no-such-preset"}, "window"),
        ({"axis": "sideways"}, "axis"),
        ({"fps": 0}, "fps"),
        ({"max_new_tokens": "many"}, "max_new_tokens"),
        ({"temperature": 1.0, "top_p": 2.0}, "top_p"),
        ({"max_new_tokens": 10_000_000}, "context"),
    ],
)
def test_bad_options_are_input_errors_naming_the_option(qwen2, fixtures, options, match):
    part = {"type": "nifti", "path": fixtures / "inputs/anatomical.nii", "slices": 2}
    with pytest.raises(hulu.InputError, match=match):
        qwen2.generate([{"role": "user", "content": [part, "What?"]}], **options)


@pytest.mark.parametrize(
    "part, match",
    [
        ({"type": "hologram", "path": "x"}, "hologram"),
        ({"type": "nifti"}, "path"),
        ({"type": "nifti", "path": "x.nii", "slice": 3}, "slice"),
        ({"type": "image", "image": [[1.5]]}, "uint8"),
    ],
)
def test_malformed_parts_are_input_errors(qwen2, part, match):
    with pytest.raises(hulu.InputError, match=match):
        qwen2.generate([{"role": "user", "content": [part]}])


def test_dicom_series_given_one_file_is_an_input_error(qwen2, fixtures):
    part = {"type": "dicom_series", "path": fixtures / "io/dicom/CT_small.dcm"}
    with pytest.raises(hulu.InputError, match="dicom_series"):
        qwen2.generate([{"role": "user", "content": [part, "What?"]}])


def test_an_error_in_the_stream_is_raised_by_the_iteration(qwen2, tmp_path):
    stream = qwen2.stream(
        [{"role": "user", "content": [{"type": "nifti", "path": tmp_path / "absent.nii"}]}]
    )
    with pytest.raises(hulu.FileError):
        list(stream)
