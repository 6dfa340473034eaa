"""Load: 32 concurrent clients x 8 requests mixing text, image and volume questions, streaming
and not. Every request must succeed with the answer its input gets alone, or get 429 with
Retry-After; none may hang, be lost or be answered twice. Prints p50/p99 latency and
throughput."""
import os
import threading
import time
from concurrent.futures import ThreadPoolExecutor

import openai

from common import FIXTURES, MODEL, client, image_url, report

CLIENTS, REQUESTS = int(os.environ.get("HULU_LOAD_CLIENTS", 32)), int(os.environ.get("HULU_LOAD_REQUESTS", 8))
c = client(timeout=300)
image = image_url(f"{FIXTURES}/inputs/ct_small.png")
kinds = {
    "text": [{"type": "text", "text": "Name one organ."}],
    "image": [{"type": "image_url", "image_url": {"url": image}}, {"type": "text", "text": "What is shown?"}],
    "volume": [{"type": "nifti", "nifti": {"path": "volumes/anatomical.nii", "slices": 2}}, {"type": "text", "text": "Any lesion?"}],
}


def ask(kind, stream):
    messages = [{"role": "user", "content": kinds[kind]}]
    if not stream:
        r = c.chat.completions.create(model=MODEL, messages=messages, max_tokens=4)
        return r.choices[0].message.content, 1
    text, finishes = "", 0
    for chunk in c.chat.completions.create(model=MODEL, messages=messages, max_tokens=4, stream=True):
        for choice in chunk.choices:
            text += choice.delta.content or ""
            finishes += choice.finish_reason is not None
    return text, finishes


expected = {kind: ask(kind, False)[0] for kind in kinds}
results, lock = {}, threading.Lock()


def worker(client_index):
    for r in range(REQUESTS):
        key = (client_index, r)
        kind = list(kinds)[(client_index + r) % 3]
        stream = (client_index + r) % 2 == 0
        start = time.monotonic()
        try:
            text, finishes = ask(kind, stream)
            outcome = ("ok", text == expected[kind] and finishes == 1, text)
        except openai.RateLimitError as e:
            outcome = ("429", e.response.headers.get("retry-after") is not None, None)
        with lock:
            assert key not in results, f"request {key} answered twice"
            results[key] = (outcome, time.monotonic() - start)


start = time.monotonic()
with ThreadPoolExecutor(CLIENTS) as pool:
    for f in [pool.submit(worker, i) for i in range(CLIENTS)]:
        f.result(timeout=600)
wall = time.monotonic() - start

assert len(results) == CLIENTS * REQUESTS, f"{CLIENTS * REQUESTS - len(results)} requests lost"
bad = {k: v for k, v in results.items() if not v[0][1]}
assert not bad, f"wrong answers or 429 without Retry-After: {list(bad.items())[:5]}"
ok = sorted(t for (o, t) in results.values() if o[0] == "ok")
rejected = sum(1 for (o, _) in results.values() if o[0] == "429")
assert ok, "no request succeeded"
p50, p99 = ok[len(ok) // 2], ok[min(len(ok) - 1, int(len(ok) * 0.99))]
print(f"load: {len(ok)} ok, {rejected} 429 of {len(results)} in {wall:.1f} s "
      f"({len(ok) / wall:.1f} req/s), latency p50 {p50 * 1000:.0f} ms p99 {p99 * 1000:.0f} ms")
report({"ok": len(ok), "rejected": rejected})
