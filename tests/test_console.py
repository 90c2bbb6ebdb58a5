"""The console shows this project's INFO lines and TensorFlow's warnings, not
TensorFlow's INFO chatter."""

import logging
import os

import tensorflow as tf
from absl import logging as absl_logging

from bert_tf import console


def _record(path: str, level: int) -> logging.LogRecord:
    return logging.LogRecord("absl", level, path, 1, "a message", None, None)


def test_tensorflow_info_is_hidden_and_the_rest_shown():
    console.hide_tensorflow_info()
    console.hide_tensorflow_info()  # Twice: one filter.
    handler = absl_logging.get_absl_handler()
    tensorflow_file = os.path.join(os.path.dirname(tf.__file__), "python", "saved_model",
                                   "builder_impl.py")
    ours = os.path.join(os.path.dirname(console.__file__), "training", "trainer.py")
    assert not handler.filter(_record(tensorflow_file, logging.INFO))
    assert handler.filter(_record(tensorflow_file, logging.WARNING))
    assert handler.filter(_record(ours, logging.INFO))
    assert logging.getLogger("tensorflow").level == logging.WARNING
    assert sum(type(f).__name__ == "_TensorFlowInfoFilter" for f in handler.filters) == 1
