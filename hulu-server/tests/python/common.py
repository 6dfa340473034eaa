"""Shared set-up of the server tests: the official OpenAI client pointed at the server the Rust
test started (HULU_BASE_URL, HULU_API_KEY, HULU_MODEL_ID in the environment)."""
import base64
import json
import os
import sys

import openai


def client(**kwargs):
    return openai.OpenAI(
        base_url=os.environ["HULU_BASE_URL"] + "/v1",
        api_key=kwargs.pop("api_key", os.environ.get("HULU_API_KEY", "unused")),
        max_retries=0,
        timeout=kwargs.pop("timeout", 120),
        **kwargs,
    )


MODEL = os.environ.get("HULU_MODEL_ID", "tiny-qwen2")
FIXTURES = os.environ["HULU_FIXTURES"]


def image_url(path):
    with open(path, "rb") as f:
        return "data:image/png;base64," + base64.b64encode(f.read()).decode()


def report(value):
    """One JSON line on stdout for the Rust side to compare."""
    print(json.dumps(value))
    sys.stdout.flush()


def expect_error(cls, fn, status=None):
    """Calls fn and returns the client's error, which must be of class cls (and status)."""
    try:
        fn()
    except cls as e:
        if status is not None:
            assert e.status_code == status, (e.status_code, status, e)
        return e
    raise AssertionError(f"expected {cls.__name__}")
