"""Medical parts through the official client: an uploaded NIfTI and a zipped DICOM series by file
id, a --media-root path, reading options in the parts and request options in extra_body, and
paths that leave the media root refused."""
import io
import os
import zipfile

import openai

from common import FIXTURES, MODEL, client, expect_error, report

c = client()
question = os.environ["HULU_QUESTION"]
root = os.environ["HULU_MEDIA_ROOT"]
outside = os.environ["HULU_OUTSIDE"]


def ask(part_type, part, **extra):
    return c.chat.completions.create(
        model=MODEL,
        messages=[{"role": "user", "content": [{"type": part_type, part_type: part}, {"type": "text", "text": question}]}],
        max_tokens=8,
        extra_body={"hulu": {"compression": False, **extra}},
    )


nifti = c.files.create(file=open(f"{FIXTURES}/inputs/anatomical.nii", "rb"), purpose="user_data")
assert nifti.id.startswith("file-") and nifti.bytes == os.path.getsize(f"{FIXTURES}/inputs/anatomical.nii")
assert c.files.retrieve(nifti.id).filename == "anatomical.nii"
by_upload = ask("nifti", {"file_id": nifti.id, "slices": 4})
by_path = ask("nifti", {"path": "volumes/anatomical.nii", "slices": 4})
assert by_upload.choices[0].message.content == by_path.choices[0].message.content
volume_usage = by_upload.usage.model_extra
assert volume_usage["visual_tokens_before_compression"] > 0

# A follow-up question about the same study reuses its encoding.
again = ask("nifti", {"file_id": nifti.id, "slices": 4})
assert again.usage.model_extra["encoder_cache_hit"] is True, again.usage
assert again.choices[0].message.content == by_upload.choices[0].message.content
# ... and the decoder's keys and values of the same prompt: all but its last token.
assert by_upload.usage.prompt_tokens_details.cached_tokens == 0, by_upload.usage
assert again.usage.prompt_tokens_details.cached_tokens == again.usage.prompt_tokens - 1, again.usage

# A real follow-up (the answer, then a new question) prefills only what is new.
follow = c.chat.completions.create(
    model=MODEL,
    messages=[
        {"role": "user", "content": [{"type": "nifti", "nifti": {"file_id": nifti.id, "slices": 4}}, {"type": "text", "text": question}]},
        {"role": "assistant", "content": by_upload.choices[0].message.content},
        {"role": "user", "content": "And its size?"},
    ],
    max_tokens=8,
    extra_body={"hulu": {"compression": False}},
)
cached = follow.usage.prompt_tokens_details.cached_tokens
assert by_upload.usage.prompt_tokens <= cached < follow.usage.prompt_tokens, follow.usage
assert follow.usage.model_extra["encoder_cache_hit"] is True, follow.usage

# Compression on through extra_body: no more tokens than without.
compressed = ask("nifti", {"file_id": nifti.id, "slices": 4}, compression=True, compression_threshold=0.5)
assert compressed.usage.model_extra["visual_tokens_after_compression"] <= volume_usage["visual_tokens_after_compression"]

series_dir = f"{FIXTURES}/io/dicom/series_ct5n"
buffer = io.BytesIO()
with zipfile.ZipFile(buffer, "w") as z:
    for name in sorted(os.listdir(series_dir)):
        z.write(os.path.join(series_dir, name), f"study/{name}")
series = c.files.create(file=("study.zip", buffer.getvalue(), "application/zip"), purpose="user_data")
by_series = ask("dicom_series", {"file_id": series.id, "window": "lung"})

# A part of the wrong kind, a corrupt upload, an unknown id.
expect_error(openai.UnprocessableEntityError, lambda: ask("nifti", {"file_id": series.id}))
expect_error(
    openai.UnprocessableEntityError,
    lambda: c.files.create(file=("broken.nii", b"not a medical file at all. " * 20, "application/octet-stream"), purpose="user_data"),
)
expect_error(openai.NotFoundError, lambda: ask("nifti", {"file_id": "file-000000000000000000000000"}))
c.files.delete(nifti.id)
expect_error(openai.NotFoundError, lambda: ask("nifti", {"file_id": nifti.id}))

# Nothing outside the media root is reachable.
for path in ["../outside/anatomical.nii", "volumes/../../outside/anatomical.nii", f"{outside}/anatomical.nii",
             "escape.nii", "escape_dir/anatomical.nii", "/etc/passwd"]:
    err = expect_error(openai.PermissionDeniedError, lambda: ask("nifti", {"path": path}))
    assert "refused" in err.message, err.message

report({
    "nifti": by_path.choices[0].message.content,
    "series": by_series.choices[0].message.content,
})
