"""Faults: a client that disconnects mid-stream stops its generation while another request goes
on; a client that trickles its headers is cut off by the header timeout while others are
served."""
import os
import re
import socket
import time

import httpx2 as httpx

from common import MODEL, client

base = os.environ["HULU_BASE_URL"]
c = client()
messages = [{"role": "user", "content": "Tell a long story."}]


def metric(name):
    headers = {"Authorization": "Bearer " + os.environ["HULU_API_KEY"]}
    text = httpx.get(base + "/metrics", headers=headers).text
    m = re.search(rf"^{name} (\S+)$", text, re.M)
    return float(m.group(1))


# Disconnect after the first content chunk: the generation is cancelled at its next token.
cancelled_before = metric("hulu_cancelled_total")
tokens_before = metric("hulu_generated_tokens_total")
stream = c.chat.completions.create(model=MODEL, messages=messages, max_tokens=400, stream=True)
for chunk in stream:
    if chunk.choices and chunk.choices[0].delta.content:
        break
stream.close()
# Another client is served meanwhile, in full.
other = c.chat.completions.create(model=MODEL, messages=[{"role": "user", "content": "hi"}], max_tokens=3)
assert other.usage.completion_tokens == 3, other.usage
deadline = time.monotonic() + 30
while metric("hulu_cancelled_total") <= cancelled_before:
    assert time.monotonic() < deadline, "the abandoned generation was not cancelled"
    time.sleep(0.1)
generated = metric("hulu_generated_tokens_total") - tokens_before
assert generated < 400, f"the abandoned stream generated {generated} tokens"

# A slow client: half a request line, then nothing. The header timeout closes it.
host, port = base.removeprefix("http://").split(":")
slow = socket.create_connection((host, int(port)))
slow.sendall(b"POST /v1/chat/completions HTTP/1.1\r\nHost: x\r\n")
start = time.monotonic()
ok = c.chat.completions.create(model=MODEL, messages=[{"role": "user", "content": "hi"}], max_tokens=2)
assert ok.choices[0].message.content is not None
slow.settimeout(30)
data = slow.recv(4096)  # b"" (closed) or a 408 response, then closed
assert data == b"" or data.startswith(b"HTTP/1.1 408"), data
assert time.monotonic() - start < 25
print("faults ok")
