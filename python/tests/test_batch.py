"""The `hulu batch` library function from Python: answers equal `generate`'s, failures are
recorded and the run goes on, and a rerun skips what is done."""

from __future__ import annotations

import json

import hulu

OPTIONS = {"max_new_tokens": 5, "ignore_eos": True}


def manifest(tmp_path, fixtures):
    studies = [
        {"id": "mr", "question": "Which organ?",
         "inputs": [{"type": "nifti", "path": str(fixtures / "inputs/anatomical.nii"), "slices": 4}]},
        {"id": "gone", "question": "Which organ?",
         "inputs": [{"type": "nifti", "path": str(tmp_path / "absent.nii")}]},
        {"id": "ct", "question": "Describe.",
         "inputs": [{"type": "image", "path": str(fixtures / "inputs/ct_small.png")}],
         "options": {"max_new_tokens": 3}},
    ]
    path = tmp_path / "studies.jsonl"
    path.write_text("".join(json.dumps(s) + "\n" for s in studies))
    return path, studies


def read_lines(path):
    return [json.loads(l) for l in path.read_text().splitlines()]


def test_batch_answers_records_failures_and_resumes(qwen2, fixtures, tmp_path):
    path, studies = manifest(tmp_path, fixtures)
    out = tmp_path / "answers.jsonl"
    summary = qwen2.batch(path, out, **OPTIONS)
    assert summary == hulu.BatchSummary(answered=2, failed=1, skipped=0)
    lines = read_lines(out)
    assert [l["id"] for l in lines] == ["mr", "gone", "ct"]
    assert lines[1]["error"]["class"] == "FileError"
    assert "absent.nii" in lines[1]["error"]["message"]
    # Each answer is what generate gives for the same question.
    mr = studies[0]
    direct = qwen2.generate(
        [{"role": "user", "content": [*mr["inputs"], {"type": "text", "text": mr["question"]}]}],
        **OPTIONS,
    )
    assert lines[0]["ids"] == list(direct.ids)
    assert lines[0]["text"] == direct.text
    assert len(lines[2]["ids"]) == 3  # the study's own option wins
    # A rerun does nothing; a crash mid-line is cut off and that study answered again.
    assert qwen2.batch(path, out, **OPTIONS) == hulu.BatchSummary(0, 0, 3)
    text = out.read_text()
    out.write_text(text[: text.rindex('{"id":"ct"') + 15])
    assert qwen2.batch(path, out, **OPTIONS) == hulu.BatchSummary(1, 0, 2)
    assert read_lines(out) == lines


def test_answer_study_equals_the_batch_line(qwen2, fixtures, tmp_path):
    path, studies = manifest(tmp_path, fixtures)
    out = tmp_path / "answers.jsonl"
    qwen2.batch(path, out, **OPTIONS)
    lines = out.read_text().splitlines()
    for study, line in zip(studies, lines):
        assert qwen2.answer_study_line(json.dumps(study), **OPTIONS) == line
        assert qwen2.answer_study(study, **OPTIONS) == json.loads(line)


def test_a_malformed_study_is_an_input_error_line(qwen2):
    answer = qwen2.answer_study({"id": "x", "question": "?", "inputs": [{"type": "nifti"}]})
    assert answer["id"] == "x"
    assert answer["error"]["class"] == "InputError"
    assert "path" in answer["error"]["message"]
