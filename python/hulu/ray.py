"""hulu on Ray Data: one :class:`hulu.HuluMed` per actor, studies in, ``hulu batch``'s
answer lines out.

>>> import ray, hulu.ray
>>> ds = hulu.ray.manifest_dataset("studies.jsonl")
>>> answers = ds.map_batches(
...     hulu.ray.HuluPredictor,
...     fn_constructor_kwargs={"model": "/models/Hulu-Med-7B"},
...     batch_size=4, concurrency=8, num_gpus=1)   # one actor per GPU

Each row is a manifest line (``line``: its number, ``text``: the JSON); the predictor adds
``id`` and ``answer`` (the answer line exactly as ``hulu batch`` writes it). Ray schedules the
actors (``num_gpus`` / ``num_cpus`` per actor are the caller's) and retries the batches of an
actor that dies; :func:`write_answers` writes the lines in manifest order, so the file equals
``hulu batch --manifest studies.jsonl --out answers.jsonl`` on the same manifest.
"""

from __future__ import annotations

import json
import os
from typing import Any, Dict, Iterable, List, Optional, Set, Union

import numpy as np

from . import HuluMed

__all__ = ["HuluPredictor", "done_ids", "manifest_dataset", "manifest_rows", "write_answers"]


class HuluPredictor:
    """A callable class for ``Dataset.map_batches``: loads the model once per actor, then
    answers each batch's studies one by one (a study's failure is its answer line, never
    the batch's). ``options`` are the run's defaults (``hulu batch --options``)."""

    def __init__(
        self,
        model: Union[str, os.PathLike],
        device: str = "auto",
        dtype: str = "auto",
        **options: Any,
    ) -> None:
        self.model = HuluMed.from_pretrained(model, device=device, dtype=dtype)
        self.options = options

    def __call__(self, batch: Dict[str, np.ndarray]) -> Dict[str, np.ndarray]:
        lines = [str(t) for t in batch["text"]]
        answers = [self.model.answer_study_line(line, **self.options) for line in lines]
        ids = [json.loads(a)["id"] for a in answers]
        return {
            "line": np.asarray(batch["line"]),
            "id": np.asarray(ids, dtype=object),
            "answer": np.asarray(answers, dtype=object),
        }


def manifest_rows(
    manifest: Union[str, os.PathLike], skip_ids: Optional[Set[str]] = None
) -> List[Dict[str, Any]]:
    """The manifest's non-blank lines as rows ``{"line": N, "text": ...}``, without those
    whose id is in ``skip_ids`` (what an earlier run already answered)."""
    skip = skip_ids or set()
    rows = []
    with open(manifest, encoding="utf-8") as f:
        for number, text in enumerate(f, start=1):
            text = text.rstrip("\n")
            if not text.strip():
                continue
            if _line_id(text, number) in skip:
                continue
            rows.append({"line": number, "text": text})
    return rows


def manifest_dataset(manifest: Union[str, os.PathLike], skip_ids: Optional[Set[str]] = None):
    """A Ray dataset of the manifest's rows (see :func:`manifest_rows`)."""
    import ray.data

    return ray.data.from_items(manifest_rows(manifest, skip_ids))


def done_ids(out: Union[str, os.PathLike]) -> Set[str]:
    """Ids already answered in ``out`` (``hulu batch``'s resume rule); a partial last line,
    left by a crash, is cut off."""
    if not os.path.exists(out):
        return set()
    with open(out, "r+", encoding="utf-8") as f:
        text = f.read()
        complete = text.rfind("\n") + 1
        if complete < len(text):
            f.truncate(len(text[:complete].encode("utf-8")))
    ids = set()
    for line in text[:complete].splitlines():
        try:
            value = json.loads(line)
        except ValueError:
            continue
        if isinstance(value, dict) and isinstance(value.get("id"), str):
            ids.add(value["id"])
    return ids


def write_answers(rows: Iterable[Dict[str, Any]], out: Union[str, os.PathLike]) -> int:
    """Appends the answer lines of ``rows`` to ``out`` in manifest order; returns how many."""
    ordered = sorted(rows, key=lambda r: int(r["line"]))
    with open(out, "a", encoding="utf-8") as f:
        for row in ordered:
            f.write(str(row["answer"]) + "\n")
    return len(ordered)


def _line_id(text: str, number: int) -> str:
    try:
        value = json.loads(text)
    except ValueError:
        value = None
    if isinstance(value, dict) and isinstance(value.get("id"), str):
        return value["id"]
    return f"line {number}"
