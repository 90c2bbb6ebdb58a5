"""The window rules: the graph ops agree with the Python functions, which are checked
by hand in test_ner_features.py; the doc_stride rule."""

import itertools

import numpy as np
import pytest
import tensorflow as tf

from bert_tf.errors import InvalidArgumentError
from bert_tf.text import windows


def test_graph_windows_and_max_context_agree_with_python():
    cases = list(itertools.product([0, 1, 3, 4, 5, 9, 17], [1, 4, 6], [1, 2, 3, 4, 6]))
    cases = [(length, size, stride) for length, size, stride in cases if stride <= size]
    for length, size, stride in cases:
        spans = windows.window_spans(0, length, length, size, stride) or [(0, 0)]
        starts = windows.window_starts(tf.constant([length]), size, stride)
        assert starts.to_list() == [[start for start, _ in spans]], (length, size, stride)
        if length == 0:
            continue
        positions = np.arange(length)
        best = windows.best_windows(
            tf.constant(positions, tf.int64),
            tf.constant([[start for start, _ in spans]] * length, tf.int64),
            tf.ones((length, len(spans)), tf.bool),
            tf.constant([spans[0][1] - spans[0][0]] * length, tf.int64))
        expected = [windows.best_window(spans, int(p)) for p in positions]
        assert best.numpy().tolist() == expected, (length, size, stride)


def test_doc_stride_rule():
    assert windows.resolve_doc_stride(None, 10) == 4  # Half of the 8 pieces a window holds.
    assert windows.resolve_doc_stride(None, 3) == 1
    assert windows.resolve_doc_stride(8, 10) == 8
    for bad in (0, 9):
        with pytest.raises(InvalidArgumentError) as error:
            windows.resolve_doc_stride(bad, 10)
        assert str(error.value) == f"doc_stride={bad} must be between 1 and max_seq_length - 2 = 8."
        assert error.value.as_flag().startswith(f"--doc_stride={bad} ")
