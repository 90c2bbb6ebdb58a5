"""Classification examples to model features, as Google's `convert_single_example`."""

from typing import Sequence

import numpy as np

from bert_tf.errors import UserInputError
from bert_tf.tasks.classification.examples import InputExample
from bert_tf.text import packing
from bert_tf.text.long_inputs import LongInputStrategy


def convert_examples_to_features(examples: Sequence[InputExample],
                                 label_list: Sequence[str] | None, max_seq_length: int,
                                 tokenizer, is_regression: bool = False,
                                 long_inputs: LongInputStrategy = LongInputStrategy(),
                                 ) -> tuple[dict[str, np.ndarray], int]:
    """Tokenizes and packs examples as Google's `convert_single_example`.

    Each example becomes `[CLS] A [SEP]` or `[CLS] A [SEP] B [SEP]`; an empty `text_b`
    makes a single-text input, as in Google's code. What an example too long for
    `max_seq_length` keeps is up to `long_inputs` (`bert_tf.text.long_inputs`): by
    default its head, as Google's code (a pair truncated from the end of the longer
    text by `packing.truncate_seq_pair`); with `windows`, it becomes several rows.

    Args:
      examples: the examples; one without a label (test) gets label id 0.
      label_list: the labels (label id = position); None for regression.
      max_seq_length: the padded length (at least 3).
      tokenizer: a `FullTokenizer` (anything with `tokenize` and
        `convert_tokens_to_ids`).
      is_regression: float labels instead of label ids.
      long_inputs: what a long example keeps (checked by the caller).

    Returns:
      `(features, num_long)`: features `input_ids`, `input_mask`, `segment_ids`
      int32 [rows, max_seq_length], `label_ids` [rows] (int32, or float32 for
      regression; every row of an example carries its label) and `example_index`
      int32 [rows] (the example of each row, ascending; one row per example unless
      `long_inputs` makes windows); `num_long` counts the examples longer than one
      row holds.

    Raises:
      UserInputError: if an example's label is not in `label_list` (or, for
        regression, not a number).
      InvalidArgumentError: if `max_seq_length` is below 3.
    """
    packing.check_max_seq_length(max_seq_length)
    # One row per example unless windows make more; grown by doubling when they do.
    features = _empty_features(len(examples), max_seq_length, is_regression)
    label_map = {label: index for index, label in enumerate(label_list or ())}
    num_long = row = 0
    for number, example in enumerate(examples):
        tokens_a = tokenizer.tokenize(example.text_a)
        tokens_b = tokenizer.tokenize(example.text_b) if example.text_b else None
        tokens_b = tokens_b or None  # Google: a text B without tokens makes a single text.
        room = max_seq_length - (2 if tokens_b is None else 3)
        if len(tokens_a) + len(tokens_b or ()) > room:
            num_long += 1
        label_id = 0 if example.label is None else _label_id(example, label_map,
                                                              is_regression)
        for window_a, window_b in long_inputs.inputs(tokens_a, tokens_b, max_seq_length):
            if row == len(features["label_ids"]):
                features = {name: np.resize(array, (2 * row + 1, *array.shape[1:]))
                            for name, array in features.items()}
            packed = packing.pack(window_a, window_b, max_seq_length,
                                  tokenizer.convert_tokens_to_ids)
            features["input_ids"][row] = packed.input_ids
            features["input_mask"][row] = packed.input_mask
            features["segment_ids"][row] = packed.segment_ids
            features["label_ids"][row] = label_id
            features["example_index"][row] = number
            row += 1
    return {name: array[:row] for name, array in features.items()}, num_long


def _empty_features(rows: int, max_seq_length: int,
                    is_regression: bool) -> dict[str, np.ndarray]:
    return {**{name: np.zeros((rows, max_seq_length), np.int32)
               for name in ("input_ids", "input_mask", "segment_ids")},
            "label_ids": np.zeros((rows,), np.float32 if is_regression else np.int32),
            "example_index": np.zeros((rows,), np.int32)}


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
