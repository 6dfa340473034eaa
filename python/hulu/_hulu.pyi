"""Type stubs of the native module ``hulu._hulu`` (Rust, PyO3). Use the ``hulu`` package's
API; this module's calls take and return JSON strings and part tuples (see
``hulu-python/src/parts.rs``)."""

from typing import Iterator, Optional, Sequence, Tuple

class HuluError(Exception):
    """Base class of every error hulu raises."""

class FileError(HuluError):
    """A visual file or the checkpoint could not be read."""

class InputError(HuluError):
    """The request is wrong: an unknown option or value, a content part hulu cannot use."""

class ModelError(HuluError):
    """The checkpoint or the model failed: config, weights, tokenizer, template, tensors."""

Part = tuple
Turn = Tuple[str, Sequence[Part]]

class TextStream(Iterator[str]):
    def __iter__(self) -> "TextStream": ...
    def __next__(self) -> str: ...
    def result(self) -> Optional[str]:
        """The answer's JSON once the pieces are exhausted."""

class Model:
    @staticmethod
    def load(path: str, device: str, dtype: str) -> "Model": ...
    @property
    def device(self) -> str: ...
    @property
    def dtype(self) -> str: ...
    @property
    def path(self) -> str: ...
    def generate(self, turns: Sequence[Turn], options_json: str) -> str: ...
    def generate_batch(self, conversations: Sequence[Sequence[Turn]], options_json: str) -> list[str]: ...
    def stream(self, turns: Sequence[Turn], options_json: str) -> TextStream: ...
    def answer_study(self, line: str, options_json: str) -> str: ...
    def run_batch(self, manifest: str, out: str, options_json: str) -> Tuple[int, int, int]: ...

def inspect_json(path: str, options_json: str, model: Optional[str] = None) -> str: ...
def cuda_is_available() -> bool: ...
