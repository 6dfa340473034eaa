"""Server benchmark (not a test): aggregate decode tokens/s with 1, 4 and 16 concurrent streams,
and time to first token of a follow-up question about the same volume with and without the
encoder cache. Run against a server started by the operator, e.g.

    target/release/hulu serve --model /tmp/bench-qwen2 --dtype bf16 --media-root /tmp --max-batch 16 --port 8000
    .cache/venv/bin/python hulu-server/bench/bench.py --base http://127.0.0.1:8000 --volume vol180.nii

Restart the server with --encoder-cache 0 --prefix-cache 0 (and --streams "") to time the
follow-up without reuse (the script reports what it measured from the usage it gets back)."""
import argparse
import statistics
import threading
import time

import openai

p = argparse.ArgumentParser()
p.add_argument("--base", default="http://127.0.0.1:8000")
p.add_argument("--model", default=None)
p.add_argument("--volume", required=True, help="a NIfTI path under the server's --media-root")
p.add_argument("--slices", type=int, default=8)
p.add_argument("--new", type=int, default=32)
p.add_argument("--streams", default="1,4,16")
p.add_argument("--runs", type=int, default=3)
args = p.parse_args()
c = openai.OpenAI(base_url=args.base + "/v1", api_key="unused", max_retries=0, timeout=3600)
model = args.model or c.models.list().data[0].id


def stream_once(i, results):
    start = time.monotonic()
    first = None
    tokens = 0
    for chunk in c.chat.completions.create(
        model=model, messages=[{"role": "user", "content": f"Write about topic {i}."}],
        max_tokens=args.new, stream=True, stream_options={"include_usage": True},
        extra_body={"hulu": {"repetition_penalty": 1.0}},
    ):
        if chunk.choices and chunk.choices[0].delta.content and first is None:
            first = time.monotonic()
        if chunk.usage:
            tokens = chunk.usage.completion_tokens
    results.append((start, first, time.monotonic(), tokens))


for n in [int(s) for s in args.streams.split(",") if s]:
    rates = []
    for _ in range(args.runs):
        results = []
        threads = [threading.Thread(target=stream_once, args=(i, results)) for i in range(n)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        # Decode rate: tokens after each stream's first over the span from the last first token
        # to the last finish (all streams decoding together).
        span = max(r[2] for r in results) - max(r[1] for r in results)
        tokens = sum(r[3] - 1 for r in results)
        rates.append(tokens / span if span > 0 else float("nan"))
    print(f"{n:2d} streams: aggregate decode {statistics.median(rates):.1f} tok/s (median of {args.runs})")


def ask(history, question):
    """Streams one question after `history`; returns (time to first token, answer, usage)."""
    start = time.monotonic()
    first = None
    usage = None
    text = ""
    messages = history + [{"role": "user", "content": question}]
    for chunk in c.chat.completions.create(
        model=model, messages=messages,
        max_tokens=args.new, stream=True, stream_options={"include_usage": True},
        extra_body={"hulu": {"compression": False}},
    ):
        if chunk.choices and chunk.choices[0].delta.content:
            first = first or time.monotonic()
            text += chunk.choices[0].delta.content
        if chunk.usage:
            usage = chunk.usage
    return (first or time.monotonic()) - start, text, usage


study = [{"type": "nifti", "nifti": {"path": args.volume, "slices": args.slices}},
         {"type": "text", "text": "Describe the volume."}]
follow = []
for i in range(args.runs):
    # A fresh conversation each run (a different first question), then its follow-up.
    study[1]["text"] = f"Describe the volume ({i})."
    first_ttft, answer, _ = ask([], study)
    ttft, _, usage = ask([{"role": "user", "content": study},
                          {"role": "assistant", "content": answer}], "Which finding matters most?")
    follow.append((first_ttft, ttft, usage))
first_ttft = statistics.median(f[0] for f in follow)
ttft = statistics.median(f[1] for f in follow)
usage = follow[-1][2]
print(f"first question TTFT {first_ttft:.2f} s; follow-up TTFT {ttft:.2f} s (median of {args.runs}; "
      f"encoder cache hit: {usage.model_extra.get('encoder_cache_hit')}, "
      f"{usage.prompt_tokens_details.cached_tokens} of {usage.prompt_tokens} prompt tokens from the prefix cache); "
      f"ratio {ttft / first_ttft:.2f}")
