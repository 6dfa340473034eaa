"""Hulu-Med, the medical vision-language model, on libtorch: Python bindings of hulu.

>>> import hulu
>>> model = hulu.HuluMed.from_pretrained("tests/fixtures/models/tiny-qwen2")
>>> answer = model.generate([{"role": "user", "content": [
...     {"type": "dicom_series", "path": "study/CT_chest", "slices": 32, "window": "lung"},
...     {"type": "text", "text": "Describe the findings."}]}])
>>> answer.text, answer.tokens.visual_before, answer.tokens.visual_after

A conversation is a list of messages ``{"role": ..., "content": ...}`` whose content is a
string or a list of parts:

* ``{"type": "text", "text": ...}``
* ``{"type": "image", "path": ...}``, or ``{"type": "image", "image": ...}`` with the
  picture file's ``bytes``, a numpy ``uint8`` array (``H×W`` grey or ``H×W×3`` RGB) or a
  PIL image
* ``{"type": "dicom", "path": FILE}``, ``{"type": "dicom_series", "path": FOLDER|ZIP|DICOMDIR}``
* ``{"type": "nifti", "path": ...}``, ``{"type": "volume", "path": NRRD|MHA}``
* ``{"type": "video", "path": MP4}``, or ``{"type": "video", "frames": ARRAY[T,H,W,3],
  "timestamps": [...]}``; ``{"type": "volume", "frames": ARRAY}`` for slices in memory
* ``{"type": "auto", "path": ...}``: the kind told by the file's content

File parts take their own reading options (``slices``, ``axis``, ``window``, ``fps``,
``max_frames``, ``series``, ``volume``, ``allow_mixed_orientation``) over the call's. The
call's keyword options are those reading defaults plus ``compression``,
``compression_threshold``, ``merge_size``, ``max_visual_tokens``, ``max_new_tokens``,
``temperature``, ``top_k``, ``top_p``, ``min_p``, ``repetition_penalty``, ``seed``, ``stop``,
``ignore_eos`` and ``strip_think`` (greedy unless ``temperature`` is given).

Model work runs with the GIL released. Every error is a :class:`HuluError`:
:class:`FileError` (a file could not be read), :class:`InputError` (a wrong request) or
:class:`ModelError` (the checkpoint or model failed).
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Iterable, Iterator, Mapping, Optional, Sequence, Union

from . import _hulu
from ._hulu import FileError, HuluError, InputError, ModelError

__all__ = [
    "Answer",
    "BatchSummary",
    "FileError",
    "HuluError",
    "HuluMed",
    "InputError",
    "ModelError",
    "Stream",
    "Timings",
    "TokenCounts",
    "inspect",
]

Messages = Union[str, Sequence[Mapping[str, Any]]]

# Content types named by a path, read by hulu's loaders (the `hulu batch` manifest schema).
_FILE_TYPES = {"image", "dicom", "dicom_series", "nifti", "volume", "video", "auto"}


@dataclass(frozen=True)
class TokenCounts:
    """Prompt tokens: text, and visual before and after compression."""

    text: int
    visual_before: int
    visual_after: int

    @property
    def total(self) -> int:
        """Tokens the decoder read: text plus the visual tokens kept."""
        return self.text + self.visual_after


@dataclass(frozen=True)
class Timings:
    """Seconds spent in each stage of one answer."""

    prepare: float
    prefill: float
    decode: float

    @property
    def time_to_first_token(self) -> float:
        """Prepare plus prefill: the wait for the first token."""
        return self.prepare + self.prefill


@dataclass(frozen=True)
class Answer:
    """One answer: its text, why it ended, its token ids, token counts and timings."""

    text: str
    finish_reason: str
    """``eos``, ``stop_string``, ``max_tokens`` or ``cancelled``."""
    ids: tuple
    tokens: TokenCounts
    timings: Timings

    @classmethod
    def _from_json(cls, text: str) -> "Answer":
        d = json.loads(text)
        return cls(
            text=d["text"],
            finish_reason=d["finish_reason"],
            ids=tuple(d["ids"]),
            tokens=TokenCounts(**d["tokens"]),
            timings=Timings(**d["timings"]),
        )


@dataclass(frozen=True)
class BatchSummary:
    """What a :meth:`HuluMed.batch` run did."""

    answered: int
    failed: int
    skipped: int


class Stream:
    """The text of an answer as it is generated: iterate for the pieces (they concatenate to
    the answer's text); :attr:`answer` holds the whole :class:`Answer` once the iteration
    has ended. Stopping early (``break``, or dropping the stream) cancels the generation."""

    def __init__(self, native: Any) -> None:
        self._native = native
        self._answer: Optional[Answer] = None

    def __iter__(self) -> "Stream":
        return self

    def __next__(self) -> str:
        try:
            return next(self._native)
        except StopIteration:
            result = self._native.result()
            if result is not None and self._answer is None:
                self._answer = Answer._from_json(result)
            raise

    @property
    def answer(self) -> Optional[Answer]:
        """The finished answer; ``None`` until the pieces are exhausted."""
        return self._answer


class HuluMed:
    """A loaded Hulu-Med checkpoint; see the module documentation for conversations."""

    def __init__(self, native: Any) -> None:
        self._native = native

    @classmethod
    def from_pretrained(
        cls,
        path_or_hub_id: Union[str, os.PathLike],
        device: str = "auto",
        dtype: str = "auto",
    ) -> "HuluMed":
        """Loads a checkpoint directory (Hugging Face layout), or a Hub id such as
        ``ZJU-AI4H/Hulu-Med-7B`` already in the Hugging Face cache.

        ``device``: ``auto`` (CUDA when available), ``cpu``, ``cuda`` or ``cuda:N``.
        ``dtype``: ``auto`` (bfloat16 on CUDA, float32 on CPU), ``float32``, ``bfloat16``
        or ``float16``.

        Raises :class:`FileError` when the checkpoint cannot be read, :class:`ModelError`
        when it is not a valid Hulu-Med checkpoint, :class:`InputError` for an unknown
        device or dtype.
        """
        path = _resolve_checkpoint(path_or_hub_id)
        return cls(_hulu.Model.load(path, device, dtype))

    @property
    def device(self) -> str:
        """The device the weights are on."""
        return self._native.device

    @property
    def dtype(self) -> str:
        """The dtype of the weights."""
        return self._native.dtype

    @property
    def path(self) -> Path:
        """The checkpoint directory."""
        return Path(self._native.path)

    def generate(self, messages: Messages, **options: Any) -> Answer:
        """Answers the conversation (which should end with a user message)."""
        return Answer._from_json(self._native.generate(_turns(messages), _options(options)))

    def stream(self, messages: Messages, **options: Any) -> Stream:
        """Answers the conversation, yielding text pieces as they are generated."""
        return Stream(self._native.stream(_turns(messages), _options(options)))

    def generate_batch(self, conversations: Iterable[Messages], **options: Any) -> list:
        """Answers several conversations as one batch; each answer equals what
        :meth:`generate` gives for that conversation alone (greedy; a sampled row ``i``
        uses ``seed + i``)."""
        turns = [_turns(m) for m in conversations]
        return [Answer._from_json(a) for a in self._native.generate_batch(turns, _options(options))]

    def answer_study(self, study: Union[str, Mapping[str, Any]], **options: Any) -> dict:
        """Answers one study of the ``hulu batch`` manifest schema (a dict or its JSON
        line); returns the answer line as a dict. Never raises for the study's own failure:
        the line then holds ``{"id": ..., "error": {"class": ..., "message": ...}}``."""
        line = study if isinstance(study, str) else json.dumps(study)
        return json.loads(self.answer_study_line(line, **options))

    def answer_study_line(self, line: str, **options: Any) -> str:
        """:meth:`answer_study` on a manifest line, returning the answer line exactly as
        ``hulu batch`` writes it."""
        return self._native.answer_study(line, _options(options))

    def batch(
        self,
        manifest: Union[str, os.PathLike],
        out: Union[str, os.PathLike],
        **options: Any,
    ) -> BatchSummary:
        """``hulu batch --manifest MANIFEST --out OUT``: answers every study, appending a
        line per study to ``out``; studies already there are skipped (resumable)."""
        answered, failed, skipped = self._native.run_batch(
            os.fspath(manifest), os.fspath(out), _options(options)
        )
        return BatchSummary(answered, failed, skipped)

    def __repr__(self) -> str:
        return f"HuluMed({str(self.path)!r}, device={self.device!r}, dtype={self.dtype!r})"


def inspect(
    path: Union[str, os.PathLike],
    *,
    model: Union[str, os.PathLike, None] = None,
    **options: Any,
) -> dict:
    """What ``hulu inspect --json`` prints for one file: its frames, header facts, patch
    grid and tokens before and after compression. ``model`` is a checkpoint directory whose
    ``preprocessor_config.json`` sizes the frames; ``options`` are reading options and
    ``compression_threshold``."""
    native = _hulu.inspect_json(
        os.fspath(path), _options(options), None if model is None else os.fspath(model)
    )
    return json.loads(native)


def _options(options: Mapping[str, Any]) -> str:
    try:
        return json.dumps(dict(options))
    except TypeError as e:
        raise InputError(f"options: {e}") from None


def _resolve_checkpoint(path_or_hub_id: Union[str, os.PathLike]) -> str:
    path = os.fspath(path_or_hub_id)
    if os.path.isdir(path) or os.path.exists(path):
        return path
    parts = path.split("/")
    if len(parts) == 2 and all(parts):
        hub = os.environ.get("HF_HUB_CACHE") or os.path.join(
            os.environ.get("HF_HOME", os.path.join(Path.home(), ".cache", "huggingface")), "hub"
        )
        repo = os.path.join(hub, "models--" + "--".join(parts))
        ref = os.path.join(repo, "refs", "main")
        if os.path.isfile(ref):
            with open(ref, encoding="utf-8") as f:
                snapshot = os.path.join(repo, "snapshots", f.read().strip())
            if os.path.isdir(snapshot):
                return snapshot
        raise FileError(
            f"{path}: not a directory, and not in the Hugging Face cache ({repo}); download "
            f"it first, e.g. `huggingface-cli download {path}`"
        )
    # A missing directory: the loader names it in its error.
    return path


def _turns(messages: Messages) -> list:
    if isinstance(messages, str):
        messages = [{"role": "user", "content": messages}]
    if isinstance(messages, Mapping):
        raise InputError("messages: a list of {'role': ..., 'content': ...} dicts, not one dict")
    turns = []
    for t, message in enumerate(messages):
        if not isinstance(message, Mapping) or "content" not in message:
            raise InputError(f"messages[{t}]: a dict with 'role' and 'content'")
        role = message.get("role", "user")
        content = message["content"]
        if isinstance(content, str):
            parts = [("text", content)]
        else:
            parts = [_part(p, f"messages[{t}].content[{i}]") for i, p in enumerate(content)]
        turns.append((role, parts))
    return turns


def _part(part: Any, where: str) -> tuple:
    if isinstance(part, str):
        return ("text", part)
    if not isinstance(part, Mapping) or "type" not in part:
        raise InputError(f"{where}: a dict with a 'type'")
    kind = part["type"]
    if kind == "text":
        return ("text", str(part.get("text", "")))
    if kind not in _FILE_TYPES:
        raise InputError(
            f"{where}.type: unknown type {kind!r} (text, {', '.join(sorted(_FILE_TYPES))})"
        )
    if "path" in part:
        spec = {k: v for k, v in part.items()}
        spec["path"] = os.fspath(spec["path"])
        try:
            return ("input", json.dumps(spec))
        except TypeError as e:
            raise InputError(f"{where}: {e}") from None
    if kind == "image" and "image" in part:
        return _image_part(part["image"], where)
    if kind in ("video", "volume") and "frames" in part:
        return _frames_part(kind, part["frames"], part.get("timestamps"), where)
    raise InputError(
        f"{where}: a {kind!r} part needs a 'path'"
        + (" or an 'image' (bytes, numpy array, PIL image)" if kind == "image" else "")
        + (" or 'frames' (a numpy array)" if kind in ("video", "volume") else "")
    )


def _image_part(image: Any, where: str) -> tuple:
    if isinstance(image, (bytes, bytearray, memoryview)):
        return ("encoded", bytes(image))
    if hasattr(image, "mode") and hasattr(image, "convert"):  # a PIL image
        import numpy as np

        image = np.asarray(image.convert("RGB"))
    array = _rgb_array(image, 3, where)
    h, w, _ = array.shape
    return ("frames", "image", array.tobytes(), 1, h, w, None)


def _frames_part(kind: str, frames: Any, timestamps: Any, where: str) -> tuple:
    array = _rgb_array(frames, 4, where)
    t, h, w, _ = array.shape
    ts = None if timestamps is None else [float(x) for x in timestamps]
    return ("frames", kind, array.tobytes(), t, h, w, ts)


def _rgb_array(value: Any, rank: int, where: str) -> Any:
    """A C-contiguous uint8 array of `rank` dimensions, the last 3 (RGB); a grey array of one
    dimension less gains the channel axis."""
    import numpy as np

    array = np.asarray(value)
    if array.dtype != np.uint8:
        raise InputError(f"{where}: pixels must be uint8, not {array.dtype}")
    if array.ndim == rank - 1:
        array = np.repeat(array[..., None], 3, axis=-1)
    if array.ndim != rank or array.shape[-1] != 3 or 0 in array.shape:
        shape = "H×W×3 (or H×W)" if rank == 3 else "T×H×W×3 (or T×H×W)"
        raise InputError(f"{where}: an array of shape {shape}, not {array.shape}")
    return np.ascontiguousarray(array)
