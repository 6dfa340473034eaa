"""Model work releases the GIL: another Python thread keeps running while an answer is
generated (with the GIL held it would stall for a whole generation at a time)."""

from __future__ import annotations

import threading
import time


def test_other_threads_run_during_generation(qwen2, fixtures):
    messages = [{"role": "user", "content": [
        {"type": "nifti", "path": fixtures / "inputs/anatomical.nii", "slices": 8}, "Which organ?"]}]
    durations = []

    def generate_for_a_second():
        # Several generations, however fast the machine: each must leave the other thread
        # running while it computes.
        deadline = time.monotonic() + 1.0
        while time.monotonic() < deadline:
            began = time.monotonic()
            qwen2.generate(messages, max_new_tokens=120, ignore_eos=True)
            durations.append(time.monotonic() - began)

    worker = threading.Thread(target=generate_for_a_second)
    worker.start()
    ticks = []
    while worker.is_alive():
        ticks.append(time.monotonic())
        time.sleep(0.001)
    gaps = [b - a for a, b in zip(ticks, ticks[1:])]
    assert durations and len(ticks) > 10
    # A generation holding the GIL would stop this thread for all of it.
    assert max(gaps) < min(durations) / 3, (max(gaps), durations)
