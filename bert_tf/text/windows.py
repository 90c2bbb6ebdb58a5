"""Windows over token streams longer than one model input, and the max-context rule
that picks, for each token, the one window whose prediction counts.

A window holds `max_seq_length - 2` pieces (room for `[CLS]` and `[SEP]`). Windows start
every `doc_stride` pieces (a step, as Google's `run_squad.py` advances its document
spans) until the stream is covered, so neighbouring windows overlap. A token in several
windows takes its prediction from the one where it has the most context, by the rule of
Google's `run_squad.py` (`_check_is_max_context`): for position p of a window
[start, end),

    score = min(p - start, end - 1 - p) + 0.01 * (end - start)

and the highest score wins, the earliest window on a tie. The same rules exist here in
Python (for data conversion) and as TensorFlow ops (for SavedModels that window in
the graph); the tests check that both agree.
"""

from typing import Sequence

import tensorflow as tf

from bert_tf.errors import InvalidArgumentError


def resolve_doc_stride(doc_stride: int | None, max_seq_length: int) -> int:
    """The one `doc_stride` rule: None means half a window; otherwise it must lie in
    [1, max_seq_length - 2], the pieces of one window.

    Raises:
      InvalidArgumentError: naming `doc_stride` and its bounds.
    """
    size = max_seq_length - 2
    if doc_stride is None:
        return max(1, size // 2)
    if not 1 <= doc_stride <= size:
        raise InvalidArgumentError("doc_stride", doc_stride,
                                   f"must be between 1 and max_seq_length - 2 = {size}.")
    return doc_stride


def window_spans(target_start: int, target_end: int, stream_length: int, size: int,
                 doc_stride: int) -> list[tuple[int, int]]:
    """The windows [start, end) of a piece stream that cover its target pieces.

    Windows of `size` pieces start at `target_start`, `target_start + doc_stride`, ...
    until one reaches `target_end`; each is then widened with pieces of the stream
    around it, balanced left and right, to `size` pieces (or the whole stream, if it
    is shorter), which fills the last window and adds document context.

    Args:
      target_start, target_end: the pieces that must be covered (a sentence's).
      stream_length: the number of pieces available as context (the sentence's own,
        or its document's).
      size: the most pieces in a window (max_seq_length - 2).
      doc_stride: how far apart windows start, in [1, size].
    """
    spans = []
    start = target_start
    while start < target_end:
        end = min(start + size, target_end)
        extra = size - (end - start)
        window_start = max(0, min(start - extra // 2, stream_length - size))
        spans.append((window_start, min(stream_length, window_start + size)))
        if end == target_end:
            break
        start += doc_stride
    return spans


def max_context_score(span: tuple[int, int], position: int) -> float:
    """SQuAD's "max context" score of `position` in the window `span` [start, end):
    the context on its shorter side, plus 0.01 per piece of the window."""
    start, end = span
    return min(position - start, end - 1 - position) + 0.01 * (end - start)


def best_window(spans: Sequence[tuple[int, int]], position: int) -> int:
    """The index of the window in `spans` holding `position` with the highest
    `max_context_score` (the first one on a tie)."""
    best, best_score = -1, float("-inf")
    for index, span in enumerate(spans):
        if span[0] <= position < span[1]:
            score = max_context_score(span, position)
            if score > best_score:
                best, best_score = index, score
    if best < 0:
        raise ValueError(f"no window holds position {position}")
    return best


def window_starts(lengths: tf.Tensor, size: int | tf.Tensor,
                  stride: int | tf.Tensor) -> tf.RaggedTensor:
    """Where the windows over each example's pieces start, as
    `window_spans` places them for a sentence without
    document context: every `stride` pieces, the last one moved back to end at the
    example's end, so that all windows of an example hold `min(length, size)` pieces.
    An empty example has one (empty) window.

    Args:
      lengths: int64 [batch], the number of pieces of each example.
      size: the most pieces in a window (max_seq_length - 2), for all examples or
        int64 [batch], one per example.
      stride: how many pieces apart windows start, in [1, size], likewise.

    Returns:
      int64 RaggedTensor [batch, (windows)] of start offsets, ascending.
    """
    lengths = tf.cast(lengths, tf.int64)
    size = tf.broadcast_to(tf.cast(size, tf.int64), tf.shape(lengths))
    stride = tf.broadcast_to(tf.cast(stride, tf.int64), tf.shape(lengths))
    count = 1 + tf.maximum(tf.constant(0, tf.int64), (lengths - size + stride - 1) // stride)
    index = tf.ragged.range(count)
    latest = tf.maximum(lengths - size, 0)[:, tf.newaxis]
    return tf.minimum(index * stride[:, tf.newaxis], latest)


def best_windows(positions: tf.Tensor, starts: tf.Tensor, valid: tf.Tensor,
                 window_length: tf.Tensor) -> tf.Tensor:
    """For each word, the window where its first piece has the most context, by
    `best_window` (SQuAD's max-context rule, the earliest
    window on a tie).

    Args:
      positions: int64 [words], the word's first piece in its example.
      starts: int64 [words, K], the starts of the windows of the word's example.
      valid: bool [words, K], which of the K are windows of that example.
      window_length: int64 [words], the length of those windows (the same for all
        windows of an example, so the rule's length term plays no part).

    Returns:
      int64 [words], the index in [0, K) of the best window.
    """
    num_windows = tf.cast(tf.shape(starts)[1], tf.int64)
    positions = positions[:, tf.newaxis]
    ends = starts + window_length[:, tf.newaxis]
    holds = valid & (starts <= positions) & (positions < ends)
    score = tf.minimum(positions - starts, ends - 1 - positions)
    # Unique keys, higher for earlier windows on a tie: argmax has a single answer.
    later = tf.range(num_windows, dtype=tf.int64)[tf.newaxis]
    key = tf.where(holds, score * num_windows + (num_windows - 1 - later), -1)
    return tf.argmax(key, axis=1)
