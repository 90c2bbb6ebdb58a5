"""What a run shows on the console: this project's progress (with an ETA) and results at
INFO, and of TensorFlow only its warnings and errors. TensorFlow logs at INFO through absl too
(signature renames that list every input tensor, "Sharding callback duration",
"Writing fingerprint", "Assets written" twice), which would bury the progress lines."""

import importlib.util
import logging
import os

from absl import logging as absl_logging


class _TensorFlowInfoFilter(logging.Filter):
    """Drops records below WARNING that come from TensorFlow's Python code."""

    def __init__(self, tensorflow_dir: str):
        super().__init__()
        self._tensorflow_dir = tensorflow_dir

    def filter(self, record: logging.LogRecord) -> bool:
        return (record.levelno >= logging.WARNING
                or not record.pathname.startswith(self._tensorflow_dir))


def hide_tensorflow_info() -> None:
    """Keeps TensorFlow's INFO lines off the console (absl's handler and TensorFlow's
    own logger); its warnings and errors still show. Safe to call more than once."""
    logging.getLogger("tensorflow").setLevel(logging.WARNING)
    spec = importlib.util.find_spec("tensorflow")
    if spec is None or not spec.submodule_search_locations:
        return
    handler = absl_logging.get_absl_handler()
    if not any(isinstance(existing, _TensorFlowInfoFilter) for existing in handler.filters):
        handler.addFilter(_TensorFlowInfoFilter(
            os.path.join(list(spec.submodule_search_locations)[0], "")))


def duration(seconds: float) -> str:
    """`seconds` as `1h02m`, `1m02s` or `12s`."""
    seconds = round(seconds)
    hours, rest = divmod(seconds, 3600)
    minutes, seconds = divmod(rest, 60)
    if hours:
        return f"{hours}h{minutes:02d}m"
    return f"{minutes}m{seconds:02d}s" if minutes else f"{seconds}s"


def eta(done: float, total: float, seconds: float) -> str:
    """The time left for `total` units of work at the pace of the `done` ones that
    took `seconds` (`duration`'s format; "?" before any is done)."""
    if done <= 0:
        return "?"
    return duration(max(total - done, 0) * seconds / done)
