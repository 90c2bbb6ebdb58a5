"""What a classifier reads of a text longer than one model input: its head, its tail,
both ends, or all of it in overlapping windows whose logits are pooled.

Of a text of n WordPieces where only `budget` fit between `[CLS]` and `[SEP]`:

    head       pieces [0, budget)                        Google's truncation, the default
    tail       pieces [n - budget, n)
    head_tail  pieces [0, h) and [n - (budget - h), n)   h = min(head_tokens, budget)
    windows    pieces [s, s + budget) for s = 0, stride, 2 stride, ...; the last window
               moved back to end at n (`bert_tf.text.windows.window_spans`)

`head` and `tail` are `head_tail` with h = budget and h = 0, and that is how both forms
below compute them. A text that fits is read whole by every strategy.

For a pair, `head` truncates as Google's `_truncate_seq_pair` (from the end of the
longer text); the other strategies keep `text_a` whole (its first
`max_seq_length - 4` pieces if it alone is longer, so that text B keeps at least one
piece) and apply to `text_b`, the long side, with what is left:
`budget = max_seq_length - 3 - len(a)`. Windows then start `doc_stride` pieces apart,
at most `budget`; without a `doc_stride`, half a window.

Each window is scored on its own; `windows` pools the logits of a text's windows by
their mean or their (per class) maximum. The rules exist in Python (for data
conversion) and as TensorFlow ops (for SavedModels that read raw text); the tests
check both against hand-made cases.
"""

import dataclasses
from typing import Sequence

import numpy as np
import tensorflow as tf

from bert_tf.errors import InvalidArgumentError
from bert_tf.text import packing, windows

HEAD, TAIL, HEAD_TAIL, WINDOWS = "head", "tail", "head_tail", "windows"
STRATEGIES = (HEAD, TAIL, HEAD_TAIL, WINDOWS)
MEAN, MAX = "mean", "max"
POOLINGS = (MEAN, MAX)
DEFAULT_HEAD_TOKENS = 128


@dataclasses.dataclass(frozen=True)
class LongInputStrategy:
    """How a text longer than one model input is read (see the module docstring).

    Attributes:
      name: one of `STRATEGIES`.
      head_tokens: `head_tail`: the pieces kept from the start; the rest of the
        budget comes from the end.
      doc_stride: `windows`: how many pieces apart windows start; None means half a
        window.
      pooling: `windows`: how the logits of a text's windows combine, one of
        `POOLINGS`.
    """

    name: str = HEAD
    head_tokens: int = DEFAULT_HEAD_TOKENS
    doc_stride: int | None = None
    pooling: str = MEAN

    def check(self, max_seq_length: int, pair: bool = False) -> None:
        """Checks the strategy against the model input's length (of pairs, if `pair`).

        Raises:
          InvalidArgumentError: naming `long_input_strategy`, `window_pooling`,
            `head_tokens` or `doc_stride`, whichever is out of its range, or
            `max_seq_length` if it leaves no room for `text_b` beside a long `text_a`.
        """
        if self.name not in STRATEGIES:
            raise InvalidArgumentError("long_input_strategy", self.name,
                                       f"must be one of {', '.join(STRATEGIES)}.")
        if self.pooling not in POOLINGS:
            raise InvalidArgumentError("window_pooling", self.pooling,
                                       f"must be one of {', '.join(POOLINGS)}.")
        budget = max_seq_length - 2
        if self.name == HEAD_TAIL and not 0 <= self.head_tokens <= budget:
            raise InvalidArgumentError("head_tokens", self.head_tokens,
                                       f"must be between 0 and max_seq_length - 2 = {budget}.")
        if self.doc_stride is not None:
            windows.resolve_doc_stride(self.doc_stride, max_seq_length)
        if pair and self.name != HEAD and max_seq_length < 5:
            raise InvalidArgumentError(
                "max_seq_length", max_seq_length,
                f"must be at least 5 for pairs read by {self.name}: [CLS], text_a's "
                "pieces, [SEP], at least one piece of text_b and [SEP].")

    @property
    def uses_windows(self) -> bool:
        """Whether a long text becomes several model inputs."""
        return self.name == WINDOWS

    def head_length(self, budget: int) -> int:
        """How many of the `budget` pieces come from the start of a text that is
        longer (the rest come from its end)."""
        return {HEAD: budget, TAIL: 0}.get(self.name, min(self.head_tokens, budget))

    def stride(self, budget: int) -> int:
        """How many pieces apart windows of `budget` pieces start."""
        return max(1, budget // 2) if self.doc_stride is None else min(self.doc_stride,
                                                                        budget)

    def select(self, tokens: Sequence[str], budget: int) -> list[list[str]]:
        """The pieces of each model input made from `tokens` with room for `budget`
        pieces: one list, or one per window."""
        tokens = list(tokens)
        length = len(tokens)
        if length <= budget:
            return [tokens]
        if self.uses_windows:
            return [tokens[start:end] for start, end in windows.window_spans(
                0, length, length, budget, self.stride(budget))]
        head = self.head_length(budget)
        return [tokens[:head] + tokens[length - (budget - head):]]

    def inputs(self, tokens_a: Sequence[str], tokens_b: Sequence[str] | None,
               max_seq_length: int) -> list[tuple[list[str], list[str] | None]]:
        """The (text A, text B) pieces of each model input made from one example, all
        fitting `max_seq_length` with their special tokens."""
        if tokens_b is None:
            return [(window, None) for window in self.select(tokens_a, max_seq_length - 2)]
        if self.name == HEAD:
            tokens_a, tokens_b = list(tokens_a), list(tokens_b)
            packing.truncate_seq_pair(tokens_a, tokens_b, max_seq_length - 3)
            return [(tokens_a, tokens_b)]
        tokens_a = list(tokens_a[:max_seq_length - 4])
        return [(tokens_a, window) for window in
                self.select(tokens_b, max_seq_length - 3 - len(tokens_a))]

    def fields(self) -> dict:
        """The strategy as the flags name it (for task files and export info)."""
        return {"long_input_strategy": self.name, "head_tokens": self.head_tokens,
                "doc_stride": self.doc_stride, "window_pooling": self.pooling}


def first_rows(example_index: np.ndarray) -> np.ndarray:
    """The first row of each example, for rows grouped by example (`example_index`
    ascending, every example with at least one row)."""
    if len(example_index) == 0:
        return np.zeros([0], np.int64)
    return np.flatnonzero(np.concatenate([[True], np.diff(example_index) != 0]))


def pool_logits(logits: np.ndarray, example_index: np.ndarray, pooling: str) -> np.ndarray:
    """The logits [examples, classes] of each example from those of its rows
    [rows, classes]: their mean or per-class maximum (`pooling`); rows grouped by
    example as for `first_rows`."""
    starts = first_rows(example_index)
    if len(starts) == len(logits):
        return logits
    if pooling == MAX:
        return np.maximum.reduceat(logits, starts, axis=0)
    counts = np.diff(np.append(starts, len(logits)))
    sums = np.add.reduceat(logits.astype(np.float64), starts, axis=0)
    return (sums / counts[:, None]).astype(logits.dtype)


# ------------------------------------------------------------------ in the graph


def graph_select(strategy: LongInputStrategy, pieces: tf.RaggedTensor,
                 budget: tf.Tensor) -> tuple[tf.RaggedTensor, tf.Tensor]:
    """`LongInputStrategy.select` on a batch: the model inputs' pieces.

    Args:
      strategy: the strategy.
      pieces: int RaggedTensor [batch, (pieces)].
      budget: int64 [batch], the room for each example's pieces.

    Returns:
      `(selected, example)`: the pieces of every model input, example after example,
      int RaggedTensor [inputs, (pieces)], and the example of each, int64 [inputs].
    """
    budget = tf.cast(budget, tf.int64)
    lengths = pieces.row_lengths()
    if not strategy.uses_windows:
        if strategy.name == HEAD:
            head = budget
        elif strategy.name == TAIL:
            head = tf.zeros_like(budget)
        else:
            head = tf.minimum(tf.constant(strategy.head_tokens, tf.int64), budget)
        position = tf.ragged.range(lengths)
        tail_start = (lengths - (budget - head))[:, tf.newaxis]
        keep = (position < head[:, tf.newaxis]) | (position >= tail_start)
        return tf.ragged.boolean_mask(pieces, keep), tf.range(pieces.nrows())
    stride = (tf.maximum(budget // 2, 1) if strategy.doc_stride is None
              else tf.minimum(tf.constant(strategy.doc_stride, tf.int64), budget))
    starts = windows.window_starts(lengths, budget, stride)
    example = starts.value_rowids()
    first = starts.flat_values + tf.gather(pieces.row_starts(), example)
    length = tf.gather(tf.minimum(lengths, budget), example)
    return tf.gather(pieces.flat_values, tf.ragged.range(first, first + length)), example


def graph_pool(logits: tf.Tensor, example: tf.Tensor, pooling: str) -> tf.Tensor:
    """`pool_logits` in the graph: float [inputs, classes] to [examples, classes] by
    the ascending example of each input, int64 [inputs]."""
    if pooling == MAX:
        return tf.math.segment_max(logits, example)
    return tf.math.segment_mean(logits, example)
