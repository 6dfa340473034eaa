"""SIGTERM under load: streams in flight when the server is told to stop finish in full (the
Rust side sends SIGTERM after this script prints `started`)."""
import sys
import threading

from common import MODEL, client

c = client()
N = 4
started = threading.Barrier(N + 1)
finishes = [None] * N


def run(i):
    stream = c.chat.completions.create(
        model=MODEL, messages=[{"role": "user", "content": f"Story {i}."}], max_tokens=48, stream=True,
        extra_body={"hulu": {"repetition_penalty": 1.0}},
    )
    first = True
    for chunk in stream:
        if first:
            started.wait()
            first = False
        for choice in chunk.choices:
            if choice.finish_reason:
                finishes[i] = choice.finish_reason


threads = [threading.Thread(target=run, args=(i,)) for i in range(N)]
for t in threads:
    t.start()
started.wait()
print("started")
sys.stdout.flush()
for t in threads:
    t.join(timeout=300)
assert all(f is not None for f in finishes), finishes
print("drained", finishes)
