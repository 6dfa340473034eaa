"""Model work releases the GIL: another Python thread keeps running while an answer is
generated (with the GIL held it would stall for the whole generation)."""

from __future__ import annotations

import threading
import time


def test_other_threads_run_during_generation(qwen2, fixtures):
    messages = [{"role": "user", "content": [
        {"type": "nifti", "path": fixtures / "inputs/anatomical.nii", "slices": 8}, "Which organ?"]}]
    started = time.monotonic()
    worker = threading.Thread(
        target=qwen2.generate, args=(messages,), kwargs={"max_new_tokens": 120, "ignore_eos": True}
    )
    worker.start()
    ticks = []
    while worker.is_alive():
        ticks.append(time.monotonic())
        time.sleep(0.001)
    took = time.monotonic() - started
    gaps = [b - a for a, b in zip(ticks, ticks[1:])]
    assert took > 0.5, "the generation is long enough to tell"
    assert max(gaps) < took / 3, (max(gaps), took)
