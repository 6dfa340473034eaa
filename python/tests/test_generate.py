"""HuluMed from Python on the tiny fixture model: every content kind, streaming, batches,
per-call options."""

from __future__ import annotations

import io

import numpy as np
import pytest
from PIL import Image

import hulu
from conftest import read_safetensors

QUESTION = "What is shown?"
SHORT = {"max_new_tokens": 6, "ignore_eos": True}


def ask(*parts):
    return [{"role": "user", "content": [*parts, {"type": "text", "text": QUESTION}]}]


def test_loads_on_cpu_in_float32_by_default(qwen2, fixtures):
    assert qwen2.device == "Cpu"
    assert qwen2.dtype == "Float"
    assert qwen2.path == fixtures / "models" / "tiny-qwen2"


def test_answer_carries_text_ids_counts_and_timings(qwen2):
    answer = qwen2.generate("Hello?", **SHORT)
    assert isinstance(answer, hulu.Answer)
    assert len(answer.ids) == 6
    assert answer.finish_reason == "max_tokens"
    assert answer.tokens.visual_before == answer.tokens.visual_after == 0
    assert answer.tokens.text > 0 and answer.tokens.total == answer.tokens.text
    assert answer.timings.prefill > 0 and answer.timings.decode > 0


# Each file kind by path: (part, visual tokens before compression). The counts follow from the
# fixtures: anatomical.nii sliced 8 times gives 8 × (8 × 10 patches merged 2 × 2) = 160 (the
# CLI test in tests/cli.rs asserts the same); series_ct5n is 5 slices.
@pytest.mark.parametrize(
    "part",
    [
        {"type": "image", "path": "inputs/ct_small.png"},
        {"type": "nifti", "path": "inputs/anatomical.nii", "slices": 8},
        {"type": "dicom_series", "path": "io/dicom/series_ct5n"},
        {"type": "dicom", "path": "io/dicom/CT_small.dcm"},
        {"type": "auto", "path": "inputs/anatomical.nii", "slices": 4},
    ],
    ids=lambda p: p["type"],
)
def test_every_file_kind_gives_visual_tokens(qwen2, fixtures, part):
    part = {**part, "path": fixtures / part["path"]}
    answer = qwen2.generate(ask(part), **SHORT)
    assert answer.tokens.visual_before > 0
    assert len(answer.ids) == 6


def test_nifti_slices_count_as_the_cli_does(qwen2, fixtures):
    part = {"type": "nifti", "path": fixtures / "inputs/anatomical.nii", "slices": 8}
    assert qwen2.generate(ask(part), **SHORT).tokens.visual_before == 160


def test_video_file(qwen2, video_file):
    answer = qwen2.generate(ask({"type": "video", "path": video_file, "fps": 2}), **SHORT)
    assert answer.tokens.visual_before > 0


def test_image_as_bytes_numpy_and_pil_equals_the_file(qwen2, fixtures):
    path = fixtures / "inputs" / "ct_small.png"
    by_path = qwen2.generate(ask({"type": "image", "path": path}), **SHORT)
    data = path.read_bytes()
    pil = Image.open(io.BytesIO(data))
    array = np.asarray(pil.convert("RGB"))
    for image in (data, array, pil):
        answer = qwen2.generate(ask({"type": "image", "image": image}), **SHORT)
        assert answer.ids == by_path.ids, type(image)
        assert answer.tokens == by_path.tokens


def test_grey_numpy_image_is_replicated_to_rgb(qwen2, fixtures):
    rgb = np.asarray(Image.open(fixtures / "inputs" / "ct_small.png").convert("RGB"))
    grey = np.ascontiguousarray(rgb[..., 0])
    assert (rgb == grey[..., None]).all(), "ct_small.png is grey"
    a = qwen2.generate(ask({"type": "image", "image": grey}), **SHORT)
    b = qwen2.generate(ask({"type": "image", "image": rgb}), **SHORT)
    assert a.ids == b.ids


def test_video_frames_as_a_numpy_array(qwen2, fixtures):
    frames = read_safetensors(fixtures / "inputs" / "us_cine.safetensors")["frames"][:4]
    part = {"type": "video", "frames": frames, "timestamps": [0.0, 0.5, 1.0, 1.5]}
    answer = qwen2.generate(ask(part), compression=False, **SHORT)
    assert answer.tokens.visual_before == answer.tokens.visual_after > 0


def test_compression_option_drops_tokens_of_repeating_slices(qwen2, fixtures):
    part = {"type": "nifti", "path": fixtures / "inputs/anatomical.nii", "slices": 8}
    off = qwen2.generate(ask(part), compression=False, **SHORT)
    on = qwen2.generate(ask(part), compression=True, **SHORT)
    assert off.tokens.visual_after == off.tokens.visual_before == 160
    assert on.tokens.visual_before == 160
    assert on.tokens.visual_after < 160


def test_part_options_win_over_call_options(qwen2, fixtures):
    part = {"type": "nifti", "path": fixtures / "inputs/anatomical.nii", "slices": 4}
    # 4 slices of 40 tokens each, though the call asks for 8.
    assert qwen2.generate(ask(part), slices=8, **SHORT).tokens.visual_before == 160 // 2


def test_window_and_axis_options_change_what_the_model_sees(qwen2, fixtures):
    part = {"type": "nifti", "path": fixtures / "inputs/anatomical.nii", "slices": 4}
    base = qwen2.generate(ask(part), **SHORT)
    # Other pixels reach the model: on random weights, other greedy ids.
    assert qwen2.generate(ask(part), axis=1, **SHORT).ids != base.ids
    assert qwen2.generate(ask(part), window=[100, 50], **SHORT).ids != base.ids
    # The same choice named two ways is the same input.
    assert qwen2.generate(ask(part), axis="2", **SHORT).ids == base.ids


def test_sampling_is_seeded(qwen2):
    a = qwen2.generate("Hello?", temperature=1.0, seed=3, **SHORT)
    b = qwen2.generate("Hello?", temperature=1.0, seed=3, **SHORT)
    greedy = qwen2.generate("Hello?", **SHORT)
    assert a.ids == b.ids
    assert a.ids != greedy.ids


def test_stream_pieces_concatenate_to_the_generated_text(qwen2, fixtures):
    messages = ask({"type": "nifti", "path": fixtures / "inputs/anatomical.nii", "slices": 4})
    options = {"max_new_tokens": 12, "ignore_eos": True}
    stream = qwen2.stream(messages, **options)
    assert stream.answer is None
    pieces = list(stream)
    whole = qwen2.generate(messages, **options)
    assert "".join(pieces) == whole.text
    assert stream.answer.ids == whole.ids
    assert stream.answer.text == whole.text


def test_stream_stopped_early_leaves_the_model_usable(qwen2):
    stream = qwen2.stream("Hello?", max_new_tokens=40, ignore_eos=True)
    next(iter(stream))
    del stream
    assert len(qwen2.generate("Hello?", **SHORT).ids) == 6


def test_batch_equals_one_by_one(qwen2, fixtures):
    conversations = [
        "Hello?",
        ask({"type": "image", "path": fixtures / "inputs/ct_small.png"}),
        ask({"type": "nifti", "path": fixtures / "inputs/anatomical.nii", "slices": 4}),
    ]
    batch = qwen2.generate_batch(conversations, **SHORT)
    alone = [qwen2.generate(c, **SHORT) for c in conversations]
    assert [a.ids for a in batch] == [a.ids for a in alone]
    assert [a.text for a in batch] == [a.text for a in alone]
    assert [a.tokens for a in batch] == [a.tokens for a in alone]
