"""Classification examples to model features, as Google's `convert_single_example`."""

from typing import Sequence

import numpy as np

from bert_tf.errors import UserInputError
from bert_tf.tasks.classification.examples import InputExample
from bert_tf.text import packing


def convert_examples_to_features(examples: Sequence[InputExample],
                                 label_list: Sequence[str] | None, max_seq_length: int,
                                 tokenizer, is_regression: bool = False,
                                 ) -> tuple[dict[str, np.ndarray], int]:
    """Tokenizes and packs examples as Google's `convert_single_example`.

    Each example becomes `[CLS] A [SEP]` or `[CLS] A [SEP] B [SEP]`, the pair truncated
    from the end of the longer text (`packing.truncate_seq_pair`), a single text cut
    at `max_seq_length - 2` tokens; an empty `text_b` makes a single-text input, as in
    Google's code.

    Args:
      examples: the examples; one without a label (test) gets label id 0.
      label_list: the labels (label id = position); None for regression.
      max_seq_length: the padded length (at least 3).
      tokenizer: a `FullTokenizer` (anything with `tokenize` and
        `convert_tokens_to_ids`).
      is_regression: float labels instead of label ids.

    Returns:
      `(features, num_truncated)`: features `input_ids`, `input_mask`, `segment_ids`
      int32 [N, max_seq_length] and `label_ids` [N] (int32, or float32 for
      regression); `num_truncated` counts the examples that lost tokens.

    Raises:
      UserInputError: if an example's label is not in `label_list` (or, for
        regression, not a number).
      InvalidArgumentError: if `max_seq_length` is below 3.
    """
    packing.check_max_seq_length(max_seq_length)
    count = len(examples)
    input_ids = np.zeros((count, max_seq_length), np.int32)
    input_mask = np.zeros((count, max_seq_length), np.int32)
    segment_ids = np.zeros((count, max_seq_length), np.int32)
    label_ids = np.zeros((count,), np.float32 if is_regression else np.int32)
    label_map = {label: index for index, label in enumerate(label_list or ())}
    num_truncated = 0
    for row, example in enumerate(examples):
        tokens_a = tokenizer.tokenize(example.text_a)
        tokens_b = tokenizer.tokenize(example.text_b) if example.text_b else None
        tokens_b = tokens_b or None  # Google: a text B without tokens makes a single text.
        room = max_seq_length - (2 if tokens_b is None else 3)
        if len(tokens_a) + len(tokens_b or ()) > room:
            num_truncated += 1
        packed = packing.pack(tokens_a, tokens_b, max_seq_length,
                               tokenizer.convert_tokens_to_ids)
        input_ids[row] = packed.input_ids
        input_mask[row] = packed.input_mask
        segment_ids[row] = packed.segment_ids
        if example.label is not None:
            label_ids[row] = _label_id(example, label_map, is_regression)
    return ({"input_ids": input_ids, "input_mask": input_mask, "segment_ids": segment_ids,
             "label_ids": label_ids}, num_truncated)


def _label_id(example: InputExample, label_map: dict[str, int],
              is_regression: bool) -> float | int:
    if is_regression:
        try:
            return float(example.label)
        except ValueError:
            raise UserInputError(f"Example {example.guid}: the label {example.label!r} is "
                                 "not a number, as a regression task needs.") from None
    if example.label not in label_map:
        raise UserInputError(f"Example {example.guid}: label {example.label!r} is not in "
                             f"the label list {list(label_map)}.")
    return label_map[example.label]
