"""Errors through the official client: 401, 400, 422, 413, 404, each with OpenAI's error JSON."""
import os

import httpx2 as httpx
import openai

from common import MODEL, client, expect_error

base = os.environ["HULU_BASE_URL"]
key = os.environ["HULU_API_KEY"]
c = client()
text = [{"role": "user", "content": "hello"}]

# 401 without the key or with a wrong one.
expect_error(openai.AuthenticationError, lambda: client(api_key="wrong").chat.completions.create(model=MODEL, messages=text))
r = httpx.post(base + "/v1/chat/completions", json={"model": MODEL, "messages": text})
assert r.status_code == 401 and r.json()["error"]["type"] == "authentication_error", r.text
expect_error(openai.AuthenticationError, lambda: client(api_key="wrong").models.list())
assert httpx.get(base + "/health").status_code == 200

# 404: unknown model, unknown file, unknown route.
err = expect_error(openai.NotFoundError, lambda: c.chat.completions.create(model="gpt-4o", messages=text))
assert err.body["code"] == "model_not_found", err.body
expect_error(openai.NotFoundError, lambda: c.files.retrieve("file-nope"))
expect_error(openai.NotFoundError, lambda: c.models.retrieve("gpt-4o"))

# 422: wrong types and missing fields name the field.
err = expect_error(
    openai.UnprocessableEntityError,
    lambda: c.chat.completions.create(model=MODEL, messages=text, max_tokens="many"),
)
assert err.body["param"] == "max_tokens", err.body
expect_error(
    openai.UnprocessableEntityError,
    lambda: c.chat.completions.create(model=MODEL, messages=[{"role": "user", "content": [{"type": "audio", "x": 1}]}]),
)
expect_error(
    openai.UnprocessableEntityError,
    lambda: c.chat.completions.create(
        model=MODEL, messages=[{"role": "user", "content": [{"type": "image_url", "image_url": {"url": "https://example.com/x.png"}}]}]
    ),
)

# 400: values out of range, n > 1, a path without a media root.
expect_error(openai.BadRequestError, lambda: c.chat.completions.create(model=MODEL, messages=text, n=2))
expect_error(openai.BadRequestError, lambda: c.chat.completions.create(model=MODEL, messages=text, temperature=5))
expect_error(openai.BadRequestError, lambda: c.chat.completions.create(model=MODEL, messages=text, max_tokens=10**6))
expect_error(
    openai.PermissionDeniedError,
    lambda: c.chat.completions.create(
        model=MODEL, messages=[{"role": "user", "content": [{"type": "nifti", "nifti": {"path": "a.nii"}}]}]
    ),
)

# 400 for malformed JSON (the client cannot send it, so httpx does).
headers = {"Authorization": f"Bearer {key}", "Content-Type": "application/json"}
r = httpx.post(base + "/v1/chat/completions", content=b'{"model": "x", "messages": [', headers=headers)
assert r.status_code == 400 and r.json()["error"]["code"] == "invalid_json", r.text
r = httpx.post(base + "/v1/chat/completions", content=b"\xff\xfe", headers=headers)
assert r.status_code == 400, r.text
r = httpx.post(base + "/v1/chat/completions", json={"model": MODEL, "messages": "hello"}, headers=headers)
assert r.status_code == 422 and r.json()["error"]["param"] == "messages", r.text

# 413: a body over the limit and an upload over the limit.
r = httpx.post(base + "/v1/chat/completions", content=b" " * ((2 << 20) + 4096), headers=headers)
assert r.status_code == 413, r.status_code
expect_error(
    openai.APIStatusError,
    lambda: c.files.create(file=("big.nii", b"\x00" * ((2 << 20) + 4096), "application/octet-stream"), purpose="user_data"),
    status=413,
)

# The server still answers.
ok = c.chat.completions.create(model=MODEL, messages=text, max_tokens=2)
assert ok.choices[0].message.content is not None
print("errors ok")
